/**
 * The publisher loop: one per process; the store's publisher lock makes it
 * one per deployment. Woken immediately when a change is accepted, it lingers
 * a few milliseconds to gather more, then publishes batches until nothing is
 * pending. A slow poll catches work accepted by other replicas and anything a
 * lost wake-up missed.
 */
import type { Logger } from "../log.ts";
import type { Repository } from "./repository.ts";

export interface PublisherOptions {
  lingerMs: number;
  pollMs: number;
  /** pause after a failed batch before retrying */
  retryMs?: number;
  /** the most changes one batch takes (publisher.max_batch): gathering a burst stops there */
  maxBatch?: number;
  /** the longest a burst is gathered before its batch starts */
  maxGatherMs?: number;
}

/** a batch (or a queue) of at least this many changes is a burst */
const BURST_CHANGES = 1000;

/**
 * How long to gather changes before the next batch. A batch rewrites every
 * bin it touches, so under heavy load fewer, larger batches publish more
 * artifacts per second (each bin rewrite carries several artifacts). After a
 * large batch we wait about half as long as it took (at most 1 s); small
 * batches — interactive use — keep the configured linger, so their latency
 * does not change.
 */
export function adaptiveLingerMs(configured: number, lastChanges: number, lastMs: number): number {
  if (lastChanges < BURST_CHANGES) return configured;
  return Math.max(configured, Math.min(1000, Math.round(lastMs / 2)));
}

/**
 * The linger before the next batch, once woken. The longer, adaptive linger
 * only while a burst is still arriving (a burst's worth already pending): a
 * lone add after the burst ended waits the configured linger, not up to a
 * second. That second was the whole p99 of single adds that followed a large
 * import (latency.ts: the first ~40 adds after the preload waited for it).
 */
export function lingerBeforeBatch(next: number, configured: number, pending: number): number {
  return pending >= BURST_CHANGES ? next : configured;
}

/** how often a burst's queue is looked at while it is gathered */
const GATHER_STEP_MS = 100;

/**
 * While a burst keeps arriving, wait for it: with many bins a batch's cost is
 * set by the bins it touches, not by its changes (1M artifacts in 16384 bins:
 * 36,000 changes touch 89% of the bins and cost ~80% of a 200,000-change
 * batch). Starting a batch in the middle of an import means a second,
 * near-full one for the rest; waiting until the queue stops growing (or holds
 * a full batch, or `maxMs` passed) publishes it in one. Only for a burst's
 * worth of pending changes: single adds are never held back. Returns the
 * pending count it last saw.
 */
export async function gatherBurst(
  pending: () => Promise<number>,
  opts: { maxBatch: number; maxMs: number; stepMs?: number; sleep?: (ms: number) => Promise<unknown> },
): Promise<number> {
  const step = opts.stepMs ?? GATHER_STEP_MS;
  const sleep = opts.sleep ?? Bun.sleep;
  let seen = await pending();
  for (let waited = 0; seen >= BURST_CHANGES && seen < opts.maxBatch && waited < opts.maxMs; waited += step) {
    await sleep(step);
    const now = await pending();
    // Nothing new for a whole step: the burst has stopped arriving.
    if (now <= seen) return now;
    seen = now;
  }
  return seen;
}

export class Publisher {
  readonly #repo: Repository;
  readonly #log: Logger;
  readonly #opts: Required<PublisherOptions>;
  #running = false;
  #wakeup: (() => void) | null = null;
  #woken = false;
  #loop: Promise<void> | null = null;
  #idleWaiters: (() => void)[] = [];
  #busy = false;
  #nextLingerMs: number;
  /** published batches since start (metrics) */
  batches = 0;
  lastError: string | null = null;
  /** failed attempts in a row (readiness: a publisher that keeps failing is not ready) */
  failures = 0;
  /** performance.now() of the last attempt that did not fail (readiness: is pending work moving?) */
  lastSuccessAt = performance.now();

  constructor(repo: Repository, log: Logger, opts: PublisherOptions) {
    this.#repo = repo;
    this.#log = log;
    this.#opts = { retryMs: 1000, maxBatch: Number.POSITIVE_INFINITY, maxGatherMs: 5000, ...opts };
    this.#nextLingerMs = opts.lingerMs;
    repo.onWake(() => this.wake());
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#woken = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
    this.#loop = null;
  }

  wake(): void {
    this.#woken = true;
    const w = this.#wakeup;
    this.#wakeup = null;
    w?.();
  }

  /** Whether a batch is being built or published right now. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Resolves when everything pending at call time (and after) is published. For tests and shutdown. */
  idle(): Promise<void> {
    if (!this.#busy && !this.#woken) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Changes waiting (any replica's); 0 when the store cannot say (then the short linger is the safe choice). */
  async #pending(): Promise<number> {
    try {
      return await this.#repo.countPendingChanges();
    } catch {
      return 0;
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      if (!this.#woken) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          this.#wakeup = resolve;
          timer = setTimeout(resolve, this.#opts.pollMs);
        });
        // A pending poll timer would keep a stopped process alive for up to pollMs.
        clearTimeout(timer);
        this.#wakeup = null;
        if (!this.#running) break;
        // A poll tick: other replicas may have queued work or published.
        this.#woken = true;
      }
      this.#woken = false;
      this.#busy = true;
      try {
        // Serve what other replicas published, even when this one has nothing to do.
        await this.#repo.syncFromStore();
      } catch (err) {
        this.#log.warn("could not read the store to catch up", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
      let linger = this.#nextLingerMs;
      if (linger > this.#opts.lingerMs) linger = lingerBeforeBatch(linger, this.#opts.lingerMs, await this.#pending());
      if (linger > 0) await Bun.sleep(linger);
      // A round that finds nothing to do at all (a poll tick) ends the burst
      // for good (below); a round that published keeps the adaptive linger for
      // the next wake, which uses it only if a burst's worth is pending then.
      let published = false;
      try {
        for (;;) {
          const gatherStarted = performance.now();
          const gathered = await gatherBurst(() => this.#pending(), {
            maxBatch: this.#opts.maxBatch,
            maxMs: this.#opts.maxGatherMs,
          });
          const started = performance.now();
          if (gathered >= BURST_CHANGES)
            this.#log.debug("burst gathered", { pending: gathered, gather_ms: Math.round(started - gatherStarted) });
          const outcome = await this.#repo.publishOnce();
          this.failures = 0;
          this.lastError = null;
          this.lastSuccessAt = performance.now();
          if (outcome.documents === 0 && outcome.changes === 0) {
            if (!published) this.#nextLingerMs = this.#opts.lingerMs;
            break;
          }
          published = true;
          this.batches++;
          this.lastError = null;
          this.#nextLingerMs = adaptiveLingerMs(this.#opts.lingerMs, outcome.changes, performance.now() - started);
        }
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        this.failures++;
        this.#log.error("publish failed; will retry", { error: this.lastError, attempts: this.failures });
        this.#busy = false;
        await Bun.sleep(this.#opts.retryMs);
        this.#woken = true;
        continue;
      }
      this.#busy = false;
      if (!this.#woken) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    }
    this.#busy = false;
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}
