import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpServer, type HttpServer, type HttpServerOptions } from "../../src/server/http.ts";
import { PublishedMetadata } from "../../src/server/published.ts";
import { silentLogger } from "../../src/log.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const IMMUTABLE = "public, max-age=31536000, immutable";

/** Stands in for the store: every published file, and a log of loads. */
function fakeStore() {
  const files = new Map<string, Uint8Array>();
  const loads: string[] = [];
  return {
    files,
    loads,
    loader: async (name: string) => {
      loads.push(name);
      return files.get(name);
    },
    lister: async () => [...files.keys()],
  };
}

/** A repository that publishes like the engine: bins, then snapshot, then timestamp, and root aliases. */
function repository(opts: { cacheBytes?: number } = {}) {
  const store = fakeStore();
  const metadata = new PublishedMetadata({
    loader: store.loader,
    lister: store.lister,
    cacheBytes: opts.cacheBytes ?? 1 << 20,
  });
  let version = 0;
  return {
    store,
    metadata,
    publishFiles(files: { name: string; bytes: Uint8Array }[]) {
      for (const f of files) store.files.set(f.name, f.bytes);
      metadata.publish(files);
    },
    publish(extra: { name: string; bytes: Uint8Array }[] = []) {
      version++;
      const files = [
        ...extra,
        { name: `${version}.bins-0.json`, bytes: enc(JSON.stringify({ signed: { _type: "targets", version } })) },
        { name: `${version}.snapshot.json`, bytes: enc(JSON.stringify({ signed: { _type: "snapshot", version } })) },
        {
          name: "timestamp.json",
          bytes: enc(
            JSON.stringify({ signed: { _type: "timestamp", version, meta: { "snapshot.json": { version } } } }),
          ),
        },
      ];
      for (const f of files) store.files.set(f.name, f.bytes);
      metadata.publish(files);
      return version;
    },
  };
}

const rootFiles = (v: number) => [
  { name: `${v}.root.json`, bytes: enc(JSON.stringify({ signed: { _type: "root", version: v } })) },
  { name: "root.json", bytes: enc(JSON.stringify({ signed: { _type: "root", version: v } })) },
];

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop(true);
});

function start(metadata: PublishedMetadata, extra: Partial<HttpServerOptions> = {}): HttpServer {
  const api: HttpServerOptions["api"] = async (req) =>
    Response.json(
      { api: true, method: req.method, url: req.url, body: req.method === "POST" ? await req.text() : null },
      { status: 418 },
    );
  const s = startHttpServer({ hostname: "127.0.0.1", port: 0, metadata, api, ...extra });
  servers.push(s);
  return s;
}

/** Sends exactly these bytes: fetch() would normalize `..` and encodings before sending. */
async function raw(port: number, request: string): Promise<{ status: number; head: string; body: string }> {
  let out = "";
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        out += chunk.toString("latin1");
      },
      close: () => resolve(),
      error: () => resolve(),
    },
  });
  socket.write(request);
  await Promise.race([closed, Bun.sleep(2000)]);
  socket.end();
  const [head = "", ...rest] = out.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), head, body: rest.join("\r\n\r\n") };
}

