/**
 * The two small distributed pieces on their own, against the real servers:
 * scheduler leadership (one PostgreSQL advisory lock session; another
 * replica takes over the moment that session ends) and the notifiers
 * (Redis pub/sub, PostgreSQL LISTEN/NOTIFY): every other replica hears a
 * message, the sender does not hear its own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PostgresLeadership } from "../../src/store/leader.ts";
import { PostgresNotifier } from "../../src/notify/postgres.ts";
import { RedisNotifier } from "../../src/notify/redis.ts";
import { channelPrefix } from "../../src/notify/index.ts";
import type { Notifier } from "../../src/notify/notifier.ts";
import { Scheduler } from "../../src/scheduler.ts";
import { silentLogger } from "../../src/log.ts";
import type { Repository } from "../../src/repository/repository.ts";
import type { Store } from "../../src/store/store.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import {
  REDIS_URL,
  bootstrap,
  createDatabase,
  eventually,
  namedUrl,
  sameBytes,
  timestampOf,
  withServices,
} from "./helpers.ts";

/** "tufl": PostgresLeadership's lock space */
const LEADER_LOCK_SPACE = 0x7475666c;

withServices("test/scaleout/leader-notify.test.ts", { redis: true }, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  const log = silentLogger();

  beforeAll(async () => {
    db = await createDatabase("leader");
  });
  afterAll(async () => {
    await db?.drop();
  });

  describe("scheduler leadership", () => {
    test("one leader at a time; when its session ends another takes over; closing hands it on", async () => {
      const a = new PostgresLeadership(db.url, log);
      const b = new PostgresLeadership(db.url, log);
      const c = new PostgresLeadership(db.url, log);
      try {
        expect(await a.isLeader()).toBe(true);
        expect(await b.isLeader()).toBe(false);
        expect(await c.isLeader()).toBe(false);
        // Asking again keeps it (the holder checks its session still holds the lock).
        expect(await Promise.all([a.isLeader(), a.isLeader(), b.isLeader()])).toEqual([true, true, false]);
        expect([a.leading, b.leading, c.leading]).toEqual([true, false, false]);

        // The leader's session dies (a crashed replica, a cut connection).
        const killed = await db.sql`
          SELECT pg_terminate_backend(pid) AS ok FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND classid::bigint = ${LEADER_LOCK_SPACE}
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
        expect(killed.length).toBe(1);
        await eventually("the lock released", 5000, async () => {
          const [row] =
            await db.sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = ${LEADER_LOCK_SPACE}`;
          return row.n === 0;
        });
        expect(await b.isLeader()).toBe(true);
        // The old leader notices before it would run a job, and does not get it back.
        expect(await a.isLeader()).toBe(false);
        expect(a.leading).toBe(false);
        expect(await c.isLeader()).toBe(false);

        // A leader that stops hands over at once.
        await b.close();
        expect(await c.isLeader()).toBe(true);
        expect(await a.isLeader()).toBe(false);
      } finally {
        await Promise.all([a.close(), b.close(), c.close()]);
      }
    });

    test("an unreachable database: not the leader, no exception", async () => {
      const u = new URL(db.url);
      u.port = "1";
      const down = new PostgresLeadership(u.toString(), log);
      expect(await down.isLeader()).toBe(false);
      await down.close();
    });

    test("only the leader's scheduler runs timed jobs", async () => {
      const ran: string[] = [];
      const store = { pruneTasks: async () => (ran.push("prune"), 0) } as unknown as Store;
      const repo = { expiringRoles: () => [], requestBump: () => {} } as unknown as Repository;
      const opts = { periodSeconds: 60, resignWindowHours: 6, taskRetentionHours: 24 };
      const a = new PostgresLeadership(db.url, log);
      const b = new PostgresLeadership(db.url, log);
      try {
        const sa = new Scheduler({ repo, store, log, leader: a }, opts);
        const sb = new Scheduler({ repo, store, log, leader: b }, opts);
        expect(await sa.runIfLeader("prune-tasks")).toBe("pruned 0 task(s)");
        expect(await sb.runIfLeader("prune-tasks")).toBeNull();
        expect(ran).toEqual(["prune"]);
        expect([sa.leading, sb.leading]).toEqual([true, false]);
        // Run on demand (API, CLI) works on any replica.
        expect(await sb.runNow("prune-tasks")).toBe("pruned 0 task(s)");
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });

  describe("notifiers", () => {
    async function exchange(make: () => Notifier) {
      const [a, b, c] = [make(), make(), make()];
      const heard: string[] = [];
      for (const [name, n] of [
        ["a", a],
        ["b", b],
        ["c", c],
      ] as const) {
        n.onWake(() => heard.push(`${name} wake`));
        n.onPublished((v) => heard.push(`${name} published ${v}`));
      }
      try {
        await Promise.all([a, b, c].map((n) => n.start()));
        expect(await a.ping()).toBe(true);
        heard.length = 0; // (re)connecting reports a wake-up: drop those
        a.announceChange();
        a.announcePublished(42);
        await eventually("b and c heard both", 3000, async () => heard.length >= 4, 5);
        await Bun.sleep(100); // and nothing more arrives
        expect(heard.sort()).toEqual(["b published 42", "b wake", "c published 42", "c wake"]);
      } finally {
        await Promise.all([a, b, c].map((n) => n.close()));
      }
    }

    test("Redis: every other replica hears a message, the sender does not", async () => {
      await exchange(() => new RedisNotifier(REDIS_URL, log, { channelPrefix: channelPrefix(db.url) }));
    });

    test("PostgreSQL LISTEN/NOTIFY: every other replica hears a message, the sender does not", async () => {
      await exchange(() => new PostgresNotifier(db.url, log));
    });

    test("Redis unreachable at start: start() does not fail, ping is false, announcements are dropped quietly", async () => {
      const n = new RedisNotifier("redis://127.0.0.1:1", log, { channelPrefix: "tufbox:test", connectTimeoutMs: 500 });
      await n.start();
      expect(await n.ping()).toBe(false);
      n.announceChange();
      n.announcePublished(1);
      await n.close();
    });

    test("a publication no replica was woken for (a scheduler re-sign) reaches the others at once, over Redis and over LISTEN/NOTIFY", async () => {
      for (const redis of [REDIS_URL, null]) {
        const other = await createDatabase("published");
        const servers: TestServer[] = [];
        try {
          // A poll far longer than the wait below: only the "published" message can explain a catch-up.
          const env = { TUFBOX_PUBLISHER_POLL_MS: "60000" };
          for (const name of ["pa", "pb"]) {
            servers.push(
              await startTestServer({
                flags: { database: namedUrl(other.url, name), ...(redis ? { redis } : {}) },
                env,
              }),
            );
          }
          const [a, b] = servers as [TestServer, TestServer];
          expect(a.app.notifier.kind).toBe(redis ? "redis" : "postgres");
          await bootstrap(a.url, 8);
          await eventually("b bootstrapped", 5000, async () => b.app.repo.bootstrapped);
          for (let round = 0; round < 3; round++) {
            const before = a.app.repo.timestampVersion;
            // A re-sign request stays in this process: nobody else is woken for it.
            a.app.repo.requestBump(["timestamp"]);
            await eventually("a published", 5000, async () => a.app.repo.timestampVersion > before, 2);
            const t0 = performance.now();
            await eventually(
              "b serving a's new timestamp",
              2000,
              async () => sameBytes((await timestampOf(b.url)).bytes, (await timestampOf(a.url)).bytes),
              2,
            );
            expect(performance.now() - t0).toBeLessThan(1000);
          }
        } finally {
          for (const s of servers) await s.stop();
          await other.drop();
        }
      }
    }, 60_000);

    test("channel names follow the database (and schema), not the host", () => {
      expect(channelPrefix("postgres://u:p@db1:5432/tuf")).toBe("tufbox:tuf");
      expect(channelPrefix("postgresql://u@db2.example/tuf?sslmode=require")).toBe("tufbox:tuf");
      expect(channelPrefix("postgres://u@db/tuf?search_path=prod")).toBe("tufbox:tuf:prod");
      expect(channelPrefix("sqlite:/var/lib/tufbox/tufbox.db")).toBe("tufbox:sqlite");
    });
  });
});
