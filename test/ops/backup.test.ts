/**
 * Online backup and restore, end to end with real parts: a running tufbox
 * (SQLite store, local content storage, targets directory) takes artifacts
 * in a bounded stream of requests while two backups are taken — one over the
 * API (`tufbox backup --server`, POST /api/v1/backup) and one from the data
 * directory. The API backup is restored into a fresh data directory, which
 * `tufbox validate` accepts; a server started on it is refreshed by a tuf-js
 * client that cached its metadata before the backup, serves every artifact
 * (content bytes and targets-directory files), publishes queued and new
 * artifacts with the next versions, and validates again. The online private
 * key is in neither backup. A cut-off backup and a restore over an existing
 * repository are refused with nothing written.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { backupCommand, restoreCommand } from "../../src/cli/backup.ts";
import { validateCommand } from "../../src/cli/validate.ts";
import { ONLINE_KEY_DIR } from "../helpers/fixtures.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { startTestServer, TOKEN, tempDir, type TestServer } from "../helpers/server.ts";
import { testTerminal } from "../cli/helpers.ts";
import { run } from "./helpers.ts";
import { artifact, publish, startUpstream, type Upstream } from "../mirror/helpers.ts";

function timestampVersion(url: string): Promise<number> {
  return fetch(`${url}/metadata/timestamp.json`)
    .then((r) => r.json())
    .then((j: any) => j.signed.version);
}

describe("tufbox backup and restore", () => {
  const work = tempDir("tufbox-backup-");
  let up: Upstream;
  let restored: TestServer | undefined;
  let rootFile: string;
  const a1 = artifact("releases/app-1.0.tgz", "one");
  const uploaded = new TextEncoder().encode("bytes tufbox stores itself");
  const uploadedPath = "uploads/tool-2.0.bin";
  const loadPaths: string[] = [];
  const restoredDir = join(work, "restored");
  const apiBackup = join(work, "api-backup.tar");
  const dirBackup = join(work, "dir-backup.tar");
  let clientCachedTimestamp = 0;

  beforeAll(async () => {
    up = await startUpstream(16, join(work, "data"));
    await publish(up, [a1]);
    const put = await fetch(`${up.url}/api/v1/artifacts/content/${uploadedPath}`, {
      method: "PUT",
      body: uploaded,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(put.status).toBe(202);
    await up.server.waitTask(((await put.json()) as any).data.task_id);
    rootFile = join(work, "1.root.json");
    writeFileSync(rootFile, up.trustedRoot);
  }, 120_000);

  afterAll(async () => {
    await restored?.stop();
    await up?.server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("two backups taken while artifacts are being added (over the API and from the data directory)", async () => {
    // A returning client: its metadata cache is from before the backup.
    const client = tufClient(up.url, join(work, "client"), up.trustedRoot);
    await client.refresh();
    clientCachedTimestamp = client.version("timestamp");

    // Load: up to 60 requests of 5 artifacts, 4 at a time; the backups start once it is under way.
    let stop = false;
    const load = (async () => {
      const jobs: Promise<void>[] = [];
      for (let w = 0; w < 4; w++)
        jobs.push(
          (async () => {
            for (let i = 0; i < 15 && !stop; i++) {
              const items = Array.from({ length: 5 }, (_, k) =>
                artifact(`load/w${w}/r${i}-${k}.txt`, `load ${w} ${i} ${k}`),
              );
              // Bytes first (as a pipeline would), so a backup that lists an artifact holds its file.
              for (const it of items) {
                const file = join(up.server.app.config.targets.dir, it.path);
                mkdirSync(dirname(file), { recursive: true });
                writeFileSync(file, it.bytes);
              }
              const r = await up.server.api("POST", "/api/v1/artifacts", {
                artifacts: items.map(({ path, info }) => ({ path, info })),
              });
              expect(r.status).toBe(202);
              for (const it of items) loadPaths.push(it.path);
            }
          })(),
        );
      await Promise.all(jobs);
    })();
    while (loadPaths.length < 20) await Bun.sleep(1);
    const [api, dir] = await Promise.all([
      run(backupCommand, ["--server", up.url, "--out", apiBackup, "--json"], { TUFBOX_TOKEN: TOKEN }),
      run(backupCommand, ["--data-dir", up.server.dataDir, "--out", dirBackup, "--json"]),
    ]);
    stop = true;
    await load;
    expect(api.text).not.toContain("problem");
    expect(api.code).toBe(0);
    expect(dir.code).toBe(0);
    for (const b of [api.json, dir.json]) {
      expect(b.format).toBe("tufbox-backup/1");
      expect(b.store.kind).toBe("sqlite");
      expect(b.online_key_included).toBe(false);
      expect(b.content).toMatchObject({ storage: "local", objects: 1, bytes_included: true, missing: [] });
      expect(b.targets.files).toBeGreaterThanOrEqual(1);
      expect(b.versions.timestamp).toBeGreaterThanOrEqual(clientCachedTimestamp);
      for (const table of [
        "settings",
        "documents",
        "heads",
        "artifacts",
        "changes",
        "tasks",
        "tokens",
        "audit",
        "contents",
      ])
        expect(Object.keys(b.store.tables)).toContain(table);
    }
    // The API backup is in the audit log, with who took it (recorded when it ended).
    let entry: any;
    for (let i = 0; i < 200 && !entry; i++) {
      const audit = await up.server.api("GET", "/api/v1/audit?limit=1000");
      entry = audit.body.data.entries.find((e: any) => e.action === "backup");
      if (!entry) await Bun.sleep(10);
    }
    expect(entry).toMatchObject({ principal: "admin", route: "POST /api/v1/backup" });
    expect(entry.summary.versions.timestamp).toBe(api.json.versions.timestamp);
    // Backups are 0600 and never hold the online private key.
    expect((await Bun.file(apiBackup).stat()).mode & 0o777).toBe(0o600);
    for (const f of [apiBackup, dirBackup]) {
      const text = readFileSync(f).toString("latin1");
      expect(text).not.toContain("PRIVATE KEY");
      for (const keyFile of readdirSync(ONLINE_KEY_DIR)) {
        const body = readFileSync(join(ONLINE_KEY_DIR, keyFile), "utf8")
          .split("\n")
          .filter((l) => l && !l.startsWith("-----"))
          .join("");
        expect(text).not.toContain(body.slice(0, 40));
      }
    }
  }, 120_000);

  test("a cut-off backup is refused by restore, and nothing is written", async () => {
    const cut = join(work, "cut.tar");
    copyFileSync(apiBackup, cut);
    truncateSync(cut, Math.floor(Bun.file(cut).size / 2));
    const dest = join(work, "from-cut");
    const r = await run(restoreCommand, [cut, "--data-dir", dest]);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/nothing usable was restored: .*(no backup\.json|truncated)/);
    expect(existsSync(join(dest, "tufbox.db"))).toBe(false);
  });

  test("restore into a fresh data directory: validate accepts it; restoring over it again is refused", async () => {
    const r = await run(restoreCommand, [apiBackup, "--data-dir", restoredDir, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json.content).toMatchObject({ objects: 1, bytes_included: true });
    expect(r.json.targets.files).toBeGreaterThanOrEqual(1);
    const v = await run(validateCommand, ["--data-dir", restoredDir, "--root", rootFile, "--json"]);
    expect(v.text).toContain('"ok": true');
    expect(v.code).toBe(0);
    const again = await run(restoreCommand, [apiBackup, "--data-dir", restoredDir]);
    expect(again.code).toBe(1);
    expect(again.text).toContain("already exists: restore never writes over a repository");
    // The data-directory backup restores the same way.
    const other = join(work, "restored-2");
    expect((await run(restoreCommand, [dirBackup, "--data-dir", other])).code).toBe(0);
    expect((await run(validateCommand, ["--data-dir", other, "--root", rootFile])).code).toBe(0);
  }, 60_000);

  test("a server on the restored directory: the returning tuf-js client continues; new artifacts publish with the next versions", async () => {
    await up.server.stop();
    restored = await startTestServer({ dataDir: restoredDir, flags: { "scheduler-period-seconds": "3600" } });
    const url = restored.url;
    // Changes that were queued when the backup was taken are published after the restore.
    const deadline = Date.now() + 30_000;
    while ((await restored.app.store.countPendingChanges()) > 0 && Date.now() < deadline) await Bun.sleep(20);
    expect(await restored.app.store.countPendingChanges()).toBe(0);
    const before = await timestampVersion(url);
    expect(before).toBeGreaterThanOrEqual(clientCachedTimestamp);

    const client = tufClient(url, join(work, "client"));
    await client.refresh();
    expect(await client.download(a1.path)).toEqual(a1.bytes);
    expect(await client.download(uploadedPath)).toEqual(uploaded);

    const docs = (await restored.app.store.listDocuments()).filter((d) => d.role === "timestamp");
    const lastBefore = Math.max(...docs.map((d) => d.version));
    const next = artifact("releases/app-2.0.tgz", "two");
    await publish({ server: restored, url, trustedRoot: up.trustedRoot }, [next]);
    const after = await timestampVersion(url);
    expect(after).toBe(lastBefore + 1);
    // No version was written twice: each (role, version) once, and versions 1..N without a gap for timestamp.
    const all = await restored.app.store.listDocuments();
    const keys = all.map((d) => `${d.role}/${d.version}`);
    expect(new Set(keys).size).toBe(keys.length);

    await client.refresh();
    expect(client.version("timestamp")).toBe(after);
    expect(await client.download(next.path)).toEqual(next.bytes);
    // Everything accepted before the backup (the load) is published and listed.
    const listed = await restored.app.store.countArtifacts();
    expect(listed).toBeGreaterThanOrEqual(3);
    const final = await run(validateCommand, ["--server", url, "--root", rootFile]);
    expect(final.text).toContain("OK: no problems");
    expect(final.code).toBe(0);
  }, 120_000);

  test("usage: --out and exactly one source are required; restore needs one file and --data-dir", async () => {
    const { UsageError } = await import("../../src/cli/args.ts");
    for (const [cmd, args] of [
      [backupCommand, ["--data-dir", restoredDir]],
      [backupCommand, ["--out", join(work, "x.tar")]],
      [backupCommand, ["--out", apiBackup, "--data-dir", restoredDir]],
      [restoreCommand, ["--data-dir", join(work, "y")]],
      [restoreCommand, [apiBackup]],
    ] as const) {
      let err: unknown;
      try {
        await cmd([...args], testTerminal().term);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
    }
  });
});
