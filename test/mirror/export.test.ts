/**
 * Air gap: `tufbox export` from a running tufbox (--server) and from its data
 * directory (--data-dir), into a directory and into a tar file; the
 * directory served by a plain static file server and accepted by tuf-js; a
 * tar carried to a mirror with `tufbox mirror --from` and served by it (an
 * air-gapped mirror that picks up a later import by itself); tampered
 * bundles refused with nothing imported.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportCommand } from "../../src/cli/export.ts";
import { mirrorCommand } from "../../src/cli/mirror.ts";
import { ServerError } from "../../src/cli/client.ts";
import { indexTar } from "../../src/mirror/tar.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { tempDir } from "../helpers/server.ts";
import { testTerminal } from "../cli/helpers.ts";
import { artifact, publish, startMirror, startUpstream, until, type Upstream } from "./helpers.ts";

/** A plain static file server: bytes from `dir`, 404 otherwise (what nginx or python -m http.server do). */
function staticServer(dir: string) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("no", { status: 400 });
      const file = Bun.file(join(dir, path));
      return (await file.exists()) ? new Response(file) : new Response("not found", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

async function run(command: typeof exportCommand, args: string[]) {
  const t = testTerminal();
  await command(args, t.term);
  return t;
}

describe("export and import", () => {
  const work = tempDir("tufbox-export-");
  const upstreamDir = join(work, "upstream");
  let up: Upstream;
  let rootFile: string;
  const a1 = artifact("releases/app-1.0.tgz", "one");
  const a2 = artifact("docs/notes.txt", "notes");
  const a3 = artifact("releases/app-1.1.tgz", "one point one");

  beforeAll(async () => {
    up = await startUpstream(16, upstreamDir);
    await publish(up, [a1]);
    await publish(up, [a2]);
    rootFile = join(work, "1.root.json");
    writeFileSync(rootFile, up.trustedRoot);
  }, 60_000);

  afterAll(async () => {
    await up?.server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("an export served by a plain static server is accepted by tuf-js", async () => {
    const out = join(work, "bundle-dir");
    const t = await run(exportCommand, [
      "--server",
      up.url,
      "--root",
      rootFile,
      "--out",
      out,
      "--targets",
      "**",
      "--valid-for",
      "30",
    ]);
    expect(t.text()).toContain(`wrote ${out} (directory)`);
    // tufbox timestamps and snapshots expire after a day: a 30-day bundle is not possible as published.
    expect(t.info.join("\n")).toMatch(/warning: timestamp expires .* within the 30 day\(s\) of --valid-for/);
    expect(existsSync(join(out, "metadata", "timestamp.json"))).toBe(true);
    expect(existsSync(join(out, "metadata", "1.root.json"))).toBe(true);
    expect(existsSync(join(out, "targets", "releases", `${a1.info.hashes.sha256}.app-1.0.tgz`))).toBe(true);
    expect(existsSync(join(out, "targets", "releases", `${a1.info.hashes.sha512}.app-1.0.tgz`))).toBe(true);
    expect(readdirSync(work).some((n) => n.includes(".tmp-"))).toBe(false);
    const web = staticServer(out);
    try {
      const client = tufClient(web.url, join(work, "client-static"), up.trustedRoot);
      await client.refresh();
      expect(await client.download(a1.path)).toEqual(a1.bytes);
      expect(await client.download(a2.path)).toEqual(a2.bytes);
    } finally {
      web.stop();
    }
    // Refuses to write over an existing output.
    await expect(run(exportCommand, ["--server", up.url, "--root", rootFile, "--out", out])).rejects.toThrow(
      /already exists/,
    );
  }, 60_000);

  test("without --root the source's 1.root.json is trusted on first use, with a warning; --json", async () => {
    const out = join(work, "tofu");
    const t = await run(exportCommand, ["--server", up.url, "--out", out, "--json"]);
    expect(t.info.join("\n")).toContain("trusting");
    const summary = JSON.parse(t.out.join("\n"));
    expect(summary).toMatchObject({ format: "directory", trusted_root_version: 1, targets: { files: 0 } });
    expect(summary.versions.timestamp).toBeGreaterThan(1);
  }, 30_000);

  let tarFile: string;
  test("a tar export from the data directory (with older versions) imports into a mirror that serves it", async () => {
    tarFile = join(work, "bundle.tar");
    const t = await run(exportCommand, [
      "--data-dir",
      upstreamDir,
      "--root",
      rootFile,
      "--out",
      tarFile,
      "--targets",
      "releases/**",
      "--all-versions",
      "--json",
    ]);
    const summary = JSON.parse(t.out.join("\n"));
    expect(summary.format).toBe("tar");
    expect(summary.older_versions).toBeGreaterThan(0);
    expect(summary.targets.files).toBe(1);
    const entries = await indexTar(tarFile);
    expect(entries.has("metadata/timestamp.json")).toBe(true);
    expect(entries.has("metadata/1.snapshot.json")).toBe(true);
    expect(entries.has(`targets/releases/${a1.info.hashes.sha512}.app-1.0.tgz`)).toBe(true);
    // GNU tar reads it too
    const list = Bun.spawnSync(["tar", "-tf", tarFile]).stdout.toString();
    expect(list).toContain("metadata/timestamp.json");

    const mirrorDir = join(work, "airgap");
    const imported = await run(mirrorCommand, [
      "--from",
      tarFile,
      "--root",
      rootFile,
      "--data-dir",
      mirrorDir,
      "--json",
    ]);
    const s = JSON.parse(imported.out.join("\n"));
    expect(s.targets.imported).toBe(1);
    expect(s.versions.timestamp).toBe(summary.versions.timestamp);
    // An air-gapped mirror: no upstream, it serves what was imported.
    const m = await startMirror(undefined, up.trustedRoot, { dataDir: mirrorDir });
    try {
      const client = tufClient(m.url, join(work, "client-airgap"), up.trustedRoot);
      await client.refresh();
      expect(await client.download(a1.path)).toEqual(a1.bytes);
      // docs/ was not exported, and there is no upstream to fetch it from
      await expect(client.download(a2.path)).rejects.toThrow();
      expect(m.mirror.status().targets.failures.unavailable).toBeGreaterThan(0);

      // Later, a newer bundle: the running mirror picks up the import by itself.
      await publish(up, [a3]);
      const next = join(work, "bundle-2.tar");
      await run(exportCommand, ["--server", up.url, "--root", rootFile, "--out", next, "--targets", "releases/**"]);
      const again = await run(mirrorCommand, ["--from", next, "--root", rootFile, "--data-dir", mirrorDir]);
      expect(again.text()).toContain("imported");
      const version = JSON.parse(new TextDecoder().decode(up.server.app.metadata.peek("timestamp.json")!.bytes)).signed
        .version;
      await until(
        "the air-gapped mirror loads the imported state",
        () => m.mirror.state.timestamp?.doc.signed.version === version,
      );
      await client.refresh();
      expect(await client.download(a3.path)).toEqual(a3.bytes);
      // An older bundle now is a rollback: refused.
      await expect(
        run(mirrorCommand, ["--from", tarFile, "--root", rootFile, "--data-dir", mirrorDir]),
      ).rejects.toThrow(/refusing the bundle .* \(rollback\)/);
    } finally {
      await m.stop({ keepData: true });
    }
  }, 60_000);

  test("tampered bundles are refused by mirror --from, and nothing is imported", async () => {
    const good = join(work, "bundle-dir");
    const cases: [string, (dir: string) => void, RegExp][] = [
      [
        "a bin",
        (dir) => {
          const name = readdirSync(join(dir, "metadata")).find(
            (n) =>
              /^\d+\.bins-[0-9a-f]\.json$/.test(n) &&
              readFileSync(join(dir, "metadata", n), "utf8").includes('"length"'),
          )!;
          const file = join(dir, "metadata", name);
          writeFileSync(file, readFileSync(file, "utf8").replace(/"length":(\d)/, '"length":9$1'));
        },
        /\(tampered\).*bins-/,
      ],
      [
        "timestamp.json",
        (dir) => {
          const file = join(dir, "metadata", "timestamp.json");
          writeFileSync(file, readFileSync(file, "utf8").replace(/"version":(\d+)}}$/, '"version":9$1}}'));
        },
        /\(tampered\).*timestamp\.json/,
      ],
      [
        "a target's bytes",
        (dir) => {
          const file = join(dir, "targets", "releases", `${a1.info.hashes.sha256}.app-1.0.tgz`);
          writeFileSync(file, "two");
        },
        /\(mismatch\).*app-1\.0\.tgz/,
      ],
    ];
    for (const [what, alter, why] of cases) {
      const copy = join(work, `tampered-${what.replace(/\W+/g, "-")}`);
      cpSync(good, copy, { recursive: true });
      alter(copy);
      const dataDir = join(work, `mirror-${what.replace(/\W+/g, "-")}`);
      let error: unknown;
      try {
        await run(mirrorCommand, ["--from", copy, "--root", rootFile, "--data-dir", dataDir]);
      } catch (err) {
        error = err;
      }
      expect(error, what).toBeInstanceOf(ServerError);
      expect((error as Error).message, what).toMatch(why);
      // Nothing was committed: a mirror on that directory has nothing to serve.
      const m = await startMirror(undefined, up.trustedRoot, { dataDir, start: false });
      try {
        expect(m.mirror.ready, what).toBe(false);
        expect((await fetch(`${m.url}/readyz`)).status).toBe(503);
      } finally {
        await m.stop({ keepData: true });
      }
    }

    // A tar whose target entry was altered in place.
    const tampered = join(work, "tampered.tar");
    const bytes = new Uint8Array(readFileSync(tarFile));
    const entry = (await indexTar(tarFile)).get(`targets/releases/${a1.info.hashes.sha256}.app-1.0.tgz`)!;
    bytes[entry.offset] = bytes[entry.offset]! ^ 1;
    writeFileSync(tampered, bytes);
    await expect(
      run(mirrorCommand, ["--from", tampered, "--root", rootFile, "--data-dir", join(work, "mirror-tar")]),
    ).rejects.toThrow(/\(mismatch\)/);
    // Not a bundle at all.
    const junk = join(work, "junk.tar");
    writeFileSync(junk, "x".repeat(2048));
    await expect(
      run(mirrorCommand, ["--from", junk, "--root", rootFile, "--data-dir", join(work, "mirror-junk")]),
    ).rejects.toThrow(/refusing the bundle/);
  }, 60_000);

  test("a mirror's data directory exports too", async () => {
    const out = join(work, "from-mirror");
    mkdirSync(out);
    const t = await run(exportCommand, [
      "--data-dir",
      join(work, "airgap"),
      "--root",
      rootFile,
      "--out",
      out,
      "--targets",
      "**",
      "--json",
    ]);
    const summary = JSON.parse(t.out.join("\n"));
    // The mirror holds the releases/ files; docs/notes.txt was never imported into it.
    expect(summary.targets).toMatchObject({ files: 2, missing: 1 });
    expect(t.info.join("\n")).toContain("docs/notes.txt");
    expect(existsSync(join(out, "targets", "releases", `${a3.info.hashes.sha256}.app-1.1.tgz`))).toBe(true);
  }, 30_000);
});
