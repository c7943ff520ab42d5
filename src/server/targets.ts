/**
 * Artifact bytes under /targets/, read-only, from one directory.
 *
 * Consistent-snapshot clients (TUF spec 5.7.3) download `dir/<hash>.<basename>`
 * using the first hash listed for the target, whatever its algorithm. tufbox
 * keeps one copy per artifact (`dir/<basename>`) and answers the hashed name
 * when the published metadata lists that hash for the target (which says the
 * algorithm: see published-targets.ts) and the file's length and digest match
 * it, so no per-hash copies are needed.
 *
 * Nothing outside the directory can be reached: encoded separators, `.`/`..`
 * segments, empty segments (absolute paths), backslashes and NUL are refused
 * before touching the filesystem, and the resolved real path (symlinks
 * followed) must still lie inside the directory's real path.
 */
import { realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import { digestFor } from "../tuf/hashes.ts";
import type { ResolvedHash } from "./published-targets.ts";

/** The (algorithm, length) the published metadata lists `hex` under for a target path, if exactly one. */
export type HashResolver = (path: string, hex: string) => Promise<ResolvedHash | undefined>;

export interface TargetFile {
  /** real path on disk, inside the targets directory */
  path: string;
  size: number;
  /** strong validator from size and mtime, as nginx does */
  etag: string;
  /** requested by content hash: the URL can never name other bytes */
  immutable: boolean;
}

export type TargetLookup = { kind: "file"; file: TargetFile } | { kind: "missing" } | { kind: "invalid" };

interface FileInfo {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

interface CachedDigest {
  size: number;
  mtimeMs: number;
  ino: number;
  hex: string;
}

type Algorithm = Bun.SupportedCryptoAlgorithms;

const MAX_PATH_LENGTH = 4096;
const MAX_CACHED_DIGESTS = 8192;
/** sha224's 56 hex characters up to sha512's and blake2b's 128. */
const HASHED_NAME = /^([0-9a-f]{56,128})\.(.+)$/;

/**
 * The request path after `/targets/`, still percent-encoded, as path segments;
 * undefined when it is malformed or tries to leave the directory.
 */
export function targetSegments(encoded: string): string[] | undefined {
  if (encoded.length === 0 || encoded.length > MAX_PATH_LENGTH) return undefined;
  // An encoded separator would turn into a path separator only after our checks.
  if (/%(2f|5c)/i.test(encoded)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const segments = decoded.split("/");
  for (const s of segments) if (s === "" || s === "." || s === "..") return undefined;
  return segments;
}

export class TargetFiles {
  readonly #dir: string;
  #root: string | undefined;
  readonly #digests = new Map<string, CachedDigest>();
  readonly #hashing = new Map<string, Promise<string | undefined>>();
  readonly #resolve: HashResolver | undefined;

  /** Without `resolve`, only plain names are served: nothing says what a hashed name's hex is. */
  constructor(dir: string, resolve?: HashResolver) {
    this.#dir = dir;
    this.#resolve = resolve;
  }

  /** Finds the file a `/targets/<encoded>` request names. */
  async lookup(encoded: string): Promise<TargetLookup> {
    const segments = targetSegments(encoded);
    if (!segments) return { kind: "invalid" };
    const root = await this.#realRoot();
    if (!root) return { kind: "missing" };

    const direct = await this.#fileInside(root, segments.join(sep));
    if (direct) return { kind: "file", file: toTargetFile(direct, false) };

    const basename = segments[segments.length - 1]!;
    const m = HASHED_NAME.exec(basename);
    if (!m) return { kind: "missing" };
    const wanted = m[1]!;
    const resolved = await this.#resolve?.([...segments.slice(0, -1), m[2]!].join("/"), wanted);
    const algorithm = resolved && (digestFor(resolved.algorithm) as Algorithm | undefined);
    if (!resolved || !algorithm) return { kind: "missing" };
    const plain = await this.#fileInside(root, [...segments.slice(0, -1), m[2]!].join(sep));
    if (!plain || plain.size !== resolved.length) return { kind: "missing" };
    const digest = await this.#digest(plain, algorithm);
    // The client verifies the bytes against its metadata anyway; this check only
    // keeps one URL from ever naming content whose hash is not in that URL.
    if (digest !== wanted) return { kind: "missing" };
    return { kind: "file", file: toTargetFile(plain, true) };
  }

  async #realRoot(): Promise<string | undefined> {
    if (this.#root) return this.#root;
    try {
      // Resolved lazily: the directory may be created after the server starts.
      this.#root = await realpath(this.#dir);
    } catch {
      return undefined;
    }
    return this.#root;
  }

  async #fileInside(root: string, relative: string): Promise<FileInfo | undefined> {
    try {
      const real = await realpath(root + sep + relative);
      if (!real.startsWith(root + sep)) return undefined;
      const st = await stat(real);
      if (!st.isFile()) return undefined;
      return { path: real, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    } catch {
      return undefined;
    }
  }

  async #digest(file: FileInfo, algorithm: Algorithm): Promise<string | undefined> {
    const key = `${algorithm}\0${file.path}`;
    const cached = this.#digests.get(key);
    if (cached && cached.size === file.size && cached.mtimeMs === file.mtimeMs && cached.ino === file.ino) {
      this.#digests.delete(key);
      this.#digests.set(key, cached);
      return cached.hex;
    }
    // Many clients asking for the same new artifact at once hash it once.
    const pending = this.#hashing.get(key);
    if (pending) return pending;
    const work = this.#hash(file, algorithm, key).finally(() => this.#hashing.delete(key));
    this.#hashing.set(key, work);
    return work;
  }

  async #hash(file: FileInfo, algorithm: Algorithm, key: string): Promise<string | undefined> {
    const hasher = new Bun.CryptoHasher(algorithm);
    try {
      for await (const chunk of Bun.file(file.path).stream()) hasher.update(chunk);
      const after = await stat(file.path);
      // Rewritten while we read it: the digest matches no version of the file.
      if (after.size !== file.size || after.mtimeMs !== file.mtimeMs || after.ino !== file.ino) return undefined;
    } catch {
      return undefined;
    }
    const hex = hasher.digest("hex");
    if (this.#digests.size >= MAX_CACHED_DIGESTS) {
      const oldest = this.#digests.keys().next().value;
      if (oldest !== undefined) this.#digests.delete(oldest);
    }
    this.#digests.set(key, { size: file.size, mtimeMs: file.mtimeMs, ino: file.ino, hex });
    return hex;
  }
}

function toTargetFile(info: FileInfo, immutable: boolean): TargetFile {
  const mtimeUs = Math.trunc(info.mtimeMs * 1000);
  return { path: info.path, size: info.size, etag: `"${info.size.toString(16)}-${mtimeUs.toString(16)}"`, immutable };
}
