/**
 * Precompressed metadata (issue 15): gzip and zstd variants made once per
 * published file, chosen by Accept-Encoding, with their own ETags and
 * `Vary: Accept-Encoding`; the real tuf-js client and a plain HTTP client
 * (node:http, which does not decompress by itself) both verify what they get.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http from "node:http";
import { rmSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { chooseCoding, COMPRESS_MIN_BYTES } from "../../src/server/encodings.ts";

let server: TestServer;
const dirs: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  const boot = await server.api("POST", "/api/v1/bootstrap", binsPayload(256));
  expect((await server.waitTask(boot.body.data.task_id)).state).toBe("SUCCESS");
  const r = await server.api("POST", "/api/v1/artifacts", {
    artifacts: [{ path: "a/b.tar.gz", info: { length: 5, hashes: { sha256: "cd".repeat(32) } } }],
  });
  expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  await Bun.sleep(20); // the top-level variants are made right after publication
});

afterAll(async () => {
  await server?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A GET without automatic decompression: the bytes as they crossed the wire. */
function rawGet(
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Uint8Array<ArrayBuffer> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: new Uint8Array(Buffer.concat(chunks)) as Uint8Array<ArrayBuffer>,
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

describe("Accept-Encoding negotiation", () => {
  test("chooseCoding follows q-values, prefers zstd on a tie, and honours refusals", () => {
    expect(chooseCoding(null)).toBeNull();
    expect(chooseCoding("")).toBeNull();
    expect(chooseCoding("identity")).toBeNull();
    expect(chooseCoding("gzip, deflate")).toBe("gzip");
    expect(chooseCoding("gzip, deflate, br, zstd")).toBe("zstd");
    expect(chooseCoding("zstd;q=0.5, gzip")).toBe("gzip");
    expect(chooseCoding("zstd;q=0, gzip;q=0")).toBeNull();
    expect(chooseCoding("*")).toBe("zstd");
    expect(chooseCoding("*;q=0.1, gzip;q=0.5")).toBe("gzip");
    expect(chooseCoding("GZIP")).toBe("gzip");
    expect(chooseCoding("x-gzip")).toBe("gzip");
  });
});

describe("compressed metadata", () => {
  test("the snapshot goes out gzip or zstd as asked, identical once decoded, with distinct ETags and Vary", async () => {
    const ts = json((await rawGet("/metadata/timestamp.json")).body);
    const meta = ts.signed.meta["snapshot.json"];
    const name = `/metadata/${meta.version}.snapshot.json`;

    const plain = await rawGet(name);
    expect(plain.status).toBe(200);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.headers.vary).toBe("Accept-Encoding");
    expect(plain.body.length).toBe(meta.length);
    expect(sha256(plain.body)).toBe(meta.hashes.sha256);

    const gz = await rawGet(name, { "Accept-Encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.headers.vary).toBe("Accept-Encoding");
    expect(Number(gz.headers["content-length"])).toBe(gz.body.length);
    expect(gz.body.length).toBeLessThan(plain.body.length / 3);
    // A plain client decompresses and checks length and hash as TUF says (spec 5.5.2).
    const decoded = new Uint8Array(gunzipSync(gz.body));
    expect(decoded).toEqual(plain.body);
    expect(sha256(decoded)).toBe(meta.hashes.sha256);

    const zst = await rawGet(name, { "Accept-Encoding": "zstd, gzip" });
    expect(zst.headers["content-encoding"]).toBe("zstd");
    expect(new Uint8Array(Bun.zstdDecompressSync(zst.body))).toEqual(plain.body);

    const etags = [plain.headers.etag, gz.headers.etag, zst.headers.etag];
    expect(new Set(etags).size).toBe(3);
    expect(gz.headers.etag).toBe(`${plain.headers.etag!.slice(0, -1)}-gzip"`);

    // Revalidation compares against the representation being chosen.
    expect((await rawGet(name, { "Accept-Encoding": "gzip", "If-None-Match": gz.headers.etag! })).status).toBe(304);
    expect((await rawGet(name, { "Accept-Encoding": "gzip", "If-None-Match": plain.headers.etag! })).status).toBe(200);
    expect((await rawGet(name, { "If-None-Match": plain.headers.etag! })).status).toBe(304);

    // HEAD negotiates the same way.
    const head = await rawGet(name, { "Accept-Encoding": "gzip" }, "HEAD");
    expect(head.headers["content-encoding"]).toBe("gzip");
    expect(Number(head.headers["content-length"])).toBe(gz.body.length);
  });

  test("each variant is compressed once and reused, not per request", async () => {
    const ts = json((await rawGet("/metadata/timestamp.json")).body);
    const name = `${ts.signed.meta["snapshot.json"].version}.snapshot.json`;
    // root: compressed at publication, before anyone asked.
    const root = server.app.metadata.peek("root.json")!;
    if (root.bytes.length >= COMPRESS_MIN_BYTES) expect(root.encoded?.gzip).toBeDefined();
    // The snapshot: on its first request, then kept.
    await rawGet(`/metadata/${name}`, { "Accept-Encoding": "gzip" });
    const first = server.app.metadata.peek(name)!.encoded?.gzip;
    expect(first).toBeDefined();
    await rawGet(`/metadata/${name}`, { "Accept-Encoding": "gzip" });
    await rawGet(`/metadata/${name}`, { "Accept-Encoding": "gzip" });
    expect(server.app.metadata.peek(name)!.encoded?.gzip).toBe(first);
    const a = await rawGet(`/metadata/${name}`, { "Accept-Encoding": "gzip" });
    const b = await rawGet(`/metadata/${name}`, { "Accept-Encoding": "gzip" });
    expect(a.body).toEqual(b.body);
  });

  test("a bin is compressed on its first request and kept; the timestamp is never compressed", async () => {
    const bin = server.app.repo.heads().find((h) => h.role.startsWith("bins-") && h.version > 1)!;
    const name = `${bin.version}.${bin.role}.json`;
    const plain = await rawGet(`/metadata/${name}`);
    const gz = await rawGet(`/metadata/${name}`, { "Accept-Encoding": "gzip" });
    if (plain.body.length >= COMPRESS_MIN_BYTES) {
      expect(gz.headers["content-encoding"]).toBe("gzip");
      expect(new Uint8Array(gunzipSync(gz.body))).toEqual(plain.body);
    } else {
      expect(gz.headers["content-encoding"]).toBeUndefined();
    }
    const ts = await rawGet("/metadata/timestamp.json", { "Accept-Encoding": "gzip, zstd" });
    expect(ts.headers["content-encoding"]).toBeUndefined();
    expect(ts.body.length).toBeLessThan(COMPRESS_MIN_BYTES);
  });

  test("tuf-js refreshes and verifies through compressed responses and verifies through compressed responses", async () => {
    // A recording proxy: passes the client's Accept-Encoding through and the
    // server's bytes back untouched, and notes what was compressed.
    const seen: { path: string; acceptEncoding: string | null; contentEncoding: string | null }[] = [];
    const proxy = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (req) => {
        const path = new URL(req.url).pathname;
        const acceptEncoding = req.headers.get("accept-encoding");
        const res = await fetch(server.url + path, {
          headers: acceptEncoding ? { "Accept-Encoding": acceptEncoding } : {},
          decompress: false,
        } as RequestInit);
        seen.push({ path, acceptEncoding, contentEncoding: res.headers.get("content-encoding") });
        const headers = new Headers(res.headers);
        return new Response(await res.arrayBuffer(), { status: res.status, headers });
      },
    });
    try {
      const dir = tempDir("tufbox-encodings-client-");
      dirs.push(dir);
      const root = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
      const client = tufClient(`http://127.0.0.1:${proxy.port}`, dir, root);
      await client.refresh();
      expect(client.version("timestamp")).toBe(server.app.repo.timestampVersion);
      const snapshot = seen.find((s) => s.path.endsWith(".snapshot.json"))!;
      // Under Bun tuf-js fetches with Bun's fetch, which offers zstd too (Node's offers gzip, deflate, br).
      expect(snapshot.acceptEncoding).toMatch(/gzip/);
      expect(snapshot.contentEncoding).toBe(chooseCoding(snapshot.acceptEncoding));
      expect(["gzip", "zstd"]).toContain(snapshot.contentEncoding!);
    } finally {
      proxy.stop(true);
    }
  });
});
