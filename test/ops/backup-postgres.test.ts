/**
 * Backup of a PostgreSQL-backed tufbox (the logical export: every table of
 * the store from one REPEATABLE READ snapshot, as JSONL) taken over the API
 * and with --database while artifacts are being added; restored into a
 * SQLite data directory, which validate accepts and a server continues from
 * (tuf-js returning client, next versions).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { backupCommand, restoreCommand } from "../../src/cli/backup.ts";
import { validateCommand } from "../../src/cli/validate.ts";
import { indexTar } from "../../src/mirror/tar.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { createDatabase, withServices } from "../helpers/services.ts";
import { startTestServer, TOKEN, tempDir, type TestServer } from "../helpers/server.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { run } from "./helpers.ts";
import { artifact, publish } from "../mirror/helpers.ts";

withServices("test/ops/backup-postgres.test.ts", {}, () => {
  const work = tempDir("tufbox-backup-pg-");
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let server: TestServer;
  let restored: TestServer | undefined;
  let rootFile: string;
  let trustedRoot: Uint8Array;
  const a1 = artifact("releases/app-1.0.tgz", "one");

  beforeAll(async () => {
    db = await createDatabase("backup");
    server = await startTestServer({
      dataDir: join(work, "data"),
      flags: { database: db.url, "scheduler-period-seconds": "3600" },
    });
    const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(16));
    expect(r.status).toBe(202);
    expect((await server.waitTask(r.body.data.task_id, 120_000)).state).toBe("SUCCESS");
    // The task is SUCCESS once committed; this replica's state follows the store a moment later.
    for (let i = 0; i < 500 && !server.app.repo.bootstrapped; i++) await Bun.sleep(10);
    trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    rootFile = join(work, "1.root.json");
    writeFileSync(rootFile, trustedRoot);
    await publish({ server, url: server.url, trustedRoot }, [a1]);
  }, 120_000);

  afterAll(async () => {
    await restored?.stop();
    await server?.stop();
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  test("PostgreSQL: backups under load restore into a SQLite data directory that continues", async () => {
    const client = tufClient(server.url, join(work, "client"), trustedRoot);
    await client.refresh();
    const cached = client.version("timestamp");

    let stop = false;
    let accepted = 0;
    const load = (async () => {
      for (let i = 0; i < 30 && !stop; i++) {
        const items = Array.from({ length: 4 }, (_, k) => artifact(`load/r${i}-${k}.txt`, `load ${i} ${k}`));
        for (const it of items) {
          const file = join(server.app.config.targets.dir, it.path);
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, it.bytes);
        }
        const r = await server.api("POST", "/api/v1/artifacts", {
          artifacts: items.map(({ path, info }) => ({ path, info })),
        });
        expect(r.status).toBe(202);
        accepted++;
      }
    })();
    while (accepted < 5) await Bun.sleep(1);
    const apiOut = join(work, "api.tar");
    const dirOut = join(work, "dir.tar");
    const [api, dir] = await Promise.all([
      run(backupCommand, ["--server", server.url, "--out", apiOut, "--json"], { TUFBOX_TOKEN: TOKEN }),
      run(backupCommand, ["--database", db.url, "--data-dir", server.dataDir, "--out", dirOut, "--json"]),
    ]);
    stop = true;
    await load;
    expect(api.text).not.toContain("refused");
    expect(api.code).toBe(0);
    expect(dir.code).toBe(0);
    for (const b of [api.json, dir.json]) {
      expect(b.store.kind).toBe("postgres");
      for (const table of ["settings", "documents", "heads", "artifacts", "tasks", "tokens", "audit", "retired"])
        expect(Object.keys(b.store.tables)).toContain(table);
      expect(b.store.tables.documents).toBeGreaterThan(16);
    }
    const names = [...(await indexTar(apiOut)).keys()];
    expect(names).toContain("store/documents.jsonl");
    expect(names.at(-1)).toBe("backup.json");

    const restoredDir = join(work, "restored");
    const r = await run(restoreCommand, [apiOut, "--data-dir", restoredDir, "--json"]);
    expect(r.text).not.toContain("nothing usable");
    expect(r.code).toBe(0);
    expect(r.json.store.from).toBe("postgres");
    const v = await run(validateCommand, ["--data-dir", restoredDir, "--root", rootFile]);
    expect(v.text).toContain("OK: no problems");

    await server.stop();
    restored = await startTestServer({ dataDir: restoredDir, flags: { "scheduler-period-seconds": "3600" } });
    const deadline = Date.now() + 30_000;
    while ((await restored.app.store.countPendingChanges()) > 0 && Date.now() < deadline) await Bun.sleep(20);
    const again = tufClient(restored.url, join(work, "client"));
    await again.refresh();
    expect(again.version("timestamp")).toBeGreaterThanOrEqual(cached);
    expect(await again.download(a1.path)).toEqual(a1.bytes);
    const last = Math.max(
      ...(await restored.app.store.listDocuments()).filter((d) => d.role === "timestamp").map((d) => d.version),
    );
    const next = artifact("releases/app-2.0.tgz", "two");
    await publish({ server: restored, url: restored.url, trustedRoot }, [next]);
    await again.refresh();
    expect(again.version("timestamp")).toBe(last + 1);
    expect(await again.download(next.path)).toEqual(next.bytes);
    expect((await run(validateCommand, ["--server", restored.url, "--root", rootFile])).code).toBe(0);
  }, 180_000);
});
