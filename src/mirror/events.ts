/**
 * Listens to an upstream tufbox's change feed (`GET /api/v1/events`, see
 * src/server/events.ts) and calls `onVersion` for every timestamp version it
 * announces, so the mirror syncs at once instead of at its next interval.
 * Only a hint: whatever it says, the mirror verifies what it downloads, and
 * the interval sync still runs when the feed is missing or silent.
 *
 * An upstream that is not tufbox (404, or not an event stream) is asked
 * again only every `retryUnsupportedMs`; a dropped connection is retried
 * with backoff (1 s doubling to 30 s); a connection silent for longer than
 * `silenceMs` (upstream pings every 5 s) is treated as dropped.
 */
import type { Logger } from "../log.ts";

export interface UpstreamEventsOptions {
  base: string;
  onVersion: (version: number) => void;
  log: Logger;
  silenceMs?: number;
  retryUnsupportedMs?: number;
  fetch?: typeof fetch;
}

export class UpstreamEvents {
  readonly #opts: UpstreamEventsOptions;
  #stopped = false;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;
  #connected = false;
  #loop: Promise<void> | undefined;

  constructor(opts: UpstreamEventsOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    if (!this.#loop) this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    this.#wake?.();
    await this.#loop;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    let backoff = 1000;
    let unsupportedLogged = false;
    while (!this.#stopped) {
      const outcome = await this.#listen().catch(() =>
        this.#connected ? ("connected" as const) : ("dropped" as const),
      );
      this.#connected = false;
      if (this.#stopped) break;
      if (outcome === "unsupported") {
        if (!unsupportedLogged)
          this.#opts.log.info("the upstream has no change feed (/api/v1/events); syncing on the interval only", {
            upstream: this.#opts.base,
          });
        unsupportedLogged = true;
        await this.#sleep(this.#opts.retryUnsupportedMs ?? 600_000);
        continue;
      }
      if (outcome === "connected") backoff = 1000;
      await this.#sleep(backoff);
      backoff = Math.min(backoff * 2, 30_000);
    }
  }

  /** One connection; resolves how it ended. */
  async #listen(): Promise<"unsupported" | "dropped" | "connected"> {
    const abort = new AbortController();
    this.#abort = abort;
    const res = await (this.#opts.fetch ?? fetch)(`${this.#opts.base}/api/v1/events`, {
      headers: { accept: "text/event-stream", "user-agent": "tufbox-mirror" },
      signal: abort.signal,
    });
    if (res.status !== 200 || !(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      await res.body?.cancel().catch(() => undefined);
      return res.status >= 500 ? "dropped" : "unsupported";
    }
    if (!res.body) return "dropped";
    this.#connected = true;
    const silenceMs = this.#opts.silenceMs ?? 20_000;
    let watchdog = setTimeout(() => abort.abort(), silenceMs);
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "message";
    let data: string[] = [];
    try {
      for await (const chunk of res.body) {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => abort.abort(), silenceMs);
        buffer += decoder.decode(chunk, { stream: true });
        for (let nl = buffer.search(/\r?\n/); nl !== -1; nl = buffer.search(/\r?\n/)) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + (buffer[nl] === "\r" ? 2 : 1));
          if (line === "") {
            if (event === "timestamp" && data.length > 0) this.#dispatch(data.join("\n"));
            event = "message";
            data = [];
          } else if (line.startsWith(":")) {
            // keep-alive comment
          } else {
            const colon = line.indexOf(":");
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") event = value;
            else if (field === "data") data.push(value);
          }
        }
        if (buffer.length > 65_536) return "dropped";
      }
    } finally {
      clearTimeout(watchdog);
    }
    return "connected";
  }

  #dispatch(text: string): void {
    try {
      const v = JSON.parse(text) as { version?: unknown };
      if (typeof v.version === "number" && Number.isSafeInteger(v.version)) this.#opts.onVersion(v.version);
    } catch {
      // a malformed hint is ignored; the interval sync still runs
    }
  }
}
