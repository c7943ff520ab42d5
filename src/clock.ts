/**
 * Time as the App sees it. Everything that decides by the clock (alerts
 * before expiry, webhook retry backoff, dashboard countdowns) asks the App's
 * clock instead of `Date.now()`, so a test can put the repository 29 days
 * before root expires without waiting or touching the system clock.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to (tests, simulations). */
export class ManualClock implements Clock {
  #ms: number;

  constructor(start: Date | string | number = Date.now()) {
    this.#ms = new Date(start).getTime();
    if (!Number.isFinite(this.#ms)) throw new Error(`ManualClock: invalid start time ${String(start)}`);
  }

  now(): Date {
    return new Date(this.#ms);
  }

  set(to: Date | string | number): void {
    this.#ms = new Date(to).getTime();
  }

  advance(ms: number): void {
    this.#ms += ms;
  }
}
