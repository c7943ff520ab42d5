/**
 * Responses for published files (/metadata/) and artifact bytes (/targets/):
 * caching headers, ETags and conditional requests, the directory listing, and
 * the request-path parsing the HTTP server (http.ts) routes by.
 */
import type { HttpServerOptions } from "./http.ts";
import type { PublishedFile } from "./published.ts";
import type { TargetFile } from "./targets.ts";
import { fileError } from "./errors.ts";
import { chooseCoding, type EncodedVariant, variantOf } from "./encodings.ts";

/** Versioned files never change: cache them for a year. */
export const IMMUTABLE = "public, max-age=31536000, immutable";
/** Unversioned files (timestamp.json, root.json) and listings: revalidate every time. */
export const REVALIDATE = "no-cache";

// Built once per file and coding: constructing headers from an object on
// every response cost ~10% of fetch-path throughput.
const headersOf = new WeakMap<object, Headers>();
export function metadataHeaders(file: PublishedFile, variant?: EncodedVariant): Headers {
  const key = variant ?? file;
  let headers = headersOf.get(key);
  if (!headers) {
    headers = new Headers({
      "Content-Type": "application/json",
      ETag: variant?.etag ?? file.etag,
      "Cache-Control": file.immutable ? IMMUTABLE : REVALIDATE,
      // Caches must key on Accept-Encoding: the same URL has several representations (encodings.ts).
      Vary: "Accept-Encoding",
    });
    if (variant) headers.set("Content-Encoding", variant.coding);
    headersOf.set(key, headers);
  }
  return headers;
}

export function metadataResponse(req: Request, file: PublishedFile): Response {
  const coding = chooseCoding(req.headers.get("accept-encoding"));
  const variant = coding ? variantOf(file, coding) : undefined;
  const etag = variant?.etag ?? file.etag;
  if (etagMatches(req.headers.get("if-none-match"), etag)) {
    return new Response(null, {
      status: 304,
      headers: { ETag: etag, "Cache-Control": file.immutable ? IMMUTABLE : REVALIDATE, Vary: "Accept-Encoding" },
    });
  }
  // Bun drops the body of a HEAD response and keeps its Content-Length.
  return new Response(variant?.bytes ?? file.bytes, { headers: metadataHeaders(file, variant) });
}

export function targetResponse(req: Request, file: TargetFile): Response {
  const headers: Record<string, string> = {
    // Artifacts are uploaded bytes served from the dashboard's origin: never let a
    // browser render one as HTML or script.
    "Content-Type": "application/octet-stream",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    ETag: file.etag,
    "Cache-Control": file.immutable ? IMMUTABLE : REVALIDATE,
  };
  if (etagMatches(req.headers.get("if-none-match"), file.etag)) return new Response(null, { status: 304, headers });
  // Bun.file streams with sendfile; the file was checked to be inside the targets
  // directory a moment ago. Replacing it in between needs write access to that
  // directory, and clients verify the bytes against signed metadata anyway.
  return new Response(Bun.file(file.path), { headers });
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): `W/` is ignored. */
export function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  for (const part of header.split(",")) {
    let tag = part.trim();
    if (tag === "*") return true;
    if (tag.startsWith("W/")) tag = tag.slice(2);
    if (tag === etag) return true;
  }
  return false;
}

/**
 * The path of a request URL, without query or fragment. Bun gives a relative
 * URL when the Host header is missing (HTTP/1.0) or unusable, where
 * `new URL()` would throw.
 */
export function requestPath(url: string): string | undefined {
  let start = 0;
  if (!url.startsWith("/")) {
    const scheme = url.indexOf("://");
    if (scheme < 0) return undefined;
    start = url.indexOf("/", scheme + 3);
    if (start < 0) return "/";
  }
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return url.slice(start, end);
}

export function decodeSegment(encoded: string): string | undefined {
  if (!encoded.includes("%")) return encoded.includes("/") ? undefined : encoded;
  try {
    const name = decodeURIComponent(encoded);
    return name.includes("/") ? undefined : name;
  } catch {
    return undefined;
  }
}

export function callApi(
  api: HttpServerOptions["api"],
  req: Request,
  source: string | undefined,
): Response | Promise<Response> {
  // Health checkers speaking HTTP/1.0 send no Host; routers built on `new URL(req.url)` need one.
  const absolute = req.url.startsWith("/") ? new Request(`http://localhost${req.url}`, req) : req;
  return api(absolute, source);
}

export function listingBody(names: string[]): string {
  const rows = names.map((n) => `<a href="${escapeHtml(encodeURIComponent(n))}">${escapeHtml(n)}</a>`);
  return (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of /metadata/</title></head>\n' +
    `<body><h1>Index of /metadata/</h1><pre>\n${rows.join("\n")}\n</pre></body></html>\n`
  );
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function metadataNotFound(): Response {
  return fileError(404, "metadata file not found");
}

export function methodNotAllowed(): Response {
  return fileError(405, "method not allowed", { allow: "GET, HEAD" });
}

export function pemSource(value: string): string | Bun.BunFile {
  return value.includes("-----BEGIN ") ? value : Bun.file(value);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