describe("/metadata/", () => {
  test("GET returns the exact bytes with JSON type, strong ETag and per-kind Cache-Control", async () => {
    const repo = repository();
    repo.publishFiles(rootFiles(1));
    repo.publish();
    const s = start(repo.metadata);
    for (const name of ["timestamp.json", "root.json", "1.root.json", "1.snapshot.json", "1.bins-0.json"]) {
      const res = await fetch(`${s.url}/metadata/${name}`);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer()) as Uint8Array).toEqual(repo.store.files.get(name)!);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/);
      expect(res.headers.get("etag")).toBe(repo.metadata.peek(name)!.etag);
      expect(res.headers.get("cache-control")).toBe(/^\d+\./.test(name) ? IMMUTABLE : "no-cache");
    }
  });

  test("HEAD answers headers and length without a body, for static and fetch-served files", async () => {
    const repo = repository();
    repo.publish();
    repo.publish();
    const s = start(repo.metadata);
    for (const name of ["timestamp.json", "1.snapshot.json"]) {
      const res = await fetch(`${s.url}/metadata/${name}`, { method: "HEAD" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(repo.store.files.get(name)!.byteLength));
      expect(res.headers.get("etag")).toBe(repo.metadata.peek(name)!.etag);
      expect(await res.text()).toBe("");
    }
  });

  test("If-None-Match answers 304 on static routes and through fetch", async () => {
    const repo = repository({ cacheBytes: 0 });
    repo.publish();
    repo.publish();
    const s = start(repo.metadata);
    // timestamp.json is a static route; 1.snapshot.json comes from the loader.
    for (const name of ["timestamp.json", "1.snapshot.json"]) {
      const etag = (await fetch(`${s.url}/metadata/${name}`)).headers.get("etag")!;
      for (const header of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
        const res = await fetch(`${s.url}/metadata/${name}`, { headers: { "If-None-Match": header } });
        expect(res.status).toBe(304);
        expect(res.headers.get("etag")).toBe(etag);
        expect(await res.text()).toBe("");
      }
      const changed = await fetch(`${s.url}/metadata/${name}`, { headers: { "If-None-Match": '"0000"' } });
      expect(changed.status).toBe(200);
    }
  });

  test("missing versions, the next root and unknown names answer 404 with a small JSON body", async () => {
    const repo = repository();
    repo.publishFiles(rootFiles(1));
    repo.publish();
    const s = start(repo.metadata);
    for (const name of [
      "2.root.json",
      "3.root.json",
      "2.snapshot.json",
      "7.bins-ff.json",
      "nothing.json",
      "0.root.json",
      "01.root.json",
      "x",
      "%2e%2e%2froot.json",
      "sub%2Froot.json",
    ]) {
      const res = await fetch(`${s.url}/metadata/${name}`);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = await res.text();
      expect(body.length).toBeLessThan(100);
      expect(JSON.parse(body)).toEqual({ detail: { error: "metadata file not found" } });
    }
  });

  test("other methods are refused with 405 and Allow", async () => {
    const repo = repository();
    repo.publish();
    const s = start(repo.metadata);
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const res = await fetch(`${s.url}/metadata/timestamp.json`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD");
    }
  });

  test("the directory listing links every published name, with and without the slash", async () => {
    const repo = repository();
    repo.publishFiles(rootFiles(1));
    repo.publishFiles(rootFiles(2));
    repo.publish();
    const s = start(repo.metadata);
    for (const path of ["/metadata/", "/metadata"]) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/html");
      const html = await res.text();
      for (const name of ["1.root.json", "2.root.json", "root.json", "timestamp.json", "1.snapshot.json"]) {
        expect(html).toContain(`<a href="${name}">${name}</a>`);
      }
    }
    // Without the slash, relative links would otherwise point at /2.root.json.
    expect(await (await fetch(`${s.url}/metadata`)).text()).toContain('<base href="metadata/">');
    repo.publishFiles(rootFiles(3));
    expect(await (await fetch(`${s.url}/metadata/`)).text()).toContain('<a href="3.root.json">');
  });

  test("the listing is ordered by role (as clients walk them), then by version as a number", async () => {
    const repo = repository();
    for (let v = 1; v <= 11; v++) repo.publishFiles(rootFiles(v));
    repo.publish();
    repo.publish();
    const s = start(repo.metadata);
    const html = await (await fetch(`${s.url}/metadata/`)).text();
    const names = [...html.matchAll(/<a href="([^"]+)">/g)].map((m) => decodeURIComponent(m[1]!));
    const roots = names.filter((n) => n.endsWith("root.json"));
    expect(roots).toEqual(["root.json", ...Array.from({ length: 11 }, (_, i) => `${i + 1}.root.json`)]);
    // root before timestamp before snapshot, whatever the alphabet says.
    const first = (role: string) => names.findIndex((n) => n === `${role}.json` || n.endsWith(`.${role}.json`));
    expect(first("root")).toBeLessThan(first("timestamp"));
    expect(first("timestamp")).toBeLessThan(first("snapshot"));
  });

  test("after a second publish timestamp.json changes and old versions are still served, from the store once evicted", async () => {
    const repo = repository({ cacheBytes: 0 });
    repo.publishFiles(rootFiles(1));
    repo.publish();
    const s = start(repo.metadata);
    const first = await fetch(`${s.url}/metadata/timestamp.json`);
    const etag1 = first.headers.get("etag");
    expect(JSON.parse(await first.text()).signed.version).toBe(1);

    repo.publish();
    await s.routesSettled();
    const second = await fetch(`${s.url}/metadata/timestamp.json`);
    expect(JSON.parse(await second.text()).signed.version).toBe(2);
    expect(second.headers.get("etag")).not.toBe(etag1);
    expect((await fetch(`${s.url}/metadata/timestamp.json`, { headers: { "If-None-Match": etag1! } })).status).toBe(
      200,
    );

    for (const name of ["1.snapshot.json", "1.bins-0.json", "2.snapshot.json", "2.bins-0.json"]) {
      const res = await fetch(`${s.url}/metadata/${name}`);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer()) as Uint8Array).toEqual(repo.store.files.get(name)!);
    }
    expect(repo.store.loads).toContain("1.snapshot.json");
    expect(repo.store.loads).not.toContain("2.snapshot.json");
  });

  test("once publish returns, timestamp.json answers the new bytes (read-your-writes)", async () => {
    const repo = repository();
    repo.publish();
    const s = start(repo.metadata);
    for (let i = 0; i < 5; i++) {
      const v = repo.publish();
      // No waiting: the engine reports a task done right after publish().
      const res = await fetch(`${s.url}/metadata/timestamp.json`);
      expect(JSON.parse(await res.text()).signed.version).toBe(v);
      await Bun.sleep(i * 30);
    }
  });

  test("under rapid publishes clients read their writes, every timestamp's snapshot is served, and rebuilds are coalesced", async () => {
    const repo = repository({ cacheBytes: 0 });
    repo.publish();
    const s = start(repo.metadata, { reloadIntervalMs: 20, reloadMaxWaitMs: 200 });
    const reloadsBefore = s.staticRoutes().reloads;
    let stop = false;
    let published = 1;
    let publishes = 0;
    const publisher = (async () => {
      while (!stop) {
        published = repo.publish();
        publishes++;
        await Bun.sleep(Math.random() * 4);
      }
    })();
    const seen = new Set<number>();
    const deadline = performance.now() + 1000;
    while (performance.now() < deadline) {
      const before = published;
      const ts = JSON.parse(await (await fetch(`${s.url}/metadata/timestamp.json`)).text());
      const v: number = ts.signed.meta["snapshot.json"].version;
      expect(v).toBeGreaterThanOrEqual(before);
      seen.add(v);
      const snap = await fetch(`${s.url}/metadata/${v}.snapshot.json`);
      expect(snap.status).toBe(200);
      expect(JSON.parse(await snap.text()).signed.version).toBe(v);
    }
    stop = true;
    await publisher;
    expect(seen.size).toBeGreaterThan(3);
    // A burst costs a rebuild at its start (unversioned files leave the static
    // table) and one per maxWait: nowhere near one per publish.
    const reloads = s.staticRoutes().reloads - reloadsBefore;
    expect(publishes).toBeGreaterThan(100);
    expect(reloads).toBeLessThan(publishes / 5);
    await s.routesSettled();
    expect(s.staticRoutes().names).toContain("timestamp.json");
    const last = JSON.parse(await (await fetch(`${s.url}/metadata/timestamp.json`)).text());
    expect(last.signed.version).toBe(published);
  });

  test("a repository with 16384 bins serves every bin while only a bounded hot set is static", async () => {
    const metadata = new PublishedMetadata();
    const files = [...rootFiles(1)];
    for (let i = 0; i < 16384; i++) {
      const name = `1.bins-${i.toString(16).padStart(4, "0")}.json`;
      files.push({ name, bytes: enc(JSON.stringify({ signed: { _type: "targets", name } })) });
    }
    files.push({ name: "1.snapshot.json", bytes: enc("{}") }, { name: "timestamp.json", bytes: enc('{"t":1}') });
    metadata.publish(files);
    const s = start(metadata, { maxStaticRoutes: 256 });
    const { names } = s.staticRoutes();
    expect(names.length).toBe(256);
    for (const must of ["timestamp.json", "root.json", "1.root.json", "1.snapshot.json"]) expect(names).toContain(must);

    for (const i of [0, 1, 0x3ff, 0x1234, 0x3fff]) {
      const name = `1.bins-${i.toString(16).padStart(4, "0")}.json`;
      const res = await fetch(`${s.url}/metadata/${name}`);
      expect(res.status).toBe(200);
      expect(JSON.parse(await res.text()).signed.name).toBe(name);
    }
    // A hot bin requested through fetch is promoted at the next reload.
    for (let i = 0; i < 20; i++) await fetch(`${s.url}/metadata/1.bins-3fff.json`);
    metadata.publish([{ name: "timestamp.json", bytes: enc('{"t":2}') }]);
    await s.routesSettled();
    expect(s.staticRoutes().names).toContain("1.bins-3fff.json");
    // Registering 16384 routes takes seconds; the budget keeps a reload far below that.
    expect(s.staticRoutes().reloadMs + s.staticRoutes().buildMs).toBeLessThan(500);
  });
});

