/**
 * Failed authentications per source address, in a sliding window: after
 * `max` failures within `windowSeconds` an address is refused (429) without
 * its token even being looked at, until its oldest failure leaves the
 * window. Guessing tokens is hopeless anyway (256 bits), so this is about
 * load (every guess is a store read or an introspection call) and about
 * noise in the log. In memory, per replica; the number of addresses tracked
 * is bounded so a spray from many addresses cannot grow it without limit.
 */
export interface FailureLimitOptions {
  max: number;
  windowSeconds: number;
  /** addresses tracked at most (the longest-quiet are forgotten first) */
  maxSources?: number;
  now?: () => number;
}

export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxSources: number;
  readonly #now: () => number;
  /** failure instants (ms) per address, oldest first; Map order = least recently failed first */
  readonly #failures = new Map<string, number[]>();

  constructor(opts: FailureLimitOptions) {
    this.#max = opts.max;
    this.#windowMs = opts.windowSeconds * 1000;
    this.#maxSources = opts.maxSources ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Seconds until `source` may try again; 0 when it may now. */
  retryAfter(source: string): number {
    const times = this.#recent(source);
    if (times.length < this.#max) return 0;
    return Math.max(1, Math.ceil((times[times.length - this.#max]! + this.#windowMs - this.#now()) / 1000));
  }

  record(source: string): void {
    const times = this.#recent(source);
    times.push(this.#now());
    // Only the newest `max` matter for the decision.
    if (times.length > this.#max) times.splice(0, times.length - this.#max);
    this.#failures.delete(source);
    this.#failures.set(source, times);
    while (this.#failures.size > this.#maxSources) {
      const quietest = this.#failures.keys().next().value;
      if (quietest === undefined) break;
      this.#failures.delete(quietest);
    }
  }

  #recent(source: string): number[] {
    const times = this.#failures.get(source);
    if (!times) return [];
    const from = this.#now() - this.#windowMs;
    while (times.length > 0 && times[0]! <= from) times.shift();
    if (times.length === 0) this.#failures.delete(source);
    return times;
  }
}
