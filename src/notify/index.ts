import type { Logger } from "../log.ts";
import { LocalNotifier } from "./local.ts";
import type { Notifier } from "./notifier.ts";
import { PostgresNotifier } from "./postgres.ts";
import { RedisNotifier } from "./redis.ts";

export { LocalNotifier } from "./local.ts";
export type { Notifier } from "./notifier.ts";
export { PostgresNotifier } from "./postgres.ts";
export { RedisNotifier } from "./redis.ts";

/**
 * Redis when configured; else LISTEN/NOTIFY when the store is PostgreSQL;
 * else (SQLite, one process) nothing crosses the process boundary.
 */
export function createNotifier(opts: {
  database: string;
  redis: string | null;
  storeKind: "sqlite" | "postgres";
  log: Logger;
}): Notifier {
  if (opts.redis) return new RedisNotifier(opts.redis, opts.log, { channelPrefix: channelPrefix(opts.database) });
  if (opts.storeKind === "postgres") return new PostgresNotifier(opts.database, opts.log);
  return new LocalNotifier(opts.log);
}

/**
 * Redis channels are named after the database (and schema) the replicas
 * share, so several tufbox deployments can use one Redis without waking
 * each other: "tufbox:<db>[:<schema>]". Replicas that reach the same
 * database under different host names still agree on it.
 */
export function channelPrefix(database: string): string {
  try {
    const u = new URL(database);
    if (/^postgres(ql)?:$/i.test(u.protocol)) {
      const db = decodeURIComponent(u.pathname.replace(/^\//, "")) || u.username || "postgres";
      const schema = u.searchParams.get("search_path")?.split(",")[0]?.trim();
      return `tufbox:${db}${schema ? `:${schema}` : ""}`;
    }
  } catch {
    // not a URL: a SQLite path
  }
  return "tufbox:sqlite";
}
