/**
 * Re-binning with two replicas on one PostgreSQL: the resize goes through
 * replica 0 while both replicas keep accepting artifacts (replica 1 may
 * still route them by the old layout until it catches up). Afterwards every
 * artifact acknowledged with 202 is published in the bin of the new layout
 * (the artifacts table and the bins agree), no (role, version) has two rows,
 * both replicas serve the same timestamp, and tuf-js downloads through each.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { Updater } from "tuf-js";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import { tempDir } from "../helpers/server.ts";
import {
  artifact,
  bootstrap,
  bytesOf,
  call,
  checkDocuments,
  createDatabase,
  eventually,
  startReplica,
  timestampOf,
  waitTaskAt,
  withServices,
  type Replica,
} from "./helpers.ts";

withServices("test/scaleout/rebin.test.ts", {}, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  const replicas: Replica[] = [];
  const clientDir = tempDir("tufbox-rebin-replicas-");

  beforeAll(async () => {
    db = await createDatabase("rebin");
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await db?.drop();
    rmSync(clientDir, { recursive: true, force: true });
  });

  test("16 → 512 through one replica while both accept artifacts: nothing lost, one layout", async () => {
    for (const name of ["rebin0", "rebin1"]) replicas.push(await startReplica(name, db.url));
    await bootstrap(replicas[0]!.url, 16);
    await eventually("both replicas bootstrapped", 30_000, async () => {
      const all = await Promise.all(replicas.map((r) => call(r.url, "GET", "/api/v1/config")));
      return all.every((r) => r.status === 200);
    });
    const tasks: string[] = [];
    const paths: string[] = [];
    const addThrough = async (replica: Replica, prefix: string, from: number, n: number) => {
      const items = Array.from({ length: n }, (_, i) => artifact(prefix, from + i));
      const r = await call(replica.url, "POST", "/api/v1/artifacts", { artifacts: items });
      expect(r.status).toBe(202);
      tasks.push(r.body.data.task_id);
      paths.push(...items.map((a) => a.path));
    };
    await addThrough(replicas[0]!, "before", 0, 2000);
    await addThrough(replicas[1]!, "before1", 0, 2000);
    const resize = await call(replicas[0]!.url, "POST", "/api/v1/bins", { number_of_delegated_bins: 512 });
    expect(resize.status).toBe(202);
    for (let round = 0; round < 20; round++) {
      await addThrough(replicas[round % 2]!, `during${round % 2}`, round * 50, 50);
      await Bun.sleep(20);
    }
    const task = await waitTaskAt(replicas[0]!.url, resize.body.data.task_id, 120_000);
    expect([task.state, task.result?.error]).toEqual(["SUCCESS", undefined]);
    await addThrough(replicas[1]!, "after", 0, 100);
    for (const id of tasks) expect((await waitTaskAt(replicas[0]!.url, id, 120_000)).state).toBe("SUCCESS");

    // The store: every artifact once, in its bin of the new layout.
    const sql = new SQL(db.url);
    try {
      const bins = new SuccinctBins(9);
      const rows: { path: string; role: string }[] = await sql`SELECT path, role FROM artifacts`;
      expect(rows.length).toBe(paths.length);
      for (const r of rows) expect(r.role).toBe(bins.binForPath(r.path));
      await checkDocuments(sql);
    } finally {
      await sql.close();
    }

    // Both replicas serve the same timestamp, and tuf-js finds every artifact through each.
    await eventually("both replicas serve the same timestamp", 30_000, async () => {
      const [a, b] = await Promise.all(replicas.map((r) => timestampOf(r.url)));
      return a!.version === b!.version;
    });
    const config = await call(replicas[1]!.url, "GET", "/api/v1/config");
    expect(config.body.data.number_of_delegated_bins).toBe(512);
    const trustedRoot = await bytesOf(`${replicas[0]!.url}/metadata/1.root.json`);
    for (const [i, replica] of replicas.entries()) {
      const dir = join(clientDir, `client${i}`);
      const { mkdirSync, writeFileSync } = await import("node:fs");
      mkdirSync(join(dir, "metadata"), { recursive: true });
      mkdirSync(join(dir, "targets"), { recursive: true });
      writeFileSync(join(dir, "metadata", "root.json"), trustedRoot);
      const updater = new Updater({
        metadataBaseUrl: `${replica.url}/metadata`,
        targetBaseUrl: `${replica.url}/targets`,
        metadataDir: join(dir, "metadata"),
        targetDir: join(dir, "targets"),
        config: { fetchRetries: 0 },
      });
      await updater.refresh();
      for (const path of [paths[0]!, paths[2100]!, paths.at(-1)!, paths[4500]!]) {
        const info = await updater.getTargetInfo(path);
        expect(info?.path).toBe(path);
      }
    }
  }, 240_000);
});
