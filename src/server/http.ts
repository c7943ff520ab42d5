/**
 * The one Bun.serve of a tufbox process: published metadata under /metadata/,
 * artifact bytes under /targets/, everything else to the API handler.
 *
 * Why static routes: DESIGN.md "Performance notes" measured prebuilt
 * `Response` objects in `routes` at ~140k req/s against ~100k for a Map
 * lookup in `fetch` and ~62k for nginx. So the hot set (unversioned files and
 * the newest version of each role) is served as static routes, rebuilt and
 * swapped with `server.reload()` after a publish; everything else (HEAD,
 * older versions, roles that did not fit) goes through `fetch`, which reads
 * the same PublishedMetadata and so is never behind it. (scripts/bench/serve.ts
 * re-measures this against nginx; on the 2-core build machine nginx with its
 * defaults and access_log off did ~140k for 1 KB, so the gain was ~1.1-1.3x.)
 *
 * Why a budget on static routes: registering routes costs time quadratic in
 * their number (measured on 2 cores, GET-only routes: 1024 → ~5 ms,
 * 2048 → ~17 ms, 4096 → ~60 ms, 16384 → ~2.1 s; GET+HEAD doubles the count,
 * so 16384 → ~7 s; a bare Response route answers every method and took ~60 s).
 * A repository with 16384 bins cannot make every bin static,
 * so at most `maxStaticRoutes` files are: the unversioned files and top-level
 * roles first, then the roles `fetch` saw requested most.
 *
 * Consistency: `publish` updates PublishedMetadata synchronously, and the
 * static table is always rebuilt from that state in one piece and swapped with
 * one reload, so no request sees a timestamp whose snapshot is not served.
 * Read-your-writes: a publish that changes an unversioned file which is a
 * static route (timestamp.json, root.json) rebuilds before publish() returns,
 * because the engine reports the task done right after, and clients (RSTUF's
 * tests, tuf-js) then expect the new timestamp. Publishes closer together than
 * `reloadIntervalMs` are a burst: the first takes the unversioned files out of
 * the static table (fetch serves them, always current), and one debounced
 * rebuild at the end of the burst puts everything back.
 */
import type { PublishedFile, PublishedMetadata } from "./published.ts";
import { PublishedTargets } from "./published-targets.ts";
import { ContentTargets } from "./content.ts";
import type { ArtifactContent } from "../storage/content.ts";
import { TargetFiles } from "./targets.ts";
import { createLogger, type Logger } from "../log.ts";
import { isTopLevelRole } from "../tuf/roles.ts";
import { COMPRESS_MIN_BYTES } from "./encodings.ts";
import { errorResponse, fileError } from "./errors.ts";
import {
  callApi,
  decodeSegment,
  errorMessage,
  listingBody,
  metadataHeaders,
  metadataNotFound,
  metadataResponse,
  methodNotAllowed,
  pemSource,
  REVALIDATE,
  requestPath,
  targetResponse,
} from "./file-responses.ts";

import { SourceLimiter, withBodyDeadline, type BodyDeadline } from "./timeouts.ts";

export interface HttpServerOptions {
  hostname: string;
  port: number;
  metadata: PublishedMetadata;
  /** directory of artifact bytes served under /targets/; absent = /targets/ answers 404 */
  targetsDir?: string;
  /** artifact content tufbox stores (storage/), tried before targetsDir (server/content.ts) */
  content?: ArtifactContent;
  /** answers a /targets/ request with no file in targetsDir (a mirror fetches, verifies and stores it) */
  targetsMissing?: (req: Request, encoded: string) => Promise<Response>;
  /** everything that is not /metadata or /targets (the Elysia app's `handle`); `source` is the client address */
  api: (req: Request, source?: string) => Response | Promise<Response>;
  /** PEM text, or paths to PEM files */
  tls?: { cert: string; key: string };
  maxRequestBodySize?: number;
  /** seconds a connection may stay idle, keep-alive included (Bun's default: 10) */
  idleTimeoutSeconds?: number;
  /** how long API request bodies may take to arrive (src/server/timeouts.ts) */
  bodyDeadline?: BodyDeadline;
  /** most API requests in progress per client address (0 or absent: no limit) */
  maxRequestsPerSource?: number;
  /**
   * Expired unversioned files (timestamp.json): never a static route, and a
   * request for one asks for a re-sign and waits for it (bounded) before
   * answering with whatever is current.
   */
  freshness?: { expired(name: string): boolean; refresh(name: string): Promise<void> };
  /** most files served as static routes (default 1024: ~5 ms per reload on 2 cores) */
  maxStaticRoutes?: number;
  /** publishes closer together than this are a burst: one route rebuild at its end (default 50 ms) */
  reloadIntervalMs?: number;
  /** longest a burst may delay that rebuild (default 20 x reloadIntervalMs) */
  reloadMaxWaitMs?: number;
  /** the process logger (redacting); errors go through it, never to the console (default: warnings on stderr) */
  log?: Logger;
}

