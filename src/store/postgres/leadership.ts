/**
 * Scheduler leadership on PostgreSQL (store/leadership.ts says what it is
 * for): a session advisory lock (pg_try_advisory_lock) held on one dedicated
 * connection. PostgreSQL drops it the moment that session ends (the process
 * died, was killed with -9, or lost its connection), so the next replica to
 * ask gets it: leadership moves within one scheduler period. Never waits: a
 * replica that is not the leader just skips the run.
 *
 * Each run asks again first (isLeader), and the holder re-checks that its
 * session still holds the lock, so a replica whose connection died stops
 * running jobs before it would run one. Not for PgBouncer's transaction mode
 * (nor is the publisher).
 */
import { SQL } from "bun";
import type { Logger } from "../../log.ts";
import type { Leadership } from "../leadership.ts";

/** "tufl": leadership locks, apart from the store's own lock spaces ("tufb", "tufm"). */
const LEADER_LOCK_SPACE = 0x7475666c;

type Reserved = Awaited<ReturnType<SQL["reserve"]>>;

export class PostgresLeadership implements Leadership {
  readonly #sql: SQL;
  readonly #name: string;
  readonly #log: Logger;
  #conn: Reserved | null = null;
  #key = 0;
  #leading = false;
  #closed = false;
  /** isLeader calls run one at a time */
  #turn: Promise<unknown> = Promise.resolve();

  /** `name` tells several leaderships in one database apart (default "scheduler"). */
  constructor(url: string, log: Logger, name = "scheduler") {
    // One connection: the session that holds the lock. Unprepared, like the store's lock pool.
    this.#sql = new SQL(url, { max: 1, connectionTimeout: 5, prepare: false });
    this.#name = name;
    this.#log = log;
  }

  get leading(): boolean {
    return this.#leading;
  }

  isLeader(): Promise<boolean> {
    const run = this.#turn.then(() => this.#check());
    this.#turn = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#turn;
    await this.#letGo();
    await this.#sql.close({ timeout: 2 });
  }

  async #check(): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#conn) {
      if (await this.#stillHeld(this.#conn)) return true;
      this.#log.warn("no longer the scheduler leader (its database session ended); another replica may take over");
      await this.#letGo();
    }
    return this.#tryAcquire();
  }

  async #stillHeld(conn: Reserved): Promise<boolean> {
    try {
      const [row] = await conn`
        SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::bigint = ${LEADER_LOCK_SPACE} AND objid::bigint = ${this.#key >>> 0} AND objsubid = 2`;
      return row?.n === 1;
    } catch {
      return false;
    }
  }

  async #tryAcquire(): Promise<boolean> {
    let conn: Reserved | undefined;
    try {
      conn = await this.#sql.reserve();
      const [row] = await conn`
        SELECT s.key, pg_try_advisory_lock(${LEADER_LOCK_SPACE}, s.key) AS got
        FROM (SELECT hashtext(concat_ws('/', current_schema(), ${this.#name}::text)) AS key) s`;
      if (row?.got === true) {
        this.#conn = conn;
        this.#key = row.key as number;
        if (!this.#leading) this.#log.info("this replica is now the scheduler leader (it runs the scheduled jobs)");
        this.#leading = true;
        return true;
      }
      conn.release();
    } catch (err) {
      // Unreachable database: not the leader. If the answer was lost we cannot
      // know whether the lock was taken: closing the session guarantees it is not.
      conn?.close();
      this.#log.debug("could not ask for scheduler leadership", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    this.#leading = false;
    return false;
  }

  async #letGo(): Promise<void> {
    const conn = this.#conn;
    this.#conn = null;
    this.#leading = false;
    if (!conn) return;
    try {
      await conn`SELECT pg_advisory_unlock(${LEADER_LOCK_SPACE}, ${this.#key})`;
    } catch {
      // the session is gone, and the lock with it
    }
    // Never back into the pool: ending the session is what guarantees the lock is gone.
    conn.close();
  }
}
