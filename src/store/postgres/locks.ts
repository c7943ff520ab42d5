/**
 * tufbox's named locks on PostgreSQL: session-level advisory locks, each
 * held on a reserved connection of a pool of its own, so lock holders and
 * waiters can never take the connections the holder's own queries need.
 * Unprepared: a lock attempt is then one round trip even on a connection that
 * has not run it before. Lost locks are detected at commit
 * (checkLocksStillHeld), never assumed away.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { SQL } from "bun";
import { StoreConflictError } from "../store.ts";

/**
 * First key of withLock's advisory locks ("tufb"): its own space, so no
 * collision with migrations ("tufm"), leadership ("tufl") or another
 * application's single-key locks on the same database. The second key hashes
 * the schema too: two tufbox instances in two schemas are independent.
 */
const LOCK_SPACE = 0x74756662;

/** A session advisory lock this async context holds (see withLock). */
export type HeldLock = { name: string; key: number; pid: number };

type Reserved = Awaited<ReturnType<SQL["reserve"]>>;

export class AdvisoryLocks {
  readonly #sql: SQL;
  /** tail of the in-process queue of lock attempts (see acquire) */
  #acquiring: Promise<void> = Promise.resolve();
  /** tail of each named lock's in-process queue (see withLock) */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #held = new AsyncLocalStorage<HeldLock[]>();
  /**
   * The locks this instance holds right now. An async context can outlive
   * the withLock that set it: work started inside a lock (a server reload
   * after a publication, a timer) hands the context on to callbacks that run
   * after the lock was released, e.g. the next HTTP request and the task it
   * starts. Such a released lock is not this context's to check.
   */
  readonly #active = new Set<HeldLock>();

  constructor(url: string, opts: { connections: number; connectionTimeoutSeconds: number }) {
    this.#sql = new SQL(url, {
      max: opts.connections,
      connectionTimeout: opts.connectionTimeoutSeconds,
      prepare: false,
    });
  }

  /** The locks the calling async context holds (commitPublication re-checks them in its transaction). */
  heldHere(): HeldLock[] {
    return (this.#held.getStore() ?? []).filter((l) => this.#active.has(l));
  }

  close(): Promise<void> {
    return this.#sql.close({ timeout: 5 });
  }

  /**
   * A session-level advisory lock, held on a reserved connection for the
   * whole of `fn`: one holder per name across every replica on this database
   * (and schema). Not re-entrant, like SqliteStore.withLock.
   *
   * In this process, callers of one name first queue in memory (so waiting
   * takes no connection), and locks are taken in call order across names, as
   * SQLite's in-memory lock does: see acquire(). If the lock's connection
   * dies, PostgreSQL drops the lock while `fn` still runs; commitPublication
   * therefore re-checks, inside its transaction, that every lock of its async
   * context is still held.
   */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(name) ?? Promise.resolve();
    let done!: () => void;
    const tail = previous.then(() => new Promise<void>((resolve) => (done = resolve)));
    this.#queues.set(name, tail);
    await previous;
    try {
      const { conn, lock } = await this.#acquire(name);
      this.#active.add(lock);
      try {
        return await this.#held.run([...this.heldHere(), lock], fn);
      } finally {
        this.#active.delete(lock);
        await release(conn, lock);
      }
    } finally {
      done();
      if (this.#queues.get(name) === tail) this.#queues.delete(name);
    }
  }

  /**
   * Take the advisory lock `name` on a reserved connection. Attempts run one
   * at a time in call order and do not wait (pg_try_advisory_lock), so of two
   * free locks asked for in a row the first is always taken first: network
   * jitter cannot reorder them. Only a lock held elsewhere (another replica)
   * is then waited for, outside that queue, so it delays no other name.
   */
  async #acquire(name: string): Promise<{ conn: Reserved; lock: HeldLock }> {
    const lockSql = this.#sql;
    const turn = this.#acquiring;
    let next!: () => void;
    this.#acquiring = new Promise<void>((resolve) => (next = resolve));
    let conn: Reserved | undefined;
    let row: { key: number; pid: number; got: boolean };
    try {
      await turn;
      conn = await lockSql.reserve();
      [row] = await conn`
        SELECT s.key, pg_backend_pid() AS pid, pg_try_advisory_lock(${LOCK_SPACE}, s.key) AS got
        FROM (SELECT hashtext(concat_ws('/', current_schema(), ${name}::text)) AS key) s`;
    } catch (err) {
      // If the answer was lost we cannot know whether the lock was taken:
      // closing the session is what guarantees it is not.
      conn?.close();
      throw err;
    } finally {
      next();
    }
    const lock: HeldLock = { name, key: row.key, pid: row.pid };
    if (!row.got) {
      try {
        await conn`SELECT pg_advisory_lock(${LOCK_SPACE}, ${lock.key})`;
      } catch (err) {
        conn.close();
        throw err;
      }
    }
    return { conn, lock };
  }
}

/** Inside a transaction: fail with a conflict unless every lock in `locks` is still held by its session. */
export async function checkLocksStillHeld(tx: SQL, locks: HeldLock[]): Promise<void> {
  for (const lock of locks) {
    const [row] = await tx`
      SELECT count(*) AS n FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND pid = ${lock.pid}
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid::bigint = ${LOCK_SPACE} AND objid::bigint = ${lock.key >>> 0} AND objsubid = 2`;
    if (Number(row.n) !== 1) {
      throw new StoreConflictError(
        `the "${lock.name}" lock was lost (its database connection ended) before this commit; another replica may be publishing: reload and retry`,
      );
    }
  }
}

async function release(conn: Reserved, lock: HeldLock) {
  let clean = false;
  try {
    const [row] = await conn`SELECT pg_advisory_unlock(${LOCK_SPACE}, ${lock.key}) AS ok`;
    clean = row.ok === true;
  } catch {
    // connection gone: the server already dropped the lock with the session
  }
  // A connection we could not unlock on is closed, not pooled: ending the
  // session is what guarantees the server drops the lock.
  if (clean) conn.release();
  else conn.close();
}