export interface HttpServer {
  readonly server: Bun.Server<undefined>;
  /** base URL, e.g. `http://127.0.0.1:8080` */
  readonly url: string;
  /** stops listening; waits for in-flight requests unless `force` */
  stop(force?: boolean): Promise<void>;
  /** resolves once static routes reflect every publish so far (tests, benchmarks) */
  routesSettled(): Promise<void>;
  /** names currently served as static routes; the last rebuild's cost (route table, then `server.reload()`); rebuilds so far */
  staticRoutes(): { names: string[]; buildMs: number; reloadMs: number; reloads: number };
  /** rebuild the static routes now (e.g. a served file just expired) */
  refreshRoutes(): void;
}

/** Route paths treat `:`, `*` and `%` specially; other names are served by fetch. */
const ROUTE_SAFE_NAME = /^[A-Za-z0-9._-]+$/;
const LISTING_TTL_MS = 5000;
const SLOW_RELOAD_MS = 50;

export function startHttpServer(opts: HttpServerOptions): HttpServer {
  const metadata = opts.metadata;
  const budget = Math.max(0, opts.maxStaticRoutes ?? 1024);
  const interval = Math.max(0, opts.reloadIntervalMs ?? 50);
  const maxWait = Math.max(interval, opts.reloadMaxWaitMs ?? interval * 20);
  const published = new PublishedTargets(metadata);
  // A mirror (targetsMissing) stores every hashed name as a file and resolves the rest
  // itself: no index of every published target for it.
  const targets =
    opts.targetsDir === undefined
      ? undefined
      : new TargetFiles(opts.targetsDir, opts.targetsMissing ? undefined : (path, hex) => published.resolve(path, hex));
  const log = opts.log ?? createLogger({ level: "warn", format: "text" });
  const limiter = new SourceLimiter(opts.maxRequestsPerSource ?? 0);
  const freshness = opts.freshness;
  const stored =
    opts.content === undefined ? undefined : new ContentTargets((path) => published.entries(path), opts.content);

  // Requests per role that missed the static table; decides which roles to promote.
  const popularity = new Map<string, number>();
  let budgetExceeded = false;
  let staticNames: string[] = [];
  let staticFiles = new Map<string, PublishedFile>();
  let lastBuildMs = 0;
  let lastReloadMs = 0;
  // Only the current table's responses are kept: a static Response holds its
  // own copy of the bytes, which must not outlive the route.
  let responses = new Map<PublishedFile, Response | null>();

  type Route = { GET: Response | ((req: Request) => Response) };
  interface RouteTable {
    routes: Record<string, Route>;
    /** null: served by a handler route (compressed variants) */
    responses: Map<PublishedFile, Response | null>;
    names: string[];
  }

  function buildRoutes(includeMutable: boolean): RouteTable {
    // An expired file must reach fetch, which re-signs it (freshness).
    const hot = metadata.hotFiles().filter((f) => f.immutable || !freshness?.expired(f.name));
    const chosen = chooseStatic(includeMutable ? hot : hot.filter((f) => f.immutable), budget, popularity);
    budgetExceeded = chosen.length < hot.length;
    for (const [role, n] of popularity) {
      // Halving keeps the ranking about recent traffic.
      if (n < 2) popularity.delete(role);
      else popularity.set(role, n >> 1);
    }
    const routes: Record<string, Route> = {};
    const next = new Map<PublishedFile, Response | null>();
    for (const file of chosen) {
      // GET only: routes answering every method cost ~8x more to register; HEAD
      // and the rest fall through to fetch. A file large enough to have
      // compressed variants needs the request's Accept-Encoding: a handler
      // route instead of a prebuilt Response.
      if (file.bytes.byteLength >= COMPRESS_MIN_BYTES) {
        routes[`/metadata/${file.name}`] = { GET: (req: Request) => metadataResponse(req, file) };
        next.set(file, null);
        continue;
      }
      const res = responses.get(file) ?? new Response(file.bytes, { headers: metadataHeaders(file) });
      next.set(file, res);
      routes[`/metadata/${file.name}`] = { GET: res };
    }
    return { routes, responses: next, names: chosen.map((f) => f.name) };
  }

  function commit(table: RouteTable): Record<string, Route> {
    responses = table.responses;
    staticNames = table.names;
    staticFiles = new Map([...table.responses.keys()].map((f) => [f.name, f]));
    return table.routes;
  }

  function serveMetadata(req: Request, encoded: string): Response | Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed();
    const name = decodeSegment(encoded);
    if (name === undefined) return metadataNotFound();
    const file = metadata.peek(name);
    if (file) {
      if (budgetExceeded && file.version !== null) popularity.set(file.role, (popularity.get(file.role) ?? 0) + 1);
      if (file.version === null && freshness?.expired(name)) {
        return freshness.refresh(name).then(
          () => metadataResponse(req, metadata.peek(name) ?? file),
          () => metadataResponse(req, metadata.peek(name) ?? file),
        );
      }
      return metadataResponse(req, file);
    }
    return metadata.get(name).then(
      (loaded) => (loaded ? metadataResponse(req, loaded) : metadataNotFound()),
      (err: unknown) => {
        log.error("loading published metadata failed", { name, error: errorMessage(err) });
        // Not a 404: a client must not conclude there is no newer root because the store is down.
        return fileError(503, "metadata temporarily unavailable");
      },
    );
  }

  let listingCache: { generation: number; at: number; html: Promise<string> } | undefined;
  function serveListing(req: Request, withSlash: boolean): Response | Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed();
    const now = performance.now();
    if (!listingCache || listingCache.generation !== metadata.generation || now - listingCache.at > LISTING_TTL_MS) {
      // Other replicas publish too, hence the TTL on top of the generation.
      const html = metadata.listNames().then(listingBody);
      listingCache = { generation: metadata.generation, at: now, html };
      html.catch(() => {
        if (listingCache?.html === html) listingCache = undefined;
      });
    }
    return listingCache.html.then(
      // Relative links must resolve inside /metadata/ whichever of the two URLs was asked.
      (body) =>
        new Response(withSlash ? body : body.replace("<head>", '<head><base href="metadata/">'), {
          headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": REVALIDATE },
        }),
      (err: unknown) => {
        log.error("listing published metadata failed", { error: errorMessage(err) });
        return fileError(503, "listing temporarily unavailable");
      },
    );
  }

  async function serveTarget(req: Request, encoded: string): Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed();
    if (!targets || encoded === "") return fileError(404, "target not found");
    const fromStorage = await stored?.serve(req, encoded);
    if (fromStorage) return fromStorage;
    const found = await targets.lookup(encoded);
    if (found.kind === "invalid") return fileError(400, "invalid target path");
    if (found.kind === "missing")
      return opts.targetsMissing ? opts.targetsMissing(req, encoded) : fileError(404, "target not found");
    return targetResponse(req, found.file);
  }

  function route(req: Request, srv: Bun.Server<undefined>): Response | Promise<Response> {
    const path = requestPath(req.url);
    if (path === undefined) return fileError(400, "bad request");
    if (path.startsWith("/metadata")) {
      if (path.startsWith("/metadata/")) {
        return path.length === 10 ? serveListing(req, true) : serveMetadata(req, path.slice(10));
      }
      if (path === "/metadata") return serveListing(req, false);
    }
    if (path.startsWith("/targets/")) return serveTarget(req, path.slice(9));
    if (path === "/targets") return fileError(404, "target not found");
    return limitedApi(req, srv);
  }

  /** API requests: bounded per client address and in how long their bodies take. */
  function limitedApi(req: Request, srv: Bun.Server<undefined>): Response | Promise<Response> {
    // The client address: counted here, and the guard's key for failed authentications.
    const address = srv.requestIP(req)?.address;
    const source = limiter.max > 0 ? (address ?? "") : "";
    if (!limiter.acquire(source)) {
      return fileError(429, `too many requests in progress from ${source} (limits.max_connections_per_source)`, {
        "retry-after": "1",
        connection: "close",
      });
    }
    let res: Response | Promise<Response>;
    try {
      res = callApi(opts.api, opts.bodyDeadline ? withBodyDeadline(req, opts.bodyDeadline) : req, address);
    } catch (err) {
      limiter.release(source);
      throw err;
    }
    if (!(res instanceof Promise)) {
      limiter.release(source);
      return res;
    }
    return res.finally(() => limiter.release(source));
  }

  function fetch(req: Request, srv: Bun.Server<undefined>): Response | Promise<Response> {
    try {
      const res = route(req, srv);
      return res instanceof Promise ? res.catch(internalError) : res;
    } catch (err) {
      return internalError(err);
    }
  }

  function internalError(err: unknown): Response {
    return errorResponse(err, log, "HTTP request");
  }

  const server = Bun.serve({
    hostname: opts.hostname,
    port: opts.port,
    // Never Bun's development error page: it shows stack traces.
    development: false,
    // One port, one server: with static routes Bun otherwise sets SO_REUSEPORT,
    // and a second tufbox on the same port "listened" and got half the clients.
    reusePort: false,
    ...(opts.idleTimeoutSeconds === undefined ? {} : { idleTimeout: opts.idleTimeoutSeconds }),
    ...(opts.maxRequestBodySize === undefined ? {} : { maxRequestBodySize: opts.maxRequestBodySize }),
    ...(opts.tls ? { tls: { cert: pemSource(opts.tls.cert), key: pemSource(opts.tls.key) } } : {}),
    routes: commit(buildRoutes(true)),
    fetch,
    error: internalError,
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  let pendingSince = 0;
  let lastPublishAt = 0;
  let lastReloadAt = performance.now();
  let reloads = 0;
  let settled: (() => void)[] = [];

  function reload(includeMutable: boolean): void {
    const started = performance.now();
    let built = started;
    try {
      const table = buildRoutes(includeMutable);
      built = performance.now();
      server.reload({ routes: table.routes, fetch, error: internalError, development: false });
      commit(table);
    } catch (err) {
      // Static routes keep the previous table; fetch still serves the new files.
      log.error("reloading static routes failed", { error: errorMessage(err) });
    }
    reloads++;
    lastReloadAt = performance.now();
    lastBuildMs = built - started;
    lastReloadMs = lastReloadAt - built;
    if (lastReloadAt - started > SLOW_RELOAD_MS) {
      log.warn("static route rebuild is slow; lower maxStaticRoutes", {
        ms: Math.round(lastReloadAt - started),
        routes: staticNames.length,
      });
    }
  }

  function settle(): void {
    const waiting = settled;
    settled = [];
    for (const resolve of waiting) resolve();
  }

  function cancelDeferred(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    settle();
  }

  // Debounced, so a burst of publishes costs one rebuild at its end; bounded by
  // maxWait, so a burst that never ends still gets its static routes.
  function deferredReload(): void {
    timer = undefined;
    const wait = Math.min(lastPublishAt + interval, pendingSince + maxWait) - performance.now();
    if (wait > 1) {
      timer = setTimeout(deferredReload, wait);
      return;
    }
    reload(true);
    settle();
  }

  const unsubscribe = metadata.onChange((names) => {
    const now = performance.now();
    lastPublishAt = now;
    // Read-your-writes: once publish() returns (and the engine reports the task
    // done), no static route may still answer a file's previous bytes. Only
    // unversioned names can change under a route; new versions are new names,
    // which fetch already serves.
    const stale = names.some((name) => {
      const current = staticFiles.get(name);
      return current !== undefined && current !== metadata.peek(name);
    });
    if (stale) {
      if (now - lastReloadAt >= interval) {
        reload(true);
        cancelDeferred();
        return;
      }
      // Publishing faster than the interval: take the unversioned files out of
      // the static table, so further publishes in this burst need no reload.
      reload(false);
    }
    if (timer === undefined) {
      pendingSince = now;
      timer = setTimeout(deferredReload, interval);
    }
  });

  const host = opts.hostname === "0.0.0.0" ? "127.0.0.1" : opts.hostname === "::" ? "::1" : opts.hostname;
  const url = `${opts.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${server.port}`;

  return {
    server,
    url,
    async stop(force = false) {
      unsubscribe();
      cancelDeferred();
      await server.stop(force);
    },
    routesSettled() {
      if (timer === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => settled.push(resolve));
    },
    staticRoutes() {
      return { names: [...staticNames], buildMs: lastBuildMs, reloadMs: lastReloadMs, reloads };
    },
    refreshRoutes() {
      reload(true);
      cancelDeferred();
    },
  };
}

/** Unversioned files and top-level roles first, then the most requested roles. */
function chooseStatic(hot: PublishedFile[], budget: number, popularity: Map<string, number>): PublishedFile[] {
  const first: PublishedFile[] = [];
  const rest: PublishedFile[] = [];
  for (const file of hot) {
    if (!ROUTE_SAFE_NAME.test(file.name)) continue;
    if (file.version === null || isTopLevelRole(file.role)) first.push(file);
    else rest.push(file);
  }
  if (first.length + rest.length <= budget) return [...first, ...rest];
  first.sort((a, b) => Number(b.version === null) - Number(a.version === null));
  rest.sort((a, b) => (popularity.get(b.role) ?? 0) - (popularity.get(a.role) ?? 0) || (a.name < b.name ? -1 : 1));
  return [...first, ...rest].slice(0, budget);
}
