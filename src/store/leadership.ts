/**
 * Scheduler leadership: of all replicas sharing one database, only one runs
 * the scheduler's jobs at a time, and if it dies another takes over.
 *
 * - SQLite (one process): always the leader (LocalLeadership).
 * - PostgreSQL: an advisory lock on one session (postgres/leadership.ts).
 *
 * The jobs (re-sign what is about to expire, prune old task results) are
 * idempotent and go through the publisher lock anyway: leadership saves
 * duplicate work, it does not guard correctness.
 */
export interface Leadership {
  /** Is this replica the leader? Tries to become it when no one is. Never throws. */
  isLeader(): Promise<boolean>;
  /** the last answer of isLeader, without asking the database */
  readonly leading: boolean;
  /** Give leadership up (another replica can take it at once). */
  close(): Promise<void>;
}

/** One process, one scheduler. */
export class LocalLeadership implements Leadership {
  readonly leading = true;
  async isLeader(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}
