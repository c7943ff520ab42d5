/** `tufbox import --manifest` against a real server: validated before sending, batched, resumable; `import DIR` refusals. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { importCommand } from "../../src/cli/import.ts";
import type { TestServer } from "../helpers/server.ts";
import { bootstrapped } from "../helpers/upload.ts";
import { tempDir } from "./helpers.ts";
import { serverTerm, usageError } from "./server-helpers.ts";

let s: TestServer;
beforeAll(async () => {
  s = await bootstrapped();
});
afterAll(async () => {
  await s.stop();
});

const entry = (i: number) =>
  JSON.stringify({ path: `manifest/a${i}.bin`, length: i, hashes: { sha256: i.toString(16).padStart(64, "0") } });

test("a manifest is added in batches and published; a second run skips what was acknowledged", async () => {
  const file = join(tempDir(), "m.jsonl");
  const lines = Array.from({ length: 25 }, (_, i) => entry(i + 1));
  // RSTUF's {path, info} shape is accepted too, and blank lines are ignored.
  lines.push(
    JSON.stringify({
      path: "manifest/rstuf.bin",
      info: { length: 3, hashes: { "blake2b-256": "ab".repeat(32) }, custom: { a: 1 } },
    }),
    "",
  );
  writeFileSync(file, lines.join("\n"));
  const state = join(tempDir(), "state.jsonl");
  const t = serverTerm(s.url);
  await importCommand(["--manifest", file, "--batch", "10", "--state", state, "--json"], t.term);
  expect(JSON.parse(t.out.join("\n"))).toMatchObject({
    files: 26,
    uploaded: 26,
    skipped: 0,
    tasks: 3,
    failed_tasks: [],
  });
  expect(await s.app.store.getArtifact("manifest/a25.bin")).toBeDefined();
  expect(JSON.parse((await s.app.store.getArtifact("manifest/rstuf.bin"))!.fragment).custom).toEqual({ a: 1 });

  writeFileSync(file, [...lines, entry(26)].join("\n"));
  const again = serverTerm(s.url);
  await importCommand(["--manifest", file, "--batch", "10", "--state", state, "--json"], again.term);
  // The manifest changed (size): the journal is for another file, so all is sent again (idempotent adds).
  expect(JSON.parse(again.out.join("\n"))).toMatchObject({ files: 27, uploaded: 27 });
  const third = serverTerm(s.url);
  await importCommand(["--manifest", file, "--batch", "10", "--state", state, "--json"], third.term);
  expect(JSON.parse(third.out.join("\n"))).toMatchObject({ files: 27, uploaded: 0, skipped: 27, tasks: 0 });
}, 60_000);

test("--one-publication holds every entry and publishes them together at the end", async () => {
  const file = join(tempDir(), "one.jsonl");
  writeFileSync(file, Array.from({ length: 30 }, (_, i) => entry(1000 + i)).join("\n"));
  const before = (await s.app.store.getLatestDocument("timestamp"))!.version;
  const t = serverTerm(s.url);
  await importCommand(
    ["--manifest", file, "--batch", "10", "--one-publication", "--state", join(tempDir(), "s"), "--json"],
    t.term,
  );
  expect(JSON.parse(t.out.join("\n"))).toMatchObject({ uploaded: 30, tasks: 4, failed_tasks: [] });
  expect(await s.app.store.getArtifact("manifest/a1029.bin")).toBeDefined();
  expect((await s.app.store.getLatestDocument("timestamp"))!.version).toBe(before + 1);
});

test("an invalid line stops the import before anything is sent, naming the line", async () => {
  const file = join(tempDir(), "bad.jsonl");
  writeFileSync(file, [entry(1), entry(2), '{"path": "../up", "length": 1, "hashes": {"sha256": "00"}}'].join("\n"));
  const before = await s.app.store.countArtifacts();
  await usageError(
    importCommand(["--manifest", file, "--state", join(tempDir(), "s")], serverTerm(s.url).term),
    /manifest line 3/,
  );
  expect(await s.app.store.countArtifacts()).toBe(before);
});

test("import DIR refuses symbolic links, naming the file", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "ok.txt"), "ok");
  symlinkSync("/etc/hostname", join(dir, "link"));
  await usageError(
    importCommand([dir, "--state", join(tempDir(), "s")], serverTerm(s.url).term),
    /link is a symbolic link/,
  );
});
