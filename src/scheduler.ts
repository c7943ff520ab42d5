/**
 * Scheduled jobs (croner). Jobs have stable names, can be listed and run now,
 * and log what they did. Only the online roles are re-signed here: root is
 * signed offline. With several replicas, only the scheduler leader
 * (store/leader.ts) runs the timed jobs; the others skip their turn.
 */
import { Cron } from "croner";
import type { Logger } from "./log.ts";
import type { Repository } from "./repository/repository.ts";
import type { Store } from "./store/store.ts";
import { LocalLeadership, type Leadership } from "./store/leadership.ts";

export interface SchedulerOptions {
  periodSeconds: number;
  resignWindowHours: number;
  taskRetentionHours: number;
}

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
  cron: Cron | null;
  lastRun: string | null;
  lastResult: string | null;
  /** own period; default: the scheduler's */
  periodSeconds?: number;
}

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

  constructor(deps: { repo: Repository; store: Store; log: Logger; leader?: Leadership }, opts: SchedulerOptions) {
    this.#log = deps.log;
    this.#opts = opts;
    this.#leader = deps.leader ?? new LocalLeadership();
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
    this.#add("prune-tasks", "delete finished task results older than the retention period", async () => {
      const before = new Date(Date.now() - opts.taskRetentionHours * 3_600_000).toISOString();
      const n = await deps.store.pruneTasks(before);
      return `pruned ${n} task(s)`;
    });
  }

  #add(name: string, description: string, run: () => Promise<string>, periodSeconds?: number): void {
    this.#jobs.set(name, { name, description, run, cron: null, lastRun: null, lastResult: null, periodSeconds });
  }

  /** A job another part of the App owns (e.g. storage/gc.ts); call before start(). */
  register(job: { name: string; description: string; run: () => Promise<string>; periodSeconds?: number }): void {
    if (this.#jobs.has(job.name)) throw new Error(`a scheduled job named ${job.name} exists already`);
    this.#add(job.name, job.description, job.run, job.periodSeconds);
  }

  start(): void {
    for (const job of this.#jobs.values()) {
      const period =
        job.periodSeconds ??
        (job.name === "prune-tasks" ? Math.max(this.#opts.periodSeconds, 600) : this.#opts.periodSeconds);
      job.cron = new Cron("* * * * * *", { interval: period, protect: true }, () =>
        this.runIfLeader(job.name).then(() => undefined),
      );
    }
  }

  stop(): void {
    for (const job of this.#jobs.values()) {
      job.cron?.stop();
      job.cron = null;
    }
  }

  list(): JobInfo[] {
    return [...this.#jobs.values()].map((j) => ({
      name: j.name,
      description: j.description,
      lastRun: j.lastRun,
      lastResult: j.lastResult,
      nextRun: j.cron?.nextRun()?.toISOString() ?? null,
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
    job.lastRun = new Date().toISOString();
    try {
      job.lastResult = await job.run();
      // Quiet when a run changed nothing; every run is still visible in list().
      if (
        job.lastResult !== "nothing near expiry" &&
        job.lastResult !== "pruned 0 task(s)" &&
        !job.lastResult.startsWith("artifact content: 0 deleted (0 bytes), 0 newly unlisted")
      )
        this.#log.info(`job ${name}: ${job.lastResult}`, { job: name });
    } catch (err) {
      job.lastResult = `failed: ${err instanceof Error ? err.message : String(err)}`;
      this.#log.error(`job ${name} failed`, { job: name, error: job.lastResult });
    }
    return job.lastResult;
  }
}
