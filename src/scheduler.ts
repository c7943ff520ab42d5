/**
 * Scheduled jobs. Jobs have stable names, can be listed and run now, and log
 * what they did. Only the online roles are re-signed here: root is signed
 * offline. With several replicas, only the scheduler leader
 * (store/leadership.ts) runs the timed jobs; the others skip their turn.
 *
 * Timers run on the App's clock (src/clock.ts), so tests drive them. When the
 * clock reports a jump (the machine resumed from suspend, or the wall clock
 * was stepped), re-signing runs at once: waiting for the next period could
 * leave an expired timestamp served for up to a period.
 */
import type { Logger } from "./log.ts";
import type { Repository } from "./repository/repository.ts";
import { SystemClock, type Clock, type ClockTimer } from "./clock.ts";
import type { Store } from "./store/store.ts";
import { LocalLeadership, type Leadership } from "./store/leadership.ts";

export interface SchedulerOptions {
  periodSeconds: number;
  resignWindowHours: number;
  taskRetentionHours: number;
  /** how long a superseded metadata version outlives the last snapshot/timestamp that could point to it */
  retentionGraceHours?: number;
  /** the clock retention compares expiry dates with (tests and the soak bench run it fast) */
  now?: () => Date;
  /** audit entries older than this are deleted (default 365) */
  auditRetentionDays?: number;
}

/** Versions deleted per transaction: each batch is short, so publications interleave. */
const PRUNE_CHUNK = 2000;
/** Most chunks per run; the next run continues. */
const PRUNE_CHUNKS_PER_RUN = 100;

export interface JobInfo {
  name: string;
  description: string;
  lastRun: string | null;
  lastResult: string | null;
  nextRun: string | null;
}

interface Job {
  name: string;
  description: string;
  run: () => Promise<string>;
  periodMs: number;
  timer: ClockTimer | null;
  nextRun: number | null;
  /** the run in progress: timed runs never overlap */
  running: Promise<string> | null;
  lastRun: string | null;
  lastResult: string | null;
}

/** Results of runs that changed nothing: not logged. */
const QUIET_RESULTS = new Set([
  "nothing near expiry",
  "pruned 0 task(s)",
  "pruned 0 audit entries",
  "no alerts",
  "pruned 0 metadata version(s), 0 bytes",
]);

/** Never let the window be shorter than one period plus a margin: a role must not expire between two runs. */
export function effectiveResignWindowMs(opts: SchedulerOptions): number {
  const marginMs = Math.max(60_000, opts.periodSeconds * 1000);
  return Math.max(opts.resignWindowHours * 3_600_000, opts.periodSeconds * 1000 + marginMs);
}

export class Scheduler {
  readonly #jobs = new Map<string, Job>();
  readonly #log: Logger;
  readonly #opts: SchedulerOptions;
  readonly #leader: Leadership;
  /** metadata versions (and their bytes) the retention job deleted since start (metrics) */
  readonly pruned = { versions: 0, bytes: 0 };
  readonly #clock: Clock;
  #unwatch: (() => void) | null = null;

