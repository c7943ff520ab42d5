/**
 * Never serve an expired timestamp while the service runs (DESIGN.md
 * "Non-negotiables"; issue 10). The scheduler re-signs ahead of expiry, but
 * after a suspend or a clock step the timestamp can be expired before the
 * next run. So:
 * - the moment the timestamp expires (a timer on the App's clock) or the
 *   clock jumps, the HTTP server rebuilds its static routes, which leave an
 *   expired timestamp.json to `fetch`;
 * - a request that finds timestamp.json expired asks for a re-sign at once
 *   and waits (bounded) for the new one, so the client gets a timestamp it
 *   can use instead of an error.
 */
import type { Clock, ClockTimer } from "./clock.ts";
import type { Repository } from "./repository/repository.ts";
import type { Scheduler } from "./scheduler.ts";

/** After a re-sign that did not help, requests are not held again for this long. */
const QUIET_MS = 30_000;

export interface RouteRefresher {
  refreshRoutes(): void;
}

export class TimestampFreshness {
  readonly #clock: Clock;
  readonly #repo: Repository;
  readonly #scheduler: Scheduler;
  readonly #waitMs: number;
  #cached: { version: number; expiresAt: number } = { version: -1, expiresAt: Infinity };
  #refreshing: Promise<void> | null = null;
  #timer: ClockTimer | null = null;
  #unwatch: (() => void) | null = null;
  #http: RouteRefresher | null = null;
  #quietUntil = 0;

  constructor(deps: { clock: Clock; repo: Repository; scheduler: Scheduler }, opts: { waitMs?: number } = {}) {
    this.#clock = deps.clock;
    this.#repo = deps.repo;
    this.#scheduler = deps.scheduler;
    this.#waitMs = opts.waitMs ?? 5000;
    deps.repo.onPublished(() => this.#arm());
  }

  /**
   * When the first document a client reaches through the served timestamp
   * expires (ms): the timestamp itself, or a snapshot, targets or bin it
   * leads to, which were re-signed less recently. Infinity before bootstrap.
   */
  #expiresAt(): number {
    const version = this.#repo.timestampVersion;
    if (this.#cached.version !== version) {
      this.#cached = { version, expiresAt: this.#repo.earliestOnlineExpiry() };
    }
    return this.#cached.expiresAt;
  }

  /** timestamp.json leads to an expired document (or is one). */
  expired(name: string): boolean {
    return name === "timestamp.json" && this.#expiresAt() <= this.#clock.now();
  }

  /** Re-sign now (once, however many requests ask) and wait until the timestamp is fresh or waitMs passed. */
  refresh(_name: string): Promise<void> {
    if (!this.#refreshing) {
      const run = this.#refresh().finally(() => {
        if (this.#refreshing === run) this.#refreshing = null;
      });
      this.#refreshing = run;
    }
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    // Re-signing just failed to help (the publisher is failing: /readyz says
    // why): answer at once rather than hold every request for waitMs.
    if (performance.now() < this.#quietUntil) return;
    await this.#scheduler.runNow("resign-expiring");
    const deadline = performance.now() + this.#waitMs;
    while (this.expired("timestamp.json") && performance.now() < deadline) await Bun.sleep(5);
    if (this.expired("timestamp.json")) this.#quietUntil = performance.now() + QUIET_MS;
  }

  /** Keep the HTTP server's static routes from serving an expired timestamp. */
  watch(http: RouteRefresher): void {
    this.#http = http;
    this.#unwatch = this.#clock.onJump(() => {
      http.refreshRoutes();
      this.#arm();
    });
    this.#arm();
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = null;
    this.#timer?.cancel();
    this.#timer = null;
    this.#http = null;
  }

  /** A timer for the moment the current timestamp expires. */
  #arm(): void {
    this.#timer?.cancel();
    this.#timer = null;
    const http = this.#http;
    if (!http) return;
    const at = this.#expiresAt();
    if (!Number.isFinite(at)) return;
    this.#timer = this.#clock.setTimer(Math.max(0, at - this.#clock.now()), () => {
      this.#timer = null;
      http.refreshRoutes();
      // Expired and nobody asked yet: re-sign anyway, the scheduler may be a period away.
      if (this.expired("timestamp.json")) void this.refresh("timestamp.json");
      else this.#arm();
    });
  }
}
