/**
 * PostgreSQL restarted while artifacts are being added through a replica:
 * writes during the outage get clean 503s (never a 500, never a dropped
 * connection), metadata stays served from memory, nothing acknowledged with
 * 202 is lost, and both replicas recover by themselves: new adds are accepted
 * and published, /readyz is green again, and LISTEN/NOTIFY (these replicas
 * have no Redis) wakes the other replica again after the restart.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TOKEN } from "../helpers/server.ts";
import {
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
const POLL_MS = 5000;

withServices("test/scaleout/postgres-restart.test.ts", { outages: true }, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  const replicas: Replica[] = [];
  let serverDown = false;

  beforeAll(async () => {
    db = await createDatabase("pgrestart");
  });

  afterAll(async () => {
    if (serverDown) services("start-postgres"); // whatever happened, leave the server up for the next file
    await Promise.all(replicas.map((r) => r.stop()));
    await db?.drop();
  }, 30_000);

  /**
   * ms from an add through `from` being published (by whichever replica got
   * the publisher lock) until both replicas serve the newest timestamp.
   */
  async function propagation(from: Replica, to: Replica, i: number): Promise<number> {
    const r = await call(from.url, "POST", "/api/v1/artifacts", { artifacts: [artifact("propagation", i)] });
    expect(r.status).toBe(202);
    await eventually(
      "the add published",
      10_000,
      async () => {
        const t = await call(from.url, "GET", `/api/v1/task?task_id=${r.body.data.task_id}`);
        return t.body?.data?.state === "SUCCESS";
      },
      2,
    );
    const t0 = performance.now();
    const [latest] =
      await db.sql`SELECT d.bytes FROM documents d JOIN heads h ON h.role = d.role AND h.version = d.version WHERE d.role = 'timestamp'`;
    const newest = new Uint8Array(latest.bytes);
    await eventually(
      "both replicas serving it",
      3 * POLL_MS,
      async () => {
        const served = await Promise.all([from, to].map((x) => timestampOf(x.url)));
        return served.every((s) => sameBytes(s.bytes, newest));
      },
      2,
    );
    return performance.now() - t0;
  }

  test("writes during a PostgreSQL restart get 503s; nothing acknowledged is lost; replicas recover without a restart", async () => {
    const env = { TUFBOX_PUBLISHER_POLL_MS: String(POLL_MS) };
    replicas.push(await startReplica("pgr-a", db.url, { env }), await startReplica("pgr-b", db.url, { env }));
    const [a, b] = replicas as [Replica, Replica];
    await bootstrap(a.url, 64);
    await eventually("both replicas ready", 3 * POLL_MS, async () =>
      (await Promise.all(replicas.map((r) => readyz(r.url)))).every((x) => x.status === 200),
    );

    // LISTEN/NOTIFY: B catches up with A's publications well before its poll would.
    const before = [await propagation(a, b, 0), await propagation(a, b, 1), await propagation(a, b, 2)];
    expect(Math.max(...before)).toBeLessThan(1500);

    const acked = new Map<string, string[]>(); // task id → paths
    const outageBodies: { status: number; body: any; retryAfter: string | null }[] = [];
    const statuses = new Map<number, number>();
    const networkErrors: string[] = [];
    let phase: "before" | "outage" | "after" = "before";
    let ackedAfter = 0;
    let next = 0;
    let stop = false;

    const writer = async () => {
      while (!stop) {
        const from = next;
        next += 20;
        const items = Array.from({ length: 20 }, (_, k) => artifact("restart", from + k));
        let res: Response;
        try {
          res = await fetch(`${a.url}/api/v1/artifacts`, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ artifacts: items }),
          });
        } catch (err) {
          networkErrors.push((err as Error).message);
          await Bun.sleep(20);
          continue;
        }
        const body: any = await res.json().catch(() => null);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 202) {
          acked.set(
            body.data.task_id,
            items.map((x) => x.path),
          );
          if (phase === "after") ackedAfter++;
        } else {
          outageBodies.push({ status: res.status, body, retryAfter: res.headers.get("retry-after") });
        }
        await Bun.sleep(5);
      }
    };
    const writers = [writer(), writer()];

    await eventually("adds flowing", 10_000, async () => acked.size >= 20, 10);
    phase = "outage";
    serverDown = true;
    services("stop-postgres");

    // While the database is away: writes 503, metadata still served, /readyz says why.
    const outageStarted = performance.now();
    const during = await eventually("503s during the outage", 10_000, async () => outageBodies.length >= 5, 10);
    expect(during).toBe(true);
    const ready = await readyz(a.url);
    expect(ready.status).toBe(503);
    expect(ready.body.checks.store).toBe(false);
    expect((await fetch(`${a.url}/metadata/timestamp.json`)).status).toBe(200);
    expect((await fetch(`${b.url}/metadata/timestamp.json`)).status).toBe(200);
    await Bun.sleep(Math.max(0, 2000 - (performance.now() - outageStarted)));

    services("start-postgres");
    serverDown = false;
    phase = "after";
    // Recovered without any restart or manual step: new adds are accepted again.
    await eventually("adds accepted again after the restart", 30_000, async () => ackedAfter >= 20, 20);
    stop = true;
    await Promise.all(writers);

    expect(networkErrors).toEqual([]);
    expect([...statuses.keys()].sort()).toEqual([202, 503]);
    for (const o of outageBodies) {
      expect(o.status).toBe(503);
      expect(o.body).toEqual({
        detail: { message: "Service Unavailable", error: expect.stringContaining("database is unreachable") },
      });
      expect(o.retryAfter).toBe("5");
    }

    // Every acknowledged artifact is published (in the database and served).
    const ids = [...acked.keys()];
    await eventually(
      "every acknowledged task published",
      60_000,
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

    for (const r of replicas) {
      await eventually(`${r.name} ready again`, 15_000, async () => (await readyz(r.url)).status === 200, 100);
    }
    // Both serve the newest timestamp (B catches up at the latest by its poll).
    const [latest] =
      await db.sql`SELECT d.bytes FROM documents d JOIN heads h ON h.role = d.role AND h.version = d.version WHERE d.role = 'timestamp'`;
    await eventually("both replicas serving the newest timestamp", 3 * POLL_MS, async () => {
      const served = await Promise.all(replicas.map((r) => timestampOf(r.url)));
      return served.every((s) => sameBytes(s.bytes, new Uint8Array(latest.bytes)));
    });

    // LISTEN reconnects by itself (Bun retries with backoff): wait until each
    // replica's listening session is back, then notifications are fast again.
    await eventually(
      "both replicas listening again",
      30_000,
      async () => {
        const rows = await db.sql`
        SELECT DISTINCT application_name AS name FROM pg_stat_activity
        WHERE datname = current_database() AND query ILIKE 'LISTEN%tufbox_published%'`;
        return replicas.every((r) => rows.some((x: { name: string }) => x.name === r.name));
      },
      100,
    );
    const after = [await propagation(a, b, 3), await propagation(b, a, 4), await propagation(a, b, 5)];
    expect(Math.max(...after)).toBeLessThan(1500);
    console.log(
      `postgres restart: ${statuses.get(202)} adds accepted, ${statuses.get(503)} answered 503 during the outage, ${paths.length} acknowledged artifacts all published; ` +
        `catch-up via LISTEN/NOTIFY before ${before.map((x) => x.toFixed(0)).join("/")} ms, after ${after.map((x) => x.toFixed(0)).join("/")} ms (poll ${POLL_MS} ms)`,
    );
  }, 120_000);
});