  constructor(
    deps: { repo: Repository; store: Store; log: Logger; leader?: Leadership; clock?: Clock },
    opts: SchedulerOptions,
  ) {
    this.#log = deps.log;
    this.#opts = opts;
    this.#leader = deps.leader ?? new LocalLeadership();
    const clock = deps.clock ?? new SystemClock();
    this.#clock = clock;
    const windowMs = effectiveResignWindowMs(opts);
    this.#add(
      "resign-expiring",
      "re-sign online roles (bins, targets, snapshot, timestamp) that expire within the re-sign window",
      async () => {
        const roles = deps.repo.expiringRoles(windowMs);
        if (roles.length === 0) return "nothing near expiry";
        deps.repo.requestBump(roles);
        return `re-signing ${roles.length} role(s): ${roles.slice(0, 5).join(", ")}${roles.length > 5 ? ", …" : ""}`;
      },
    );
    const now = opts.now ?? (() => new Date(this.#clock.now()));
    this.#add(
      "prune-metadata",
      "delete superseded metadata versions that no unexpired snapshot or timestamp ever served points to, after retention.grace_hours (root versions are kept)",
      async () => {
        // A client that read a timestamp just before it expired may still be
        // fetching what it names: the grace covers slow and paused clients.
        const cutoff = new Date(now().getTime() - (opts.retentionGraceHours ?? 24) * 3_600_000).toISOString();
        let versions = 0;
        let bytes = 0;
        for (let i = 0; i < PRUNE_CHUNKS_PER_RUN; i++) {
          const r = await deps.store.pruneDocuments(cutoff, PRUNE_CHUNK);
          versions += r.versions;
          bytes += r.bytes;
          if (r.versions === 0) break;
          await Bun.sleep(0);
        }
        this.pruned.versions += versions;
        this.pruned.bytes += bytes;
        return `pruned ${versions} metadata version(s), ${bytes} bytes`;
      },
    );
    this.#add("prune-tasks", "delete finished task results older than the retention period", async () => {
      // Real time, not the App's clock: the store stamps tasks with real time.
      const before = new Date(Date.now() - opts.taskRetentionHours * 3_600_000).toISOString();
      const n = await deps.store.pruneTasks(before);
      return `pruned ${n} task(s)`;
    });
    this.#add("prune-audit", "delete audit log entries older than audit.retention_days", async () => {
      const days = opts.auditRetentionDays ?? 365;
      const n = await deps.store.pruneAudit(new Date(Date.now() - days * 86_400_000).toISOString());
      return `pruned ${n} audit entries`;
    });
  }

  /**
   * Add a job from another part of the App (alerts, drop directory, mirror,
   * artifact content GC); before start(). `periodSeconds`: its own period
   * (default: the scheduler's).
   */
  register(name: string, description: string, run: () => Promise<string>, periodSeconds?: number): void {
    if (this.#jobs.has(name)) throw new Error(`a scheduled job named ${name} already exists`);
    this.#add(name, description, run, periodSeconds);
  }

  #add(name: string, description: string, run: () => Promise<string>, ownPeriodSeconds?: number): void {
    const periodSeconds =
      ownPeriodSeconds ??
      (name.startsWith("prune-") ? Math.max(this.#opts.periodSeconds, 600) : this.#opts.periodSeconds);
    this.#jobs.set(name, {
      name,
      description,
      run,
      periodMs: periodSeconds * 1000,
      timer: null,
      nextRun: null,
      running: null,
      lastRun: null,
      lastResult: null,
    });
  }

  start(): void {
    if (this.#unwatch) return;
    for (const job of this.#jobs.values()) this.#arm(job);
    this.#unwatch = this.#clock.onJump((deltaMs) => {
      if (deltaMs <= 0) return;
      this.#log.info("the clock jumped forward; re-signing what expires soon now", {
        seconds: Math.round(deltaMs / 1000),
      });
      this.#timed(this.#jobs.get("resign-expiring")!);
    });
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = null;
    for (const job of this.#jobs.values()) {
      job.timer?.cancel();
      job.timer = null;
      job.nextRun = null;
    }
  }

  /** The next timed run, one period after this one was armed; a run still going skips its turn. */
  #arm(job: Job): void {
    job.nextRun = this.#clock.now() + job.periodMs;
    job.timer = this.#clock.setTimer(job.periodMs, () => {
      if (job.timer === null) return;
      this.#arm(job);
      this.#timed(job);
    });
  }

  /** A timed run, if this replica leads and the job is not running already (marked at once: timers may fire in a burst). */
  #timed(job: Job): void {
    if (job.running) return;
    const run = (async () =>
      (await this.#leader.isLeader()) ? this.#runJob(job) : "skipped: not the scheduler leader")();
    job.running = run;
    void run.finally(() => {
      if (job.running === run) job.running = null;
    });
  }

  /** Resolves once no job is running (tests driving the clock). */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.#jobs.values()].flatMap((j) => (j.running ? [j.running] : []));
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  list(): JobInfo[] {
    return [...this.#jobs.values()].map((j) => ({
      name: j.name,
      description: j.description,
      lastRun: j.lastRun,
      lastResult: j.lastResult,
      nextRun: j.nextRun === null ? null : new Date(j.nextRun).toISOString(),
    }));
  }

  /** Whether this replica runs the timed jobs (as of its last attempt). */
  get leading(): boolean {
    return this.#leader.leading;
  }

  /** Run a job if this replica is the scheduler leader (timed runs); null when it is not. */
  async runIfLeader(name: string): Promise<string | null> {
    if (!(await this.#leader.isLeader())) return null;
    return this.runNow(name);
  }

  async runNow(name: string): Promise<string> {
    const job = this.#jobs.get(name);
    if (!job) throw new Error(`no scheduled job named ${name} (jobs: ${[...this.#jobs.keys()].join(", ")})`);
    const run = this.#runJob(job);
    job.running = run;
    try {
      return await run;
    } finally {
      if (job.running === run) job.running = null;
    }
  }

  async #runJob(job: Job): Promise<string> {
    const name = job.name;
    job.lastRun = new Date(this.#clock.now()).toISOString();
    try {
      job.lastResult = await job.run();
      // Quiet when a run changed nothing; every run is still visible in list().
      // (artifact content GC: "… 0 deleted (0 bytes), 0 newly unlisted, …" changed nothing either)
      if (
        !QUIET_RESULTS.has(job.lastResult) &&
        !/^artifact content: 0 deleted \(0 bytes\), 0 newly unlisted/.test(job.lastResult)
      )
        this.#log.info(`job ${name}: ${job.lastResult}`, { job: name });
    } catch (err) {
      job.lastResult = `failed: ${err instanceof Error ? err.message : String(err)}`;
      this.#log.error(`job ${name} failed`, { job: name, error: job.lastResult });
    }
    return job.lastResult;
  }
}
