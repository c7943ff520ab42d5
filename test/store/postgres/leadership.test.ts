/**
 * Scheduler leadership against a real PostgreSQL: one advisory lock session;
 * another replica takes over the moment that session ends.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PostgresLeadership } from "../../../src/store/postgres/leadership.ts";
import { Scheduler } from "../../../src/scheduler.ts";
import { silentLogger } from "../../../src/log.ts";
import type { Repository } from "../../../src/repository/repository.ts";
import type { Store } from "../../../src/store/store.ts";
import { createDatabase, eventually, withServices } from "../../helpers/services.ts";

/** "tufl": PostgresLeadership's lock space */
const LEADER_LOCK_SPACE = 0x7475666c;

withServices("test/store/postgres/leadership.test.ts", {}, () => {
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
});
