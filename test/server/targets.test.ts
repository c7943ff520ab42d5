import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpServer, type HttpServer } from "../../src/server/http.ts";
import { PublishedMetadata } from "../../src/server/published.ts";
import { PublishedTargets, resolveHash } from "../../src/server/published-targets.ts";
import { TargetFiles, targetSegments } from "../../src/server/targets.ts";

const SECRET = "TOP-SECRET-OUTSIDE-THE-TARGETS-DIRECTORY";
const ARTIFACT = "artifact bytes v1\n";
const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
const sha512 = (s: string) => new Bun.CryptoHasher("sha512").update(s).digest("hex");
const digest = (algorithm: Bun.SupportedCryptoAlgorithms, s: string) =>
  new Bun.CryptoHasher(algorithm).update(s).digest("hex");
/** Every algorithm a published entry may list, with its hex for ARTIFACT. */
const ALL_HASHES = {
  "blake2b-256": digest("blake2b256", ARTIFACT),
  sha256: sha256(ARTIFACT),
  blake2b: digest("blake2b512", ARTIFACT),
  sha512: sha512(ARTIFACT),
  sha384: digest("sha384", ARTIFACT),
  sha224: digest("sha224", ARTIFACT),
};

type Entries = Record<string, { length: number; hashes: Record<string, string> }>;
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
let published = 0;

/**
 * Publishes a new timestamp → snapshot → targets roles chain listing `roles`
 * (unsigned: /targets/ reads what is published, it does not verify it).
 */
function publishTargets(metadata: PublishedMetadata, roles: Record<string, Entries>): void {
  const v = ++published;
  const files = [
    {
      name: "timestamp.json",
      bytes: enc({ signed: { _type: "timestamp", version: v, meta: { "snapshot.json": { version: v } } } }),
    },
    {
      name: `${v}.snapshot.json`,
      bytes: enc({
        signed: {
          _type: "snapshot",
          version: v,
          meta: Object.fromEntries(Object.keys(roles).map((r) => [`${r}.json`, { version: v }])),
        },
      }),
    },
    ...Object.entries(roles).map(([role, targets]) => ({
      name: `${v}.${role}.json`,
      bytes: enc({ signed: { _type: "targets", version: v, targets } }),
    })),
  ];
  metadata.publish(files);
}

const metadata = new PublishedMetadata();
const BASE_ENTRIES: Entries = {
  "pkg/file1.tar.gz": { length: ARTIFACT.length, hashes: ALL_HASHES },
  "pkg/blake-only.tar.gz": { length: ARTIFACT.length, hashes: { "blake2b-256": ALL_HASHES["blake2b-256"] } },
  "pkg/ambiguous.tar.gz": {
    length: ARTIFACT.length,
    hashes: { sha256: sha256(ARTIFACT), "blake2b-256": sha256(ARTIFACT) },
  },
  "pkg/wrong-length.tar.gz": { length: ARTIFACT.length + 1, hashes: { sha256: sha256(ARTIFACT) } },
  "pkg/unknown-alg.tar.gz": { length: ARTIFACT.length, hashes: { "sha3-256": sha256(ARTIFACT) } },
};

// Created at load time: the traversal table below needs the absolute path.
const base = mkdtempSync(join(tmpdir(), "tufbox-targets-"));
const dir = join(base, "targets");
let server: HttpServer;
let apiPaths: string[] = [];

beforeAll(() => {
  mkdirSync(join(dir, "pkg", "sub"), { recursive: true });
  writeFileSync(join(base, "secret.txt"), SECRET);
  writeFileSync(join(dir, "pkg", "file1.tar.gz"), ARTIFACT);
  for (const name of ["blake-only", "ambiguous", "wrong-length", "unknown-alg", "unlisted"])
    writeFileSync(join(dir, "pkg", `${name}.tar.gz`), ARTIFACT);
  publishTargets(metadata, { targets: BASE_ENTRIES });
  writeFileSync(join(dir, "pkg", "sub", "page.html"), "<script>alert(1)</script>");
  writeFileSync(join(dir, "top.txt"), "top");
  symlinkSync(join(base, "secret.txt"), join(dir, "escape.txt"));
  symlinkSync(base, join(dir, "up"));
  symlinkSync(join(dir, "top.txt"), join(dir, "inside-link.txt"));
  server = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    metadata,
    targetsDir: dir,
    api: (req) => {
      apiPaths.push(new URL(req.url).pathname);
      return new Response("api says no", { status: 404 });
    },
  });
});

afterAll(async () => {
  await server.stop(true);
  rmSync(base, { recursive: true, force: true });
});

/** Sends exactly these bytes: fetch() would normalize `..` and encodings before sending. */
async function raw(path: string, method = "GET", withHost = true): Promise<{ status: number; text: string }> {
  let out = "";
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: server.server.port!,
    socket: {
      data(_s, chunk) {
        out += chunk.toString("latin1");
      },
      close: () => resolve(),
      error: () => resolve(),
    },
  });
  // Without a Host header Bun leaves the path as sent (no dot-segment normalization).
  socket.write(
    withHost
      ? `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`
      : `${method} ${path} HTTP/1.0\r\n\r\n`,
  );
  await Promise.race([closed, Bun.sleep(2000)]);
  socket.end();
  return { status: Number(out.split(" ")[1]), text: out };
}

