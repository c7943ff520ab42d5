/**
 * Redis is only a hint: with it, a replica catches up with another's
 * publication within milliseconds (well under the poll); with Redis stopped
 * mid-run, replicas keep accepting, publishing and serving (by polling),
 * nothing is lost, /readyz reports `checks.redis: false` without taking the
 * replica out of service; when Redis comes back, they reconnect by themselves.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import {
  REDIS_URL,
  artifact,
  bootstrap,
  call,
  checkDocuments,
  createDatabase,
  eventually,
  readyz,
  sameBytes,
  services,
  startReplica,
  timestampOf,
  withServices,
  type Replica,
} from "./helpers.ts";

/** Long, so a catch-up well under it can only come from a notification. */
const POLL_MS = 3000;

withServices("test/scaleout/redis-outage.test.ts", { redis: true, outages: true }, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  const replicas: Replica[] = [];
  let redisDown = false;

  beforeAll(async () => {
    db = await createDatabase("redis");
  });

  afterAll(async () => {
    if (redisDown) services("start-redis"); // leave it up for the next file, whatever happened
    await Promise.all(replicas.map((r) => r.stop()));
    await db?.drop();
  }, 30_000);

  async function newestTimestamp(): Promise<Uint8Array> {
    const [row] =
      await db.sql`SELECT d.bytes FROM documents d JOIN heads h ON h.role = d.role AND h.version = d.version WHERE d.role = 'timestamp'`;
    return new Uint8Array(row.bytes);
  }

  /** ms from an add through `from` being published until every replica serves the newest timestamp. */
  async function propagation(from: Replica, i: number): Promise<number> {
    const r = await call(from.url, "POST", "/api/v1/artifacts", { artifacts: [artifact("propagation", i)] });
    expect(r.status).toBe(202);
    await eventually(
      "the add published",
      10_000,
      async () =>
        (await call(from.url, "GET", `/api/v1/task?task_id=${r.body.data.task_id}`)).body?.data?.state === "SUCCESS",
      2,
    );
    const t0 = performance.now();
    const newest = await newestTimestamp();
    await eventually(
      "every replica serving it",
      3 * POLL_MS,
      async () => (await Promise.all(replicas.map((x) => timestampOf(x.url)))).every((s) => sameBytes(s.bytes, newest)),
      2,
    );
    return performance.now() - t0;
  }

  test("Redis stopped mid-run: replicas keep publishing and serving by polling, nothing lost, /readyz says so; back when Redis is", async () => {
    const env = { TUFBOX_PUBLISHER_POLL_MS: String(POLL_MS) };
    replicas.push(
      await startReplica("redis-a", db.url, { redis: REDIS_URL, env }),
      await startReplica("redis-b", db.url, { redis: REDIS_URL, env }),
    );
    const [a, b] = replicas as [Replica, Replica];
    await bootstrap(a.url, 32);
    await eventually("both ready, Redis reachable", 3 * POLL_MS, async () =>
      (await Promise.all(replicas.map((r) => readyz(r.url)))).every(
        (x) => x.status === 200 && x.body.checks.redis === true,
      ),
    );

    // With Redis: a publication reaches the other replica far sooner than its poll.
    const withRedis = [await propagation(a, 0), await propagation(b, 1), await propagation(a, 2)];
    expect(Math.max(...withRedis)).toBeLessThan(POLL_MS / 3);

    // Adds through both replicas all along; Redis goes away in the middle.
    const acked = new Map<string, string[]>();
    const statuses = new Map<number, number>();
    let next = 0;
    let stop = false;
    const writer = async (r: Replica) => {
      while (!stop) {
        const items = Array.from({ length: 25 }, () => artifact("outage", next++));
        const res = await call(r.url, "POST", "/api/v1/artifacts", { artifacts: items });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 202)
          acked.set(
            res.body.data.task_id,
            items.map((x) => x.path),
          );
        await Bun.sleep(30);
      }
    };
    const writers = [writer(a), writer(b)];
    await eventually("adds flowing", 10_000, async () => acked.size >= 10, 10);
    redisDown = true;
    services("stop-redis");
    const ackedBefore = acked.size;

    // Replicas notice, say so on /readyz, and stay ready (200).
    for (const r of replicas) {
      const ready = await eventually(
        `${r.name} reporting Redis down`,
        10_000,
        async () => {
          const x = await readyz(r.url);
          return x.body.checks.redis === false ? x : undefined;
        },
        50,
      );
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe("ready");
      expect(ready.body.checks.store).toBe(true);
    }
    // Adds keep being accepted and published meanwhile.
    await eventually("adds accepted without Redis", 10_000, async () => acked.size >= ackedBefore + 20, 20);
    stop = true;
    await Promise.all(writers);
    expect([...statuses.keys()]).toEqual([202]);

    const ids = [...acked.keys()];
    await eventually(
      "every acknowledged task published without Redis",
      30_000,
      async () => {
        const [row] =
          await db.sql`SELECT count(*)::int AS n FROM tasks WHERE id = ANY(${ids}::text[]) AND state = 'SUCCESS'`;
        return row.n === ids.length;
      },
      100,
    );
    const paths = [...acked.values()].flat();
    const [published] = await db.sql`SELECT count(*)::int AS n FROM artifacts WHERE path = ANY(${paths}::text[])`;
    expect(published.n).toBe(paths.length);
    await checkDocuments(db.sql);
    // Both replicas converge on the newest timestamp by polling alone.
    const newest = await newestTimestamp();
    await eventually(
      "both replicas serving the newest timestamp without Redis",
      3 * POLL_MS,
      async () => (await Promise.all(replicas.map((r) => timestampOf(r.url)))).every((s) => sameBytes(s.bytes, newest)),
      50,
    );
    const withoutRedis = await propagation(b, 3);

    // Redis back: replicas reconnect by themselves and notifications are fast again.
    services("start-redis");
    redisDown = false;
    for (const r of replicas) {
      await eventually(
        `${r.name} reconnected to Redis`,
        15_000,
        async () => (await readyz(r.url)).body.checks.redis === true,
        100,
      );
    }
    const again = [await propagation(a, 4), await propagation(b, 5), await propagation(a, 6)];
    expect(Math.max(...again)).toBeLessThan(POLL_MS / 3);
    console.log(
      `redis outage: ${paths.length} artifacts accepted and published across the outage; catch-up with Redis ${withRedis.map((x) => x.toFixed(0)).join("/")} ms, ` +
        `without ${withoutRedis.toFixed(0)} ms, after it came back ${again.map((x) => x.toFixed(0)).join("/")} ms (poll ${POLL_MS} ms)`,
    );
  }, 120_000);
});
