/**
 * Target files (artifact bytes) on a mirror: found through the verified
 * metadata exactly as a client finds them (src/tuf/target-search.ts),
 * downloaded from the source up to their signed length, checked against
 * every signed hash while they stream to a temporary file, and only then
 * linked into place. Never are unverified bytes served.
 *
 * Layout: `DIR/<dir>/<hash>.<basename>` for every hash the metadata lists
 * (hard links to one copy), which is the name consistent-snapshot clients ask
 * for (spec 5.7.3) whichever hash they pick; the static server
 * (src/server/targets.ts) serves those names directly. Files are
 * content-addressed, so they stay valid forever and are kept; a request for
 * a name that is not there yet comes to `serveMissing`, which resolves it,
 * fetches, verifies, stores and serves it.
 */
import { existsSync, mkdirSync } from "node:fs";
import { link, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FileDigests } from "../tuf/file-hashes.ts";
import { parseTargets, type TargetFile, type TargetsSigned } from "../tuf/metadata.ts";
import { searchTarget, type FoundTarget } from "../tuf/target-search.ts";
import { readDocument } from "../tuf/trusted-set.ts";
import { targetSegments } from "../server/targets.ts";
import { SourceError, type Source, type TargetStream } from "./source.ts";
import type { TrustedState } from "./sync.ts";

export type TargetFailureReason = "unavailable" | "mismatch" | "unreachable";

export class TargetFailure extends Error {
  readonly reason: TargetFailureReason;
  constructor(reason: TargetFailureReason, message: string) {
    super(message);
    this.name = "TargetFailure";
    this.reason = reason;
  }
}