describe("/targets/", () => {
  test("serves a plain file, streamed, as inert bytes", async () => {
    const res = await fetch(`${server.url}/targets/pkg/file1.tar.gz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(ARTIFACT);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const html = await fetch(`${server.url}/targets/pkg/sub/page.html`);
    expect(html.headers.get("content-type")).toBe("application/octet-stream");
  });

  test("serves <hash>.<basename> under every hash the published entry lists", async () => {
    for (const [algorithm, hex] of Object.entries(ALL_HASHES)) {
      const res = await fetch(`${server.url}/targets/pkg/${hex}.file1.tar.gz`);
      expect({ algorithm, status: res.status }).toEqual({ algorithm, status: 200 });
      expect(await res.text()).toBe(ARTIFACT);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    }
  });

  test("64 hex characters are whatever the entry says: blake2b-256 served, the unlisted sha256 not", async () => {
    const blake = await fetch(`${server.url}/targets/pkg/${ALL_HASHES["blake2b-256"]}.blake-only.tar.gz`);
    expect(blake.status).toBe(200);
    expect(await blake.text()).toBe(ARTIFACT);
    // The file's sha256 is right, but the metadata does not list it: no client asks for it.
    expect((await fetch(`${server.url}/targets/pkg/${sha256(ARTIFACT)}.blake-only.tar.gz`)).status).toBe(404);
  });

  test("ambiguous, wrong-length, unknown-algorithm and unlisted entries are 404", async () => {
    for (const name of ["ambiguous", "wrong-length", "unknown-alg", "unlisted"]) {
      const res = await fetch(`${server.url}/targets/pkg/${sha256(ARTIFACT)}.${name}.tar.gz`);
      expect({ name, status: res.status }).toEqual({ name, status: 404 });
      expect(await res.text()).not.toContain("artifact bytes");
      // The plain name is still served: it claims nothing about the bytes.
      expect((await fetch(`${server.url}/targets/pkg/${name}.tar.gz`)).status).toBe(200);
    }
  });

  test("follows new publications: new entries, new roles, roles the snapshot no longer lists", async () => {
    const path = join(dir, "pkg", "later.bin");
    writeFileSync(path, "later");
    const url = `${server.url}/targets/pkg/${sha256("later")}.later.bin`;
    expect((await fetch(url)).status).toBe(404);
    const later: Entries = { "pkg/later.bin": { length: 5, hashes: { sha256: sha256("later") } } };
    publishTargets(metadata, { targets: BASE_ENTRIES, "bins-1": later });
    expect((await fetch(url)).status).toBe(200);
    publishTargets(metadata, { targets: BASE_ENTRIES });
    expect((await fetch(url)).status).toBe(404);
  });

  test("a wrong, truncated or upper-case digest is 404", async () => {
    const good = sha256(ARTIFACT);
    const wrong = sha256("something else");
    for (const name of [
      `${wrong}.file1.tar.gz`,
      `${good.slice(0, 63)}.file1.tar.gz`,
      `${good.toUpperCase()}.file1.tar.gz`,
      `${good}.missing.tar.gz`,
      `${good}.file1.tar.gz.x`,
    ]) {
      const res = await fetch(`${server.url}/targets/pkg/${name}`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain("artifact bytes");
    }
    // The hashed name does not move the file to another directory.
    expect((await fetch(`${server.url}/targets/${good}.file1.tar.gz`)).status).toBe(404);
  });

  test("the digest cache follows the file when it changes", async () => {
    const path = join(dir, "pkg", "changing.bin");
    writeFileSync(path, "v1");
    publishTargets(metadata, {
      targets: BASE_ENTRIES,
      "bins-0": {
        "pkg/changing.bin": { length: 2, hashes: { sha256: sha256("v1") } },
      },
      // Another role lists the next bytes, so both URLs resolve and only the file decides.
      "bins-1": { "pkg/changing.bin": { length: 2, hashes: { sha512: sha512("v2") } } },
    });
    expect((await fetch(`${server.url}/targets/pkg/${sha256("v1")}.changing.bin`)).status).toBe(200);
    writeFileSync(path, "v2");
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect((await fetch(`${server.url}/targets/pkg/${sha256("v1")}.changing.bin`)).status).toBe(404);
    const res = await fetch(`${server.url}/targets/pkg/${sha512("v2")}.changing.bin`);
    expect(await res.text()).toBe("v2");
  });

  test("HEAD, ETag and 304", async () => {
    const head = await fetch(`${server.url}/targets/pkg/file1.tar.gz`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(ARTIFACT.length));
    expect(await head.text()).toBe("");
    const etag = head.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    const again = await fetch(`${server.url}/targets/pkg/file1.tar.gz`, { headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
  });

  test("missing files, directories and other methods", async () => {
    expect((await fetch(`${server.url}/targets/pkg/nope.tar.gz`)).status).toBe(404);
    expect((await fetch(`${server.url}/targets/pkg`)).status).toBe(404);
    expect((await fetch(`${server.url}/targets/pkg/`)).status).toBe(400);
    expect((await fetch(`${server.url}/targets/`)).status).toBe(404);
    expect((await fetch(`${server.url}/targets`)).status).toBe(404);
    expect((await fetch(`${server.url}/targets/pkg/file1.tar.gz`, { method: "PUT", body: "x" })).status).toBe(405);
  });

  test("symlinks may point inside the directory, never outside", async () => {
    expect(await (await fetch(`${server.url}/targets/inside-link.txt`)).text()).toBe("top");
    for (const path of ["/targets/escape.txt", "/targets/up/secret.txt"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain(SECRET);
    }
  });

  test.each([
    "/targets/../secret.txt",
    "/targets/../../../../etc/passwd",
    "/targets/%2e%2e/secret.txt",
    "/targets/%2E%2E/secret.txt",
    "/targets/.%2e/secret.txt",
    "/targets/%2e%2e%2fsecret.txt",
    "/targets/pkg%2f..%2f..%2fsecret.txt",
    "/targets/pkg/%2e%2e/%2e%2e/secret.txt",
    "/targets/..%5csecret.txt",
    "/targets/..\\secret.txt",
    `/targets/${encodeURIComponent(join(base, "secret.txt"))}`,
    `/targets/${join(base, "secret.txt")}`,
    "/targets//etc/passwd",
    "/targets/%2Fetc%2Fpasswd",
    "/targets/pkg/file1.tar.gz%00.txt",
    "/targets/%252e%252e/secret.txt",
    "/targets/./pkg/file1.tar.gz/../../../secret.txt",
  ])("traversal %s is refused without contents", async (path) => {
    for (const [method, withHost] of [
      ["GET", true],
      ["HEAD", true],
      ["GET", false],
    ] as const) {
      const res = await raw(path, method, withHost);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toContain(SECRET);
      expect(res.text).not.toContain("root:");
    }
  });

  test("a request normalized out of /targets/ by the URL parser lands in the api, not on disk", async () => {
    apiPaths = [];
    const res = await raw("/targets/../secret.txt");
    expect(res.status).toBe(404);
    expect(apiPaths).toEqual(["/secret.txt"]);
  });
});

describe("targetSegments", () => {
  test("accepts nested, encoded names", () => {
    expect(targetSegments("a/b%20c/d.tar.gz")).toEqual(["a", "b c", "d.tar.gz"]);
  });
  test.each(["", "..", "a/../b", "./a", "a//b", "/a", "a/", "a%2Fb", "a%5Cb", "a\\b", "%00", "%E0%A4%A", "%2e%2e"])(
    "rejects %p",
    (p) => {
      expect(targetSegments(p)).toBeUndefined();
    },
  );
});

describe("TargetFiles", () => {
  test("hashes a file once for many concurrent hashed requests", async () => {
    const index = new PublishedTargets(metadata);
    const files = new TargetFiles(dir, (path, hex) => index.resolve(path, hex));
    const hex = sha512(ARTIFACT);
    const results = await Promise.all(Array.from({ length: 20 }, () => files.lookup(`pkg/${hex}.file1.tar.gz`)));
    expect(results.every((r) => r.kind === "file" && r.file.immutable)).toBe(true);
  });

  test("without a resolver, hashed names are never served", async () => {
    const files = new TargetFiles(dir);
    expect((await files.lookup(`pkg/${sha256(ARTIFACT)}.file1.tar.gz`)).kind).toBe("missing");
    expect((await files.lookup("pkg/file1.tar.gz")).kind).toBe("file");
  });

  test("a directory that does not exist yet answers missing", async () => {
    const files = new TargetFiles(join(base, "not-yet"));
    expect((await files.lookup("a.txt")).kind).toBe("missing");
    mkdirSync(join(base, "not-yet"));
    writeFileSync(join(base, "not-yet", "a.txt"), "a");
    expect((await files.lookup("a.txt")).kind).toBe("file");
  });
});

describe("resolveHash", () => {
  const hex = "ab".repeat(32);
  test.each([
    [
      "one algorithm lists it",
      [{ length: 3, hashes: { "blake2b-256": hex } }],
      { algorithm: "blake2b-256", length: 3 },
    ],
    [
      "two roles agree",
      [
        { length: 3, hashes: { sha256: hex } },
        { length: 3, hashes: { sha256: hex } },
      ],
      { algorithm: "sha256", length: 3 },
    ],
    ["not listed", [{ length: 3, hashes: { sha256: "cd".repeat(32) } }], undefined],
    ["two algorithms list it", [{ length: 3, hashes: { sha256: hex, "blake2b-256": hex } }], undefined],
    [
      "two roles disagree on the length",
      [
        { length: 3, hashes: { sha256: hex } },
        { length: 4, hashes: { sha256: hex } },
      ],
      undefined,
    ],
    ["no entries", [], undefined],
  ])("%s", (_name, entries, expected) => {
    expect(resolveHash(entries, hex)).toEqual(expected as any);
  });
});
