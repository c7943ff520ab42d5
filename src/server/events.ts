/**
 * `GET /api/v1/events`: a Server-Sent Events stream that announces every new
 * `timestamp.json` this process serves, so mirrors (`tufbox mirror`) sync
 * within a second of a publication instead of at their next poll. Public and
 * read-only: it carries nothing that `timestamp.json` does not already show,
 * and a mirror verifies everything it then downloads.
 *
 *   retry: 2000
 *
 *   event: timestamp
 *   id: 42
 *   data: {"version":42,"snapshot":41}
 *
 * The current version is sent at once on connect (a mirror that reconnects
 * learns what it missed), then one event per new version; a comment line
 * every `pingMs` keeps idle connections (and proxies, and Bun's own idle
 * timeout of 10 s) from closing the stream.
 *
 * Streams never end on their own, and an HTTP server waits for open
 * responses when it stops, so whoever stops the server closes the streams
 * first (`closeTimestampEvents`).
 */
import type { PublishedMetadata } from "./published.ts";

export interface TimestampEventsOptions {
  /** milliseconds between keep-alive comments (default 5000, under Bun's 10 s idle timeout) */
  pingMs?: number;
  /** most concurrent streams; more get 503 (default 10000) */
  maxClients?: number;
}

const encoder = new TextEncoder();

interface Client {
  send(text: string): void;
  close(): void;
}

function timestampVersions(metadata: PublishedMetadata): { version: number; snapshot: number } | undefined {
  const file = metadata.peek("timestamp.json");
  if (!file) return undefined;
  try {
    const doc = JSON.parse(new TextDecoder().decode(file.bytes));
    const version = doc?.signed?.version;
    const snapshot = doc?.signed?.meta?.["snapshot.json"]?.version;
    if (typeof version !== "number") return undefined;
    return { version, snapshot: typeof snapshot === "number" ? snapshot : 0 };
  } catch {
    return undefined;
  }
}

function eventText(v: { version: number; snapshot: number }): string {
  return `event: timestamp\nid: ${v.version}\ndata: ${JSON.stringify(v)}\n\n`;
}

export class TimestampEvents {
  readonly #metadata: PublishedMetadata;
  readonly #clients = new Set<Client>();
  readonly #pingMs: number;
  readonly #maxClients: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;
  #last = 0;
  #closed = false;

  constructor(metadata: PublishedMetadata, opts: TimestampEventsOptions = {}) {
    this.#metadata = metadata;
    this.#pingMs = opts.pingMs ?? 5000;
    this.#maxClients = opts.maxClients ?? 10_000;
  }

  get clients(): number {
    return this.#clients.size;
  }

  #start(): void {
    if (this.#unsubscribe) return;
    this.#last = timestampVersions(this.#metadata)?.version ?? 0;
    this.#unsubscribe = this.#metadata.onChange((names) => {
      if (!names.includes("timestamp.json")) return;
      const v = timestampVersions(this.#metadata);
      if (!v || v.version <= this.#last) return;
      this.#last = v.version;
      const text = eventText(v);
      for (const c of this.#clients) c.send(text);
    });
    this.#timer = setInterval(() => {
      for (const c of this.#clients) c.send(": ping\n\n");
    }, this.#pingMs);
    this.#timer.unref?.();
  }

  #stopIfIdle(): void {
    if (this.#clients.size > 0) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  respond(req: Request): Response {
    if (this.#closed) return jsonError(503, "shutting down");
    if (this.#clients.size >= this.#maxClients)
      return jsonError(503, "too many event streams; poll timestamp.json instead");
    this.#start();
    let client: Client | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let open = true;
        client = {
          send: (text) => {
            if (!open) return;
            try {
              controller.enqueue(encoder.encode(text));
            } catch {
              open = false;
            }
          },
          close: () => {
            if (!open) return;
            open = false;
            try {
              controller.close();
            } catch {
              // already closed by the client
            }
          },
        };
        this.#clients.add(client);
        const now = timestampVersions(this.#metadata);
        client.send(`retry: 2000\n\n${now ? eventText(now) : ""}`);
      },
      cancel: () => {
        if (client) this.#clients.delete(client);
        this.#stopIfIdle();
      },
    });
    req.signal?.addEventListener?.("abort", () => {
      if (!client) return;
      client.close();
      this.#clients.delete(client);
      this.#stopIfIdle();
    });
    return new Response(body, {
      headers: {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-store",
        // nginx and similar proxies buffer responses unless told not to.
        "X-Accel-Buffering": "no",
      },
    });
  }

  /** Ends every stream and refuses new ones (before the HTTP server stops). */
  close(): void {
    this.#closed = true;
    for (const c of this.#clients) c.close();
    this.#clients.clear();
    this.#stopIfIdle();
  }
}

const hubs = new WeakMap<PublishedMetadata, TimestampEvents>();

/** The one event hub of a PublishedMetadata (so the route and shutdown find the same). */
export function timestampEventsFor(metadata: PublishedMetadata, opts?: TimestampEventsOptions): TimestampEvents {
  let hub = hubs.get(metadata);
  if (!hub) {
    hub = new TimestampEvents(metadata, opts);
    hubs.set(metadata, hub);
  }
  return hub;
}

/** Ends every event stream of `metadata`'s server; call before stopping the HTTP server. */
export function closeTimestampEvents(metadata: PublishedMetadata): void {
  hubs.get(metadata)?.close();
}

function jsonError(status: number, error: string): Response {
  return new Response(JSON.stringify({ detail: { error } }), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", "Retry-After": "10" },
  });
}
