/**
 * `tufbox artifact add` with thousands of files: a summary (count, bins
 * touched, task), not one line per file nor one 300 KB details line; on a
 * terminal, hashing shows count, rate and ETA. The --json document still lists
 * every artifact.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifactCommand } from "../../src/cli/artifact.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { tempDir } from "./helpers.ts";
import { serverTerm } from "./server-helpers.ts";

const FILES = 3000;
let server: TestServer;
let files: string[];

beforeAll(async () => {
  server = await startTestServer();
  const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(16));
  expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  const dir = join(tempDir(), "many");
  mkdirSync(dir);
  files = Array.from({ length: FILES }, (_, i) => {
    const f = join(dir, `pkg-${String(i).padStart(5, "0")}.tar.gz`);
    writeFileSync(f, `artifact ${i}`);
    return f;
  });
});
afterAll(async () => {
  await server?.stop();
});

test(`${FILES} files: one summary line with the count, the bins touched and the task; no huge line`, async () => {
  const t = serverTerm(server.url);
  const live: (string | null)[] = [];
  await artifactCommand(["add", ...files, "--prefix", "many/"], { ...t.term, live: (text) => void live.push(text) });
  const out = t.out.join("\n");
  expect(out).toContain(`${FILES} files hashed (sha256, sha512)`);
  expect(out).toMatch(
    new RegExp(`summary: ${FILES} artifact\\(s\\) added; 16 hash bin\\(s\\) touched; task [0-9a-f]{32} SUCCESS`),
  );
  expect(out).toMatch(/^added: 3000: many\/pkg-00000\.tar\.gz, .* … \(2990 more\)$/m);
  for (const line of [...t.out, ...t.info].flatMap((l) => l.split("\n"))) expect(line.length).toBeLessThan(600);
  expect(t.out.length).toBeLessThan(20);
  // Hashing progress on the terminal: count, rate and ETA, ending with the total.
  const hashing = live.filter((l): l is string => l?.startsWith("hashing ") ?? false);
  expect(hashing.length).toBeGreaterThan(0);
  expect(hashing.at(-1)).toMatch(
    new RegExp(`^hashing ${FILES}/${FILES} files, [0-9.]+ (bytes|KiB|MiB), \\d+ files/s, ETA 0s$`),
  );
});

test("--json lists every artifact", async () => {
  const t = serverTerm(server.url);
  await artifactCommand(["add", ...files.slice(0, 50), "--prefix", "json/", "--json"], t.term);
  const doc = JSON.parse(t.out.join("\n"));
  expect(doc.artifacts).toHaveLength(50);
  expect(doc.result.details.added_artifacts).toHaveLength(50);
});
