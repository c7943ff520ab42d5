/**
 * How long one client may hold the server (issue 10), over raw TCP against
 * the real server: a body dripped in one byte at a time is cut off with a 408
 * (today's main holds it open indefinitely, since every byte restarts Bun's
 * idle timer); idle keep-alive connections are closed; requests in progress
 * per client address are capped; uploads must keep a minimum rate.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { BodyTimeoutError, SourceLimiter, withBodyDeadline } from "../../src/server/timeouts.ts";
import { startTestServer, TOKEN, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let port: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startTestServer({
    env: {
      TUFBOX_BODY_TIMEOUT_SECONDS: "1",
      TUFBOX_IDLE_TIMEOUT_SECONDS: "2",
      TUFBOX_MAX_CONNECTIONS_PER_SOURCE: "3",
    },
  });
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await server?.stop();
});

interface Conn {
  socket: Socket;
  /** everything received so far */
  received(): string;
  /** resolves when the server closed the connection (or after `ms`, with false) */
  closed(ms: number): Promise<boolean>;
  /** resolves with the received text once it contains `text` (or rejects after `ms`) */
  waitFor(text: string | RegExp, ms: number): Promise<string>;
}

function open(): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    let data = "";
    let isClosed = false;
    const closeWaiters: (() => void)[] = [];
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
    });
    socket.on("close", () => {
      isClosed = true;
      for (const w of closeWaiters) w();
    });
    socket.on("error", () => undefined);
    socket.once("connect", () =>
      resolve({
        socket,
        received: () => data,
        closed: (ms) =>
          isClosed
            ? Promise.resolve(true)
            : new Promise((r) => {
                const t = setTimeout(() => r(false), ms);
                closeWaiters.push(() => {
                  clearTimeout(t);
                  r(true);
                });
              }),
        async waitFor(text, ms) {
          const deadline = performance.now() + ms;
          for (;;) {
            if (typeof text === "string" ? data.includes(text) : text.test(data)) return data;
            if (performance.now() > deadline) throw new Error(`no ${text} after ${ms} ms; got: ${data.slice(0, 200)}`);
            await Bun.sleep(20);
          }
        },
      }),
    );
    socket.once("error", reject);
  });
}

/** Sends the headers of a POST with a 1000-byte JSON body, then one byte every 200 ms until stopped. */
async function drip(path = "/api/v1/artifacts"): Promise<Conn & { stop(): void }> {
  const c = await open();
  c.socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
  );
  const timer = setInterval(() => {
    if (!c.socket.destroyed) c.socket.write(" ");
  }, 200);
  return { ...c, stop: () => clearInterval(timer) };
}

describe("request bodies", () => {
  test("a body dripped slower than the deadline gets a 408 naming the limit, and the connection closes", async () => {
    const c = await drip();
    try {
      const text = await c.waitFor(/\r\n\r\n\{.*\}/s, 15_000);
      expect(text).toStartWith("HTTP/1.1 408");
      const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
      expect(body.detail.error).toBe("the request body did not arrive within 1 s (limits.body_timeout_seconds)");
      expect(await c.closed(5_000)).toBe(true);
    } finally {
      c.stop();
    }
    // Nothing was accepted.
    expect(await server.app.store.countPendingChanges()).toBe(0);
  }, 30_000);

  test("an upload must keep the minimum rate once the grace period is over", async () => {
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await Bun.sleep(50);
        controller.enqueue(new Uint8Array(10)); // 200 bytes per second
      },
    });
    const req = new Request("http://x/upload", {
      method: "POST",
      body: slow,
      headers: { "content-type": "application/octet-stream" },
    });
    const deadline = { timeoutMs: 300, minBytesPerSecond: 1000 };
    let caught: unknown;
    try {
      await withBodyDeadline(req, deadline).arrayBuffer();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BodyTimeoutError);
    expect((caught as Error).message).toMatch(
      /slower than 1000 bytes per second .*limits\.upload_min_bytes_per_second/,
    );

    // A large upload at a healthy rate is never cut off, however long it takes past the grace period.
    let chunks = 0;
    const fast = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await Bun.sleep(10);
        if (++chunks > 60) controller.close();
        else controller.enqueue(new Uint8Array(10_000)); // ~1 MB per second
      },
    });
    const ok = new Request("http://x/upload", {
      method: "POST",
      body: fast,
      headers: { "content-type": "application/octet-stream" },
    });
    expect((await withBodyDeadline(ok, deadline).arrayBuffer()).byteLength).toBe(600_000);
  });
});

describe("connections", () => {
  test("an idle keep-alive connection is closed", async () => {
    const c = await open();
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await c.waitFor('{"status":"ok"}', 5_000);
    // idle_timeout_seconds is 2; Bun's default (today's main) is 10.
    expect(await c.closed(8_000)).toBe(true);
  }, 15_000);

  test("requests in progress per client address are capped; the slot frees when one ends", async () => {
    const drips = await Promise.all([drip(), drip(), drip()]);
    try {
      await Bun.sleep(100);
      const extra = await fetch(`${server.url}/api/v1/bootstrap`);
      expect(extra.status).toBe(429);
      expect(((await extra.json()) as any).detail.error).toMatch(/limits\.max_connections_per_source/);
      // Metadata is not an API request: still served.
      expect((await fetch(`${server.url}/metadata/`)).status).toBe(200);
      for (const d of drips) await d.waitFor("HTTP/1.1 408", 15_000);
    } finally {
      for (const d of drips) d.stop();
    }
    expect(
      (await fetch(`${server.url}/api/v1/bootstrap`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
  }, 30_000);

  test("the limiter counts per source and frees its slots", () => {
    const l = new SourceLimiter(2);
    expect([l.acquire("a"), l.acquire("a"), l.acquire("a"), l.acquire("b")]).toEqual([true, true, false, true]);
    l.release("a");
    expect(l.acquire("a")).toBe(true);
    const off = new SourceLimiter(0);
    for (let i = 0; i < 1000; i++) expect(off.acquire("a")).toBe(true);
  });
});
