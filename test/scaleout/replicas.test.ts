/**
 * Three replicas on one PostgreSQL (+ Redis): 20,000 artifacts added
 * concurrently through all three, one replica killed with kill -9 mid-run
 * (the one holding the publisher lock, when one does) and restarted. Then:
 * every artifact acknowledged with 202 is published, no (role, version) has
 * two contents (in the database, or as served by any replica), every replica
 * serves the same timestamp, and tuf-js verifies downloads from each one.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { Updater } from "tuf-js";
import { tempDir } from "../helpers/server.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import {
  REDIS_URL,
  artifact,
  bytesOf,
  call,
  checkDocuments,
  createDatabase,
  eventually,
  prng,
  readyz,
  sameBytes,
  startReplica,
  timestampOf,
  withServices,
  type Replica,
} from "./helpers.ts";

const TOTAL = 20_000;
const BINS = 256;
const WORKERS_PER_REPLICA = 3;
/**
 * Pause of up to this long between a worker's requests: unpaced, the 20,000
 * are accepted in under two seconds and published in two or three batches;
 * paced, publications run all along the adds (and the kill lands on one).
 */
const MAX_PAUSE_MS = 400;
/** advisory lock space of PostgresStore.withLock ("tufb") */
const PUBLISHER_LOCK_SPACE = 0x74756662;

