/**
 * Time as the App sees it. Everything that decides by the clock (alerts
 * before expiry, webhook retry backoff, the dashboard's "now", the
 * repository's expiry dates) reads `app.clock`, so a test can put the
 * repository 29 days before root expires without waiting or touching the
 * system clock.
 *
 * Minimal on purpose, and shaped like issue 10's clock (`now()` in ms since
 * the epoch, `SystemClock`, `ManualClock`), which replaces this file with
 * timers and jump detection when it lands.
 */
export interface Clock {
  /** wall time, ms since the epoch */
  now(): number;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock that only moves when a test says so. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: Date | number = Date.now()) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  /** Let `ms` pass. */
  advance(ms: number): void {
    this.#now += ms;
  }

  /** Move wall time by `ms` (negative: back), like a clock step. */
  jump(ms: number): void {
    this.#now += ms;
  }
}
