/**
 * The one clock of the App (issue 10): every expiry decision (signing,
 * re-signing, readiness, serving an expired timestamp) reads wall time from
 * here, and the scheduler's timers run on it, so tests can drive time.
 *
 * Why jumps matter: timers run on a monotonic clock, which stops while a
 * machine is suspended, while expiry dates are wall time. After a small
 * device resumes from a night of suspend (or NTP steps the clock), a 60-s
 * scheduler timer still has its remaining seconds to wait while the
 * published timestamp may already have expired. The system clock watches
 * the gap between wall time and monotonic time and reports a jump as soon
 * as it moves, so the scheduler re-signs at once instead of a period later.
 */

export interface ClockTimer {
  cancel(): void;
}

export interface Clock {
  /** wall time, ms since the epoch */
  now(): number;
  /** run `fn` once after `ms` milliseconds of elapsed (monotonic) time */
  setTimer(ms: number, fn: () => void): ClockTimer;
  /**
   * Called when wall time moved by more than elapsed time accounts for
   * (suspend/resume, a clock step), with the difference in ms (negative when
   * wall time went back). Returns an unsubscribe.
   */
  onJump(listener: (deltaMs: number) => void): () => void;
}

/** setTimeout's delay is a signed 32-bit number of ms; longer waits are done in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The real clock. Jumps are noticed within `checkMs` (default 1 s) of happening. */
export class SystemClock implements Clock {
  readonly #listeners = new Set<(deltaMs: number) => void>();
  readonly #checkMs: number;
  readonly #thresholdMs: number;
  #watch: ReturnType<typeof setInterval> | undefined;
  #offset = 0;

  constructor(opts: { checkMs?: number; thresholdMs?: number } = {}) {
    this.#checkMs = opts.checkMs ?? 1000;
    this.#thresholdMs = opts.thresholdMs ?? 2000;
  }

  now(): number {
    return Date.now();
  }

  setTimer(ms: number, fn: () => void): ClockTimer {
    let handle: ReturnType<typeof setTimeout>;
    const due = performance.now() + Math.max(0, ms);
    const arm = () => {
      const left = due - performance.now();
      handle = setTimeout(left > MAX_TIMEOUT_MS ? arm : fn, Math.min(Math.max(0, left), MAX_TIMEOUT_MS));
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  }

  onJump(listener: (deltaMs: number) => void): () => void {
    this.#listeners.add(listener);
    if (this.#watch === undefined) {
      this.#offset = Date.now() - performance.now();
      this.#watch = setInterval(() => this.#check(), this.#checkMs);
      // Watching must never keep a stopped process alive.
      this.#watch.unref?.();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#watch !== undefined) {
        clearInterval(this.#watch);
        this.#watch = undefined;
      }
    };
  }

  #check(): void {
    const offset = Date.now() - performance.now();
    const delta = offset - this.#offset;
    this.#offset = offset;
    if (Math.abs(delta) < this.#thresholdMs) return;
    for (const l of [...this.#listeners]) {
      try {
        l(delta);
      } catch {
        // A listener's failure must not stop the others from hearing of the jump.
      }
    }
  }
}

/**
 * A clock tests drive: `advance` lets time pass (timers fire in order as
 * their time comes), `jump` moves wall time only, like a suspend/resume or a
 * clock step (timers keep their remaining elapsed time, jump listeners hear
 * of it).
 */
export class ManualClock implements Clock {
  #now: number;
  /** elapsed (monotonic) time, which `jump` does not move */
  #elapsed = 0;
  #seq = 0;
  readonly #timers = new Map<number, { due: number; fn: () => void }>();
  readonly #listeners = new Set<(deltaMs: number) => void>();

  constructor(start: Date | number = Date.now()) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): ClockTimer {
    const id = ++this.#seq;
    this.#timers.set(id, { due: this.#elapsed + Math.max(0, ms), fn });
    return { cancel: () => void this.#timers.delete(id) };
  }

  onJump(listener: (deltaMs: number) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Let `ms` pass: every timer due by then fires, earliest first (timers they set fire too, if due). */
  advance(ms: number): void {
    const end = this.#elapsed + ms;
    const wallEnd = this.#now + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].due <= end && (!next || entry[1].due < next[1].due)) next = entry;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now += next[1].due - this.#elapsed;
      this.#elapsed = next[1].due;
      next[1].fn();
    }
    this.#elapsed = end;
    this.#now = wallEnd;
  }

  /** Move wall time by `ms` without elapsed time passing (suspend/resume); listeners hear of it. */
  jump(ms: number): void {
    this.#now += ms;
    for (const l of [...this.#listeners]) l(ms);
  }

  /** Timers waiting (tests). */
  get pendingTimers(): number {
    return this.#timers.size;
  }
}
