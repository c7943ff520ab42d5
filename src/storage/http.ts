/** Response headers for served artifact bytes, shared by both backends. */

export const IMMUTABLE = "public, max-age=31536000, immutable";
export const REVALIDATE = "no-cache";

export function contentHeaders(sha256: string, opts: { name: string; immutable: boolean }): Record<string, string> {
  return {
    // Uploaded bytes served from the dashboard's origin: never let a browser
    // render one as HTML or script.
    "Content-Type": "application/octet-stream",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(opts.name)}`,
    // The bytes behind one sha256 never change: a strong validator for free.
    ETag: `"${sha256}"`,
    "Cache-Control": opts.immutable ? IMMUTABLE : REVALIDATE,
    "Accept-Ranges": "bytes",
  };
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2). */
export function notModified(req: Request, sha256: string): boolean {
  const header = req.headers.get("if-none-match");
  if (!header) return false;
  return header.split(",").some((part) => {
    const tag = part.trim().replace(/^W\//, "");
    return tag === "*" || tag === `"${sha256}"`;
  });
}

/**
 * One `bytes=` range of a representation of `size` bytes (RFC 9110 14.1.2):
 * [start, end] inclusive, "unsatisfiable", or undefined to send everything
 * (no Range, several ranges, or a syntax we do not serve).
 */
export function byteRange(header: string | null, size: number): [number, number] | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return [start, end];
}