describe("everything else goes to the API", () => {
  test("other paths, methods and bodies reach the api handler untouched", async () => {
    const repo = repository();
    repo.publish();
    const s = start(repo.metadata);
    for (const path of ["/api/v1/artifacts/", "/healthz", "/metadatax", "/targetsy", "/"]) {
      const res = await fetch(`${s.url}${path}?q=1`);
      expect(res.status).toBe(418);
      const body = (await res.json()) as { url: string };
      expect(new URL(body.url).pathname).toBe(path);
      expect(new URL(body.url).search).toBe("?q=1");
    }
    const post = await fetch(`${s.url}/api/v1/artifacts`, { method: "POST", body: '{"x":1}' });
    expect(await post.json()).toMatchObject({ method: "POST", body: '{"x":1}' });
  });

  test("a request without a Host header still reaches the api with an absolute URL", async () => {
    const repo = repository();
    repo.publish();
    const s = start(repo.metadata);
    const res = await raw(s.server.port!, "GET /healthz HTTP/1.0\r\n\r\n");
    expect(res.status).toBe(418);
    expect(JSON.parse(res.body).url).toBe("http://localhost/healthz");
    const ts = await raw(s.server.port!, "GET /metadata/timestamp.json HTTP/1.0\r\n\r\n");
    expect(ts.status).toBe(200);
    const md = await raw(s.server.port!, "HEAD /metadata/1.snapshot.json HTTP/1.0\r\n\r\n");
    expect(md.status).toBe(200);
  });

  test("malformed requests and a throwing api never crash the server nor show a stack", async () => {
    const repo = repository();
    repo.publish();
    const s = start(repo.metadata, {
      api: () => {
        throw new Error("secret internals at /work/main/src/x.ts:12");
      },
      log: silentLogger(),
    });
    const boom = await fetch(`${s.url}/api/v1/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain("secret internals");
    for (const req of [
      "GET /metadata/%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET /metadata/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET /metadata/a%00b.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET /metadata/timestamp.json HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n",
      "GET /metadata/timestamp.json HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n",
      "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]) {
      const res = await raw(s.server.port!, req);
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(600);
      expect(res.body).not.toContain("    at ");
    }
    // Bun's parser drops a connection with an unknown method without answering.
    const brew = await raw(s.server.port!, "BREW /metadata/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(brew.body).toBe("");
    expect((await fetch(`${s.url}/metadata/timestamp.json`)).status).toBe(200);
  });

  test("a store failure is a 503, not a 404 a client would read as 'no newer root'", async () => {
    const metadata = new PublishedMetadata({
      loader: async () => {
        throw new Error("database is locked");
      },
    });
    metadata.publish([...rootFiles(3)]);
    const s = start(metadata, { log: silentLogger() });
    const res = await fetch(`${s.url}/metadata/2.root.json`);
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain("database is locked");
    expect((await fetch(`${s.url}/metadata/4.root.json`)).status).toBe(404);
  });
});

describe("TLS", () => {
  test.skipIf(!Bun.which("openssl"))("serves HTTPS from PEM file paths or PEM text", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tufbox-tls-"));
    try {
      const made = Bun.spawnSync(
        [
          "openssl",
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=127.0.0.1",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
        ],
        { stderr: "pipe" },
      );
      expect(made.exitCode).toBe(0);
      const repo = repository();
      repo.publish();
      const fromFiles = start(repo.metadata, { tls: { cert: join(dir, "cert.pem"), key: join(dir, "key.pem") } });
      const fromText = start(repo.metadata, {
        tls: { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") },
      });
      for (const s of [fromFiles, fromText]) {
        expect(s.url).toStartWith("https://127.0.0.1:");
        const res = await fetch(`${s.url}/metadata/timestamp.json`, { tls: { rejectUnauthorized: false } });
        expect(res.status).toBe(200);
        expect(JSON.parse(await res.text()).signed._type).toBe("timestamp");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
