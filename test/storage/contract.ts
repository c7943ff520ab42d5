/**
 * The content storage contract (src/storage/storage.ts): every backend runs
 * this same suite — local.test.ts on a temp directory, s3.test.ts against a
 * real s3rver — so the upload API, the drop directory and /targets/ can rely
 * on these behaviours and nothing else. Served responses go through a real
 * Bun.serve (Range handling of file bodies happens there).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { UploadError, type ContentStorage, type StagedContent } from "../../src/storage/storage.ts";

const sha = (alg: "sha256" | "sha512", b: Uint8Array) => new Bun.CryptoHasher(alg).update(b).digest("hex");

async function* chunks(bytes: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, Math.min(i + size, bytes.length));
}

async function* failingAfter(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
  const err = new Error("The connection was closed.");
  err.name = "AbortError";
  throw err;
}

function randomBytes(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function bytesOf(stream: ReadableStream<Uint8Array> | undefined): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (!stream) return undefined;
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function storageContract(
  name: string,
  make: () => Promise<{ storage: ContentStorage; cleanup: () => Promise<void> }>,
) {
  describe(`content storage contract: ${name}`, () => {
    let storage: ContentStorage;
    let cleanup: () => Promise<void>;
    let server: ReturnType<typeof Bun.serve>;
    const served = new Map<string, { sha256: string; length: number }>();

    beforeAll(() => {
      server = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: (req) => {
          const id = new URL(req.url).pathname.slice(1);
          const c = served.get(id);
          if (!c) return new Response("no", { status: 404 });
          return storage.serve(req, c, { name: "app 1.0.tar.gz", immutable: true });
        },
      });
    });
    afterAll(() => server.stop(true));
    beforeEach(async () => {
      ({ storage, cleanup } = await make());
      await storage.open();
    });
    afterEach(async () => {
      await storage.close();
      await cleanup();
    });

    async function put(bytes: Uint8Array, hashes: ("sha256" | "sha512")[] = ["sha256"]): Promise<StagedContent> {
      const staged = await storage.stage(chunks(bytes), { maxBytes: 1 << 30, expectedLength: bytes.length, hashes });
      await staged.commit();
      await staged.discard();
      return staged;
    }

    async function fetchServed(sha256: string, length: number, init: RequestInit = {}): Promise<Response> {
      served.set(sha256, { sha256, length });
      // Follow a redirect to a presigned URL as a client would; keep other statuses.
      return fetch(`http://127.0.0.1:${server.port}/${sha256}`, { redirect: "follow", ...init });
    }

    test("stage hashes while streaming; commit stores; read gives the bytes back", async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 17, 1);
      const staged = await storage.stage(chunks(bytes), {
        maxBytes: 1 << 30,
        expectedLength: bytes.length,
        hashes: ["sha256", "sha512"],
      });
      expect({ length: staged.length, sha256: staged.sha256, sha512: staged.sha512 }).toEqual({
        length: bytes.length,
        sha256: sha("sha256", bytes),
        sha512: sha("sha512", bytes),
      });
      expect(await storage.exists(staged.sha256)).toBe(false);
      await staged.commit();
      await staged.discard();
      expect(await storage.exists(staged.sha256)).toBe(true);
      expect(await bytesOf(await storage.read(staged.sha256))).toEqual(bytes);
      // Nothing is left in staging.
      expect(await storage.sweep(0)).toBe(0);
    });

    test("sha512 only when asked for; empty content is content too", async () => {
      const staged = await put(new Uint8Array(0));
      expect(staged).toMatchObject({ length: 0, sha256: sha("sha256", new Uint8Array(0)), sha512: null });
      expect(await storage.exists(staged.sha256)).toBe(true);
      expect(await bytesOf(await storage.read(staged.sha256))).toEqual(new Uint8Array(0));
    });

    test("the same bytes twice are one content; commit is idempotent", async () => {
      const bytes = randomBytes(1000, 2);
      const a = await put(bytes);
      const b = await storage.stage(chunks(bytes), { maxBytes: 1 << 20, hashes: ["sha256"] });
      await b.commit();
      await b.commit();
      await b.discard();
      expect(b.sha256).toBe(a.sha256);
      expect(await bytesOf(await storage.read(a.sha256))).toEqual(bytes);
      await storage.delete(a.sha256);
      expect(await storage.exists(a.sha256)).toBe(false);
    });

    test("discard before commit keeps nothing", async () => {
      const bytes = randomBytes(5000, 3);
      const staged = await storage.stage(chunks(bytes), { maxBytes: 1 << 20, hashes: ["sha256"] });
      await staged.discard();
      expect(await storage.exists(staged.sha256)).toBe(false);
      expect(await storage.sweep(0)).toBe(0);
    });

    const refusals: [
      string,
      () => { body: AsyncIterable<Uint8Array>; expectedLength?: number; maxBytes?: number; digest?: string },
      string,
    ][] = [
      [
        "more bytes than maxBytes",
        () => ({ body: chunks(randomBytes(10_000, 4), 1000), maxBytes: 9_999 }),
        "too_large",
      ],
      [
        "a declared length over maxBytes (refused before reading)",
        () => ({ body: failingAfter(new Uint8Array(1)), expectedLength: 2_000, maxBytes: 1_000 }),
        "too_large",
      ],
      [
        "fewer bytes than declared",
        () => ({ body: chunks(randomBytes(100, 5)), expectedLength: 101 }),
        "length_mismatch",
      ],
      [
        "more bytes than declared",
        () => ({ body: chunks(randomBytes(100, 5)), expectedLength: 99 }),
        "length_mismatch",
      ],
      ["a sender that goes away", () => ({ body: failingAfter(randomBytes(70_000, 6)) }), "aborted"],
      [
        "bytes whose digest is not the expected one",
        () => ({ body: chunks(randomBytes(100, 7)), digest: "0".repeat(64) }),
        "digest_mismatch",
      ],
    ];
    for (const [what, input, kind] of refusals) {
      test(`refuses ${what}, leaving nothing behind`, async () => {
        const i = input();
        let caught: unknown;
        try {
          await storage.stage(i.body, {
            maxBytes: i.maxBytes ?? 1 << 20,
            expectedLength: i.expectedLength,
            hashes: ["sha256"],
            expectedDigest: i.digest ? { sha256: i.digest } : undefined,
          });
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(UploadError);
        expect((caught as UploadError).kind).toBe(kind as UploadError["kind"]);
        expect(await storage.sweep(0)).toBe(0);
      });
    }

    test("serves the bytes: GET, Range, HEAD, If-None-Match", async () => {
      const bytes = randomBytes(200_000, 8);
      const { sha256 } = await put(bytes);
      const full = await fetchServed(sha256, bytes.length);
      expect(full.status).toBe(200);
      expect(new Uint8Array(await full.arrayBuffer())).toEqual(bytes);

      const part = await fetchServed(sha256, bytes.length, { headers: { Range: "bytes=100-199" } });
      expect(part.status).toBe(206);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200));

      const head = await fetchServed(sha256, bytes.length, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(bytes.length));
      expect((await head.arrayBuffer()).byteLength).toBe(0);

      const cached = await fetch(`http://127.0.0.1:${server.port}/${sha256}`, {
        headers: { "If-None-Match": `"${sha256}"` },
        redirect: "manual",
      });
      expect(cached.status).toBe(304);
    });

    test("delete removes the bytes and tolerates a second delete", async () => {
      const { sha256 } = await put(randomBytes(10, 9));
      await storage.delete(sha256);
      await storage.delete(sha256);
      expect(await storage.exists(sha256)).toBe(false);
      expect(await storage.read(sha256)).toBeUndefined();
    });
  });
}