withServices("test/scaleout/replicas.test.ts", { redis: true }, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  const replicas: Replica[] = [];
  const clientDir = tempDir("tufbox-replicas-client-");

  beforeAll(async () => {
    db = await createDatabase("replicas");
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await db?.drop();
    rmSync(clientDir, { recursive: true, force: true });
  });

  test("20,000 artifacts through three replicas, one killed -9 and restarted: nothing lost, no fork", async () => {
    const started = performance.now();
    // Publications interleaved with the adds are what the kill must land
    // among: no gathering of bursts into one publication (issue 15).
    for (const name of ["replica0", "replica1", "replica2"])
      replicas.push(
        await startReplica(name, db.url, { redis: REDIS_URL, env: { TUFBOX_PUBLISHER_BURST_WAIT_MS: "0" } }),
      );
    const b = await call(replicas[0]!.url, "POST", "/api/v1/bootstrap", binsPayload(BINS));
    expect(b.status).toBe(202);
    // The others learn about the bootstrap from the notification (or their poll).
    await eventually("every replica bootstrapped and ready", 30_000, async () => {
      const all = await Promise.all(replicas.map((r) => readyz(r.url)));
      return all.every((r) => r.status === 200 && r.body.checks.redis === true);
    });
    const trustedRoot = await bytesOf(`${replicas[0]!.url}/metadata/1.root.json`);

    // Requests of 50-200 artifacts, in a queue every worker takes from; a
    // request that fails without an answer (the kill) goes back in the queue.
    const rand = prng(20_000);
    const chunks: { from: number; count: number }[] = [];
    for (let from = 0; from < TOTAL; ) {
      const count = Math.min(TOTAL - from, 50 + Math.floor(rand() * 151));
      chunks.push({ from, count });
      from += count;
    }
    const queue = [...chunks];
    const acked = new Map<number, string>(); // chunk start → task id
    let ackedArtifacts = 0;
    const statuses = new Map<number, number>();
    let unanswered = 0;
    let victim: Replica | null = null;
    let restarting: Promise<void> | null = null;
    let failed = false;

    let seed = 1;
    const worker = async (r: Replica) => {
      const pause = prng(seed++);
      while (!failed) {
        const chunk = queue.shift();
        if (!chunk) {
          if (acked.size === chunks.length) return;
          await Bun.sleep(20); // others' chunks may come back
          continue;
        }
        if (r === victim && restarting) await restarting;
        let status: number;
        let body: any;
        try {
          const res = await call(r.url, "POST", "/api/v1/artifacts", {
            artifacts: Array.from({ length: chunk.count }, (_, i) => artifact("replicas", chunk.from + i)),
          });
          status = res.status;
          body = res.body;
        } catch {
          unanswered++;
          queue.push(chunk);
          await Bun.sleep(50);
          continue;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status !== 202) {
          failed = true;
          throw new Error(`add refused by ${r.name}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
        }
        acked.set(chunk.from, body.data.task_id);
        ackedArtifacts += chunk.count;
        await Bun.sleep(pause() * MAX_PAUSE_MS);
      }
    };

    const killer = async () => {
      await eventually(
        "a third of the artifacts acknowledged",
        60_000,
        async () => failed || ackedArtifacts >= TOTAL / 3,
        5,
      );
      // Kill the replica that holds the publisher lock right now, if one does
      // within a second: the worst moment to die, mid-publication.
      const holder = await eventually(
        "a publisher lock holder",
        1000,
        async () => {
          const rows = await db.sql`
          SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = ${PUBLISHER_LOCK_SPACE}
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
          return rows[0]?.name as string | undefined;
        },
        2,
      ).catch(() => undefined);
      victim = replicas.find((r) => r.name === holder) ?? replicas[1]!;
      let restarted!: () => void;
      restarting = new Promise<void>((resolve) => (restarted = resolve));
      await victim.kill();
      const killedAt = ackedArtifacts;
      await victim.restart();
      restarted();
      restarting = null;
      return { name: victim.name, heldLock: holder === victim.name, killedAt };
    };

    const [kill] = await Promise.all([
      killer(),
      ...replicas.flatMap((r) => Array.from({ length: WORKERS_PER_REPLICA }, () => worker(r))),
    ]);
    expect(acked.size).toBe(chunks.length);
    expect(ackedArtifacts).toBe(TOTAL);
    expect([...statuses.keys()]).toEqual([202]);
    const acceptedS = (performance.now() - started) / 1000;

    // Every task (so every artifact acknowledged with 202) is published.
    const ids = [...acked.values()];
    await eventually(
      "every acknowledged task published",
      120_000,
      async () => {
        const [row] =
          await db.sql`SELECT count(*)::int AS n FROM tasks WHERE id = ANY(${ids}::text[]) AND state = 'SUCCESS'`;
        return row.n === ids.length;
      },
      100,
    );
    const [pending] = await db.sql`SELECT count(*)::int AS n FROM changes`;
    expect(pending.n).toBe(0);
    const paths = Array.from({ length: TOTAL }, (_, i) => artifact("replicas", i).path);
    const [published] = await db.sql`SELECT count(*)::int AS n FROM artifacts WHERE path = ANY(${paths}::text[])`;
    expect(published.n).toBe(TOTAL);

    // No (role, version) with two contents; versions contiguous; heads right.
    const docs = await checkDocuments(db.sql);
    expect(docs.roles).toBe(BINS + 4);

    // Every replica ends serving the same timestamp: the newest one in the database.
    const [latest] =
      await db.sql`SELECT d.bytes FROM documents d JOIN heads h ON h.role = d.role AND h.version = d.version WHERE d.role = 'timestamp'`;
    const latestBytes = new Uint8Array(latest.bytes);
    await eventually("every replica serving the newest timestamp", 15_000, async () => {
      const served = await Promise.all(replicas.map((r) => bytesOf(`${r.url}/metadata/timestamp.json`)));
      return served.every((s) => sameBytes(s, latestBytes));
    });

    // Versioned files served by every replica are the database's bytes: the
    // head and an older version of a sample of bins, snapshot and targets.
    const sample = await db.sql`
      SELECT role, version, bytes FROM (
        SELECT d.role, d.version, d.bytes, row_number() OVER (PARTITION BY d.role ORDER BY d.version DESC) AS k
        FROM documents d WHERE d.role IN ('snapshot', 'targets') OR d.role IN (
          SELECT role FROM heads WHERE role LIKE 'bins-%' ORDER BY md5(role) LIMIT 24)
      ) x WHERE k IN (1, 2, 5)`;
    expect(sample.length).toBeGreaterThan(40);
    for (const r of replicas) {
      for (const row of sample) {
        const served = await bytesOf(`${r.url}/metadata/${row.version}.${row.role}.json`);
        if (!sameBytes(served, new Uint8Array(row.bytes)))
          throw new Error(`${r.name} serves ${row.version}.${row.role}.json with other bytes than the database holds`);
      }
    }

    // tuf-js, trusting 1.root.json, verifies a sample of artifacts from each replica.
    const pick = prng(7);
    for (const r of replicas) {
      const dir = join(clientDir, r.name);
      const metadataDir = join(dir, "metadata");
      await Bun.write(join(metadataDir, "root.json"), trustedRoot);
      const updater = new Updater({
        metadataBaseUrl: `${r.url}/metadata`,
        targetBaseUrl: `${r.url}/targets`,
        metadataDir,
        targetDir: join(dir, "targets"),
        config: { fetchRetries: 0 },
      });
      await updater.refresh();
      for (let k = 0; k < 40; k++) {
        const i = Math.floor(pick() * TOTAL);
        const expected = artifact("replicas", i);
        const info = await updater.getTargetInfo(expected.path);
        expect(info?.path).toBe(expected.path);
        expect(info?.length).toBe(expected.info.length);
        expect(info?.hashes.sha256).toBe(expected.info.hashes.sha256);
      }
    }

    // Exactly one replica runs the scheduler's jobs (another took over if the victim did).
    await eventually(
      "exactly one scheduler leader",
      15_000,
      async () => {
        const leaders = (await Promise.all(replicas.map((r) => readyz(r.url)))).filter(
          (x) => x.body.scheduler_leader === true,
        );
        return leaders.length === 1;
      },
      250,
    );

    const [ts] = await db.sql`SELECT version::int AS v FROM heads WHERE role = 'timestamp'`;
    // Publications went on during the adds (not one big batch at the end).
    expect(ts.v).toBeGreaterThanOrEqual(5);
    console.log(
      `replicas: ${TOTAL} artifacts in ${chunks.length} requests through 3 replicas; killed ${kill.name} (${kill.heldLock ? "holding" : "not holding"} the publisher lock) ` +
        `after ${kill.killedAt} acknowledged; ${unanswered} unanswered request(s) resent; accepted in ${acceptedS.toFixed(1)} s, ` +
        `all published after ${((performance.now() - started) / 1000).toFixed(1)} s; timestamp v${ts.v}, ${docs.documents} documents`,
    );
    const { version } = await timestampOf(replicas[0]!.url);
    expect(version).toBe(ts.v);
  }, 150_000);
});