/** Segments of a signed target path, or undefined when it could escape a directory. */
function safeSegments(path: string): string[] | undefined {
  const segments = path.split("/");
  for (const s of segments) {
    if (s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0")) return undefined;
  }
  return segments;
}

/** Reads a stream to its end, checking it against a target's signed length and hashes; the mismatch, if any. */
export async function streamMismatch(file: TargetFile, body: ReadableStream<Uint8Array>): Promise<string | undefined> {
  const digests = new FileDigests(Object.keys(file.hashes));
  for await (const chunk of body) {
    digests.update(chunk);
    if (digests.length > file.length) {
      await body.cancel().catch(() => undefined);
      return `more than the ${file.length} bytes signed`;
    }
  }
  return digests.mismatch(file);
}

/** `dir/<hash>.<basename>` for a target path and one of its hashes (spec 5.7.3). */
export function hashedName(path: string, hash: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? `${hash}.${path}` : `${path.slice(0, slash + 1)}${hash}.${path.slice(slash + 1)}`;
}

/** The names a target is stored and served under: one per listed hash, first hash first. */
export function storedNames(path: string, file: TargetFile): string[] {
  return [...new Set(Object.values(file.hashes))].map((h) => hashedName(path, h));
}

export interface TargetStoreOptions {
  /** where verified target files live (served as /targets/) */
  dir: string;
  /** temporary files, on the same filesystem as `dir` */
  tmpDir: string;
  /** the current verified state */
  state: () => TrustedState | undefined;
  /** bytes of a stored targets role version */
  roleBytes: (role: string, version: number) => Uint8Array | undefined;
  /** parsed targets roles kept in memory for searches (default 64) */
  cacheRoles?: number;
  /** called after a target was downloaded, verified and stored */
  onStored?: (path: string, length: number) => void;
}

export class TargetStore {
  readonly dir: string;
  readonly #tmpDir: string;
  readonly #opts: TargetStoreOptions;
  readonly #parsed = new Map<string, TargetsSigned>();
  readonly #inflight = new Map<string, Promise<string>>();
  #tmpCounter = 0;

  constructor(opts: TargetStoreOptions) {
    this.dir = opts.dir;
    this.#tmpDir = opts.tmpDir;
    this.#opts = opts;
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.#tmpDir, { recursive: true });
  }

  /** The trusted `signed` of a targets role in the current state, parsed once and cached. */
  role(name: string): TargetsSigned | undefined {
    const head = this.#opts.state()?.heads.get(name);
    if (!head) return undefined;
    const key = `${head.version}.${name}`;
    const cached = this.#parsed.get(key);
    if (cached) {
      this.#parsed.delete(key);
      this.#parsed.set(key, cached);
      return cached;
    }
    const bytes = this.#opts.roleBytes(name, head.version);
    if (!bytes) return undefined;
    const doc = readDocument(bytes, parseTargets, `${key}.json`);
    if (!doc.ok) return undefined;
    this.#parsed.set(key, doc.value.signed);
    const limit = this.#opts.cacheRoles ?? 64;
    while (this.#parsed.size > limit) this.#parsed.delete(this.#parsed.keys().next().value!);
    return doc.value.signed;
  }

  /** What a client's search (5.6.7) finds for `path` in the current state. */
  resolve(path: string): Promise<FoundTarget | undefined> {
    return searchTarget(path, (role) => this.role(role));
  }

  /** Whether the target is stored (under its first hash; the others are links made at the same time). */
  async has(path: string, file: TargetFile): Promise<boolean> {
    const first = storedNames(path, file)[0];
    if (!first || !safeSegments(first)) return false;
    try {
      return (await stat(join(this.dir, first))).size === file.length;
    } catch {
      return false;
    }
  }

  /**
   * Downloads, verifies and stores a target unless it is stored already;
   * concurrent calls for the same target share one download. Resolves the
   * stored path of its first hash name; rejects with TargetFailure.
   */
  ensure(path: string, file: TargetFile, source: Source | undefined): Promise<string> {
    const names = storedNames(path, file);
    const key = names[0] ?? path;
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const work = this.#ensure(path, file, names, source).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, work);
    return work;
  }

  async #ensure(path: string, file: TargetFile, names: string[], source: Source | undefined): Promise<string> {
    if (!safeSegments(path) || names.some((n) => !safeSegments(n)))
      throw new TargetFailure("unavailable", `target path ${JSON.stringify(path)} cannot be stored safely`);
    const first = join(this.dir, names[0]!);
    if (await this.has(path, file)) return first;
    if (!source)
      throw new TargetFailure("unavailable", `${path} is not stored here and there is no upstream to fetch it from`);
    const consistent = this.#opts.state()?.root.signed.consistent_snapshot ?? true;
    // Clients ask for the first listed hash (5.7.3); try the others too, then the plain name.
    const urls = consistent ? [...names] : [path];
    let stream: TargetStream | undefined;
    for (const url of urls) {
      try {
        stream = await source.target(url);
      } catch (err) {
        if (err instanceof SourceError) throw new TargetFailure("unreachable", err.message);
        throw err;
      }
      if (stream) break;
    }
    if (!stream) throw new TargetFailure("unavailable", `${source.label} does not serve ${path}`);
    const tmp = join(this.#tmpDir, `${process.pid}-${++this.#tmpCounter}-${Date.now()}.part`);
    return this.#receive(path, file, names, stream.body, tmp, source.label);
  }

  /** Stores a target from a stream the caller opened (a bundle entry), verifying it like a download. */
  async storeFrom(path: string, file: TargetFile, body: ReadableStream<Uint8Array>, from: string): Promise<string> {
    const names = storedNames(path, file);
    if (!safeSegments(path) || names.length === 0 || names.some((n) => !safeSegments(n)))
      throw new TargetFailure("unavailable", `target path ${JSON.stringify(path)} cannot be stored safely`);
    const tmp = join(this.#tmpDir, `${process.pid}-${++this.#tmpCounter}-${Date.now()}.part`);
    return this.#receive(path, file, names, body, tmp, from);
  }

  /** Streams bytes into `tmp` while hashing; links them in under every name only when they verify. */
  async #receive(
    path: string,
    file: TargetFile,
    names: string[],
    body: ReadableStream<Uint8Array>,
    tmp: string,
    from: string,
  ): Promise<string> {
    const digests = new FileDigests(Object.keys(file.hashes));
    const fd = await open(tmp, "w", 0o644);
    try {
      let position = 0;
      for await (const chunk of body) {
        digests.update(chunk);
        // 5.7.3: "download the target (up to the number of bytes specified in the targets metadata)"
        if (digests.length > file.length) {
          await body.cancel().catch(() => undefined);
          throw new TargetFailure("mismatch", `${from} sent more than the ${file.length} bytes signed for ${path}`);
        }
        let at = 0;
        while (at < chunk.byteLength) {
          const { bytesWritten } = await fd.write(chunk, at, chunk.byteLength - at, position);
          at += bytesWritten;
          position += bytesWritten;
        }
      }
      const mismatch = digests.mismatch(file);
      if (mismatch) throw new TargetFailure("mismatch", `${from} sent ${path} with ${mismatch}`);
      await fd.sync();
    } catch (err) {
      await fd.close().catch(() => undefined);
      await rm(tmp, { force: true });
      if (err instanceof TargetFailure) throw err;
      throw new TargetFailure(
        "unreachable",
        `${from}: reading ${path} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    await fd.close();
    try {
      return await this.#place(path, file, names, tmp);
    } catch (err) {
      // A full or read-only disk: nothing half-placed is ever served (the first name comes last).
      throw new TargetFailure(
        "unavailable",
        `cannot store ${path}: ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async #place(path: string, file: TargetFile, names: string[], tmp: string): Promise<string> {
    // Every name but the first is a link; the first is the rename, so "stored" (has()) means complete.
    for (const name of names.slice(1)) {
      const dest = join(this.dir, name);
      await mkdir(dirname(dest), { recursive: true });
      await link(tmp, dest).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST" && err.code !== "ENAMETOOLONG") throw err;
      });
    }
    const first = join(this.dir, names[0]!);
    await mkdir(dirname(first), { recursive: true });
    await rename(tmp, first);
    this.#opts.onStored?.(path, file.length);
    return first;
  }

  /**
   * A `/targets/<encoded>` request the static server found no file for:
   * resolve it against the verified metadata, fetch and verify it, serve it.
   */
  async serveMissing(
    req: Request,
    encoded: string,
    source: Source | undefined,
    onFailure?: (f: TargetFailure) => void,
  ): Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") return jsonError(405, "method not allowed");
    const segments = targetSegments(encoded);
    if (!segments) return jsonError(400, "invalid target path");
    const candidates: { path: string; hash?: string }[] = [];
    const last = segments[segments.length - 1]!;
    const m = /^([0-9a-f]{16,})\.(.+)$/.exec(last);
    if (m) candidates.push({ path: [...segments.slice(0, -1), m[2]!].join("/"), hash: m[1]! });
    candidates.push({ path: segments.join("/") });
    for (const c of candidates) {
      const found = await this.resolve(c.path);
      if (!found) continue;
      if (c.hash !== undefined && !Object.values(found.file.hashes).includes(c.hash)) continue;
      let stored: string;
      try {
        stored = await this.ensure(c.path, found.file, source);
      } catch (err) {
        if (!(err instanceof TargetFailure)) throw err;
        onFailure?.(err);
        return jsonError(502, `target not available from the upstream: ${err.reason}`);
      }
      const named = c.hash !== undefined ? join(this.dir, hashedName(c.path, c.hash)) : stored;
      // A name the filesystem refused (too long) is served from the first hash's copy.
      const file = existsSync(named) ? named : stored;
      return new Response(Bun.file(file), {
        headers: {
          "Content-Type": "application/octet-stream",
          "X-Content-Type-Options": "nosniff",
          "Content-Security-Policy": "sandbox",
          "Cache-Control": c.hash !== undefined ? "public, max-age=31536000, immutable" : "no-cache",
        },
      });
    }
    return jsonError(404, "target not found");
  }

  /** Path of a stored target under one of its names (for exports), when it is stored. */
  async storedPath(path: string, file: TargetFile): Promise<string | undefined> {
    return (await this.has(path, file)) ? join(this.dir, storedNames(path, file)[0]!) : undefined;
  }
}

function jsonError(status: number, error: string): Response {
  return new Response(JSON.stringify({ detail: { error } }), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}
