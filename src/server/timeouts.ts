/**
 * Bounds on how long a client may hold the server (issue 10): a request body
 * that drips in one byte at a time kept a connection and a handler busy
 * indefinitely, because Bun's idle timeout restarts with every byte.
 *
 * - Body deadline: a JSON body must be complete within `timeoutMs` of the
 *   request reaching its handler. Other bodies (uploads) get the same grace and then must keep
 *   an average of `minBytesPerSecond`: each byte received buys 1/rate
 *   seconds, so a large upload on a healthy link is never cut off and a
 *   trickle always is.
 * - Per-source limit: at most `max` requests in progress per client address.
 *   Bun.serve exposes no connection events, so this counts requests in
 *   progress (an HTTP/1.1 connection carries one at a time); idle
 *   connections are closed by Bun's `idleTimeout`.
 */

/** The body did not arrive in time: answered 408, connection closed. */
export class BodyTimeoutError extends Error {
  override readonly name = "BodyTimeoutError";
}

export interface BodyDeadline {
  timeoutMs: number;
  /** for bodies that are not JSON; 0 = the plain deadline applies to every body */
  minBytesPerSecond: number;
}

function isJson(req: Request): boolean {
  const type = req.headers.get("content-type");
  return type === null || /^\s*application\/(?:[\w.+-]*\+)?json\b/i.test(type) || /^\s*text\//i.test(type);
}

/**
 * A copy of `req` whose body errors with BodyTimeoutError once the deadline
 * passes; requests without a body are returned as they are.
 */
export function withBodyDeadline(req: Request, deadline: BodyDeadline): Request {
  const source = req.body;
  if (source === null) return req;
  const rate = isJson(req) ? 0 : deadline.minBytesPerSecond;
  const reader = source.getReader();
  // From when the handler got the request (its headers are in): a client
  // cannot reset the clock by pausing before the first byte of the body.
  const started = performance.now();
  let received = 0;
  const limitMs = () => deadline.timeoutMs + (rate > 0 ? (received / rate) * 1000 : 0);
  const describe = () =>
    rate > 0
      ? `the request body arrived slower than ${rate} bytes per second after ${Math.round(deadline.timeoutMs / 1000)} s (limits.upload_min_bytes_per_second)`
      : `the request body did not arrive within ${Math.round(deadline.timeoutMs / 1000)} s (limits.body_timeout_seconds)`;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const left = started + limitMs() - performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<"expired">((resolve) => {
        timer = setTimeout(() => resolve("expired"), Math.max(0, left));
      });
      try {
        const result = await Promise.race([reader.read(), expired]);
        if (result === "expired") {
          const err = new BodyTimeoutError(describe());
          reader.cancel(err).catch(() => undefined);
          controller.error(err);
          return;
        }
        if (result.done) controller.close();
        else {
          received += result.value.byteLength;
          controller.enqueue(result.value);
        }
      } catch (err) {
        controller.error(err);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal });
}

/** Requests in progress per client address. */
export class SourceLimiter {
  readonly #max: number;
  readonly #inFlight = new Map<string, number>();

  /** `max` 0 = unlimited */
  constructor(max: number) {
    this.#max = max;
  }

  /** Take a slot for `source`; false when it already has `max` requests in progress. */
  acquire(source: string): boolean {
    if (this.#max === 0) return true;
    const n = this.#inFlight.get(source) ?? 0;
    if (n >= this.#max) return false;
    this.#inFlight.set(source, n + 1);
    return true;
  }

  release(source: string): void {
    if (this.#max === 0) return;
    const n = (this.#inFlight.get(source) ?? 1) - 1;
    if (n <= 0) this.#inFlight.delete(source);
    else this.#inFlight.set(source, n);
  }

  get max(): number {
    return this.#max;
  }
}
