/**
 * Precompressed metadata (issue 15). A fresh client of a 16384-bin repository
 * downloads a ~0.6 MB snapshot of near-identical `"bins-0a3.json":{"version":N}`
 * lines: gzip makes that several times smaller on the wire.
 *
 * Every variant is compressed once per published file and kept with it, never
 * per request: root and targets right after they are published, off the
 * request path; the snapshot, bins and delegated roles the first time a
 * client asks for them. A repository with 16384 bins publishes thousands of
 * bins per batch and clients fetch a handful, and under steady adds a new
 * ~0.6 MB snapshot several times a second of which most are never
 * downloaded: compressing all of them at publication cost the publisher
 * ~9 ms per publication for nothing. Files below COMPRESS_MIN_BYTES (the
 * timestamp) are always sent as they are.
 *
 * Each variant has its own strong ETag (RFC 9110 8.8.3: a different
 * representation), derived from the identity one, and every metadata
 * response says `Vary: Accept-Encoding`. Clients verify the decompressed
 * bytes, which are exactly the signed ones: compression is transport only.
 */

export type ContentCoding = "gzip" | "zstd";

export interface EncodedVariant {
  readonly coding: ContentCoding;
  readonly bytes: Uint8Array;
  readonly etag: string;
}

/** Smaller files are not worth a compressed variant (the timestamp is ~400-700 bytes). */
export const COMPRESS_MIN_BYTES = 1024;
/** gzip level: 6 (zlib's default) is within a few percent of 9 at half the time. */
const GZIP_LEVEL = 6;
/** zstd level 3 (its default): about gzip -6's ratio at a fraction of its time. */
const ZSTD_LEVEL = 3;

interface Compressible {
  readonly bytes: Uint8Array;
  readonly etag: string;
  encoded?: Partial<Record<ContentCoding, EncodedVariant>>;
}

function variantEtag(etag: string, coding: ContentCoding): string {
  return `${etag.slice(0, -1)}-${coding}"`;
}

export function compress(bytes: Uint8Array, coding: ContentCoding): Uint8Array {
  const input = bytes as Uint8Array<ArrayBuffer>;
  return coding === "gzip"
    ? Bun.gzipSync(input, { level: GZIP_LEVEL })
    : Bun.zstdCompressSync(input, { level: ZSTD_LEVEL });
}

/**
 * The file's variant in `coding`, compressed now if it was not yet. A variant
 * that would not be smaller is remembered as absent (identity is served).
 */
export function variantOf(file: Compressible, coding: ContentCoding): EncodedVariant | undefined {
  if (file.bytes.byteLength < COMPRESS_MIN_BYTES) return undefined;
  const cached = file.encoded?.[coding];
  if (cached) return cached.bytes.byteLength < file.bytes.byteLength ? cached : undefined;
  const bytes = compress(file.bytes, coding);
  const variant: EncodedVariant = { coding, bytes, etag: variantEtag(file.etag, coding) };
  file.encoded = { ...file.encoded, [coding]: variant };
  return bytes.byteLength < file.bytes.byteLength ? variant : undefined;
}

/** Compress every variant now (publication of the top-level documents). */
export function precompress(file: Compressible): void {
  variantOf(file, "zstd");
  variantOf(file, "gzip");
}

/** Extra bytes a file holds in compressed variants (for cache accounting). */
export function variantBytes(file: Compressible): number {
  let n = 0;
  for (const v of Object.values(file.encoded ?? {})) n += v?.bytes.byteLength ?? 0;
  return n;
}

/**
 * The coding to answer with for an Accept-Encoding header (RFC 9110 12.5.3):
 * the highest q among the ones we have, zstd before gzip on a tie; null for
 * identity. `*` counts for codings not named; q=0 refuses.
 */
export function chooseCoding(header: string | null): ContentCoding | null {
  if (!header) return null;
  let best: ContentCoding | null = null;
  let bestQ = 0;
  const q: Partial<Record<ContentCoding | "*", number>> = {};
  for (const part of header.split(",")) {
    const [token, ...params] = part.trim().toLowerCase().split(";");
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    if (!Number.isFinite(weight)) continue;
    if (token === "gzip" || token === "x-gzip") q.gzip = weight;
    else if (token === "zstd") q.zstd = weight;
    else if (token === "*") q["*"] = weight;
  }
  for (const coding of ["zstd", "gzip"] as const) {
    const weight = q[coding] ?? q["*"] ?? 0;
    if (weight > bestQ) {
      best = coding;
      bestQ = weight;
    }
  }
  return best;
}
