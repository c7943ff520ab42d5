/**
 * The dashboard (`/`) and the API docs page (`/docs`), from `static/`.
 *
 * Bundling: both pages are Bun HTML imports, so `bun build --compile` bundles
 * them (TypeScript, CSS) into the executable and lists the output in
 * `bundle.files`. Run from source there is no such list, and the first
 * request bundles them once with `Bun.build`. Either way this module serves
 * the bytes itself instead of handing the HTMLBundle to Bun.serve, because
 * only then can every response carry our headers: a strict
 * Content-Security-Policy (same origin only, no inline script or style, no
 * framing), nosniff, no referrer, and a precomputed gzip body.
 */
import { basename } from "node:path";
import dashboardPage from "../../../static/index.html";
import docsPage from "../../../static/docs.html";
import type { Logger } from "../../log.ts";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Uint8Array;
  gzip: Uint8Array;
  type: string;
  etag: string;
  /** content-hashed chunk names never change content */
  immutable: boolean;
}

interface BundleFile {
  path: string;
  loader: string;
}

/** What `bun build --compile` records about an HTML import (absent when run from source). */
type Bundle = { index: string; files?: BundleFile[] };

const PAGES: { route: string; bundle: Bundle }[] = [
  { route: "/", bundle: dashboardPage as unknown as Bundle },
  { route: "/docs", bundle: docsPage as unknown as Bundle },
];

function asset(body: Uint8Array, type: string, immutable: boolean): Asset {
  const etag = `"${new Bun.CryptoHasher("sha256").update(body).digest("hex").slice(0, 32)}"`;
  return { body, gzip: Bun.gzipSync(body as Uint8Array<ArrayBuffer>, { level: 9 }), type, etag, immutable };
}

function typeOf(name: string): string {
  if (name.endsWith(".html")) return "text/html; charset=utf-8";
  if (name.endsWith(".js")) return "text/javascript; charset=utf-8";
  if (name.endsWith(".css")) return "text/css; charset=utf-8";
  if (name.endsWith(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

async function fromExecutable(): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  for (const { route, bundle } of PAGES) {
    for (const f of bundle.files!) {
      const bytes = new Uint8Array(await Bun.file(f.path).arrayBuffer());
      const name = basename(f.path);
      if (f.path === bundle.index) out.set(route, asset(bytes, typeOf(name), false));
      else out.set(`/${name}`, asset(bytes, typeOf(name), true));
    }
  }
  return out;
}

async function fromSource(): Promise<Map<string, Asset>> {
  const result = await Bun.build({
    entrypoints: PAGES.map((p) => p.bundle.index),
    minify: true,
    target: "browser",
  });
  if (!result.success) throw new Error(`bundling static/ failed: ${result.logs.map(String).join("; ")}`);
  const out = new Map<string, Asset>();
  for (const o of result.outputs) {
    const name = basename(o.path);
    const bytes = new Uint8Array(await o.arrayBuffer());
    const page = PAGES.find((p) => basename(p.bundle.index) === name);
    if (page) out.set(page.route, asset(bytes, typeOf(name), false));
    else out.set(`/${name}`, asset(bytes, typeOf(name), true));
  }
  return out;
}

export interface PageWeight {
  /** every script and stylesheet the two pages load */
  files: { name: string; bytes: number; gzip: number }[];
  js: { bytes: number; gzip: number };
  css: { bytes: number; gzip: number };
}

export class DashboardPages {
  readonly #log: Logger;
  #assets: Promise<Map<string, Asset>> | null = null;

  constructor(log: Logger) {
    this.#log = log;
  }

  #load(): Promise<Map<string, Asset>> {
    if (!this.#assets) {
      const compiled = PAGES.every((p) => Array.isArray(p.bundle.files));
      this.#assets = (compiled ? fromExecutable() : fromSource()).catch((err) => {
        this.#assets = null;
        throw err;
      });
    }
    return this.#assets;
  }

  /** A response for the dashboard's paths, or undefined for everything else. */
  async serve(request: Request, pathname: string): Promise<Response | undefined> {
    if (request.method !== "GET" && request.method !== "HEAD") return undefined;
    const key = pathname === "/docs/" ? "/docs" : pathname;
    if (key !== "/" && key !== "/docs" && !/^\/[\w.-]+\.(js|css|svg)$/.test(key)) return undefined;
    let assets: Map<string, Asset>;
    try {
      assets = await this.#load();
    } catch (err) {
      this.#log.error("the dashboard could not be bundled", {
        error: err instanceof Error ? err.message : String(err),
      });
      return new Response("dashboard unavailable: see the server log", { status: 503 });
    }
    const a = assets.get(key);
    if (!a) return undefined;
    const headers: Record<string, string> = {
      "content-type": a.type,
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-resource-policy": "same-origin",
      "cache-control": a.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      etag: a.etag,
      vary: "accept-encoding",
    };
    if (request.headers.get("if-none-match") === a.etag) return new Response(null, { status: 304, headers });
    const gzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
    if (gzip) headers["content-encoding"] = "gzip";
    return new Response(gzip ? a.gzip : a.body, { headers });
  }

  /** What a browser downloads for the pages' scripts and styles (the page-weight figure). */
  async weight(): Promise<PageWeight> {
    const assets = await this.#load();
    const files = [...assets.entries()]
      .filter(([name]) => /\.(js|css)$/.test(name))
      .map(([name, a]) => ({ name, bytes: a.body.byteLength, gzip: a.gzip.byteLength }));
    const sum = (ext: string) =>
      files
        .filter((f) => f.name.endsWith(ext))
        .reduce((t, f) => ({ bytes: t.bytes + f.bytes, gzip: t.gzip + f.gzip }), { bytes: 0, gzip: 0 });
    return { files, js: sum(".js"), css: sum(".css") };
  }
}
