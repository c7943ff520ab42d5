/**
 * The notifier contract over PostgreSQL LISTEN/NOTIFY, against a real server
 * (TUFBOX_TEST_POSTGRES_URL; fails under CI without it).
 */
import { afterAll, beforeAll } from "bun:test";
import { silentLogger } from "../../src/log.ts";
import { PostgresNotifier } from "../../src/notify/postgres.ts";
import { createDatabase, withServices } from "../helpers/services.ts";
import { notifierContract } from "./contract.ts";

withServices("test/notify/postgres.test.ts", {}, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  beforeAll(async () => {
    db = await createDatabase("notify");
  });
  afterAll(async () => {
    await db?.drop();
  });
  const log = silentLogger();
  notifierContract({
    kind: "postgres",
    make: () => new PostgresNotifier(db.url, log),
    crossesReplicas: true,
    unreachable: () => {
      const u = new URL(db.url);
      u.port = "1";
      return new PostgresNotifier(u.toString(), log);
    },
    cutConnections: async () => {
      // Every session listening in this database, as a crash or a failover would end it.
      await db.sql`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`;
    },
  });
});
