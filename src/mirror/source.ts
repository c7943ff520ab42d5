/**
 * Where a mirror, an export or an import reads a repository from: an
 * upstream over HTTP(S), a bundle (directory or tar), or a tufbox data
 * directory. The client workflow (sync.ts) treats them all alike and trusts
 * none of them: every byte read here is verified before it is kept.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";

/** Why a source could not give a file; `tampered` = it tried to send more than the signed or default length. */
export type SourceFailure = "unreachable" | "tampered";

export class SourceError extends Error {
  readonly reason: SourceFailure;
  constructor(reason: SourceFailure, message: string) {
    super(message);
    this.name = "SourceError";
    this.reason = reason;
  }
}

/** A stream of a target file's bytes with the size the source announces (if any). */
export interface TargetStream {
  body: ReadableStream<Uint8Array>;
  /** announced size, when known */
  size?: number;
  cancel(): void;
}

export interface Source {
  /** for messages: the URL or path */
  readonly label: string;
  /**
   * A metadata file's bytes, at most `maxLength` of them; undefined when the
   * source says the file does not exist (HTTP 404 or 403, as clients treat
   * them for N+1.root.json). Throws SourceError when it cannot say.
   */
  metadata(name: string, maxLength: number): Promise<Uint8Array | undefined>;
  /**
   * A target file by its path under /targets/ (already hash-prefixed when the
   * repository uses consistent snapshots); undefined when it does not exist.
   */
  target(urlPath: string): Promise<TargetStream | undefined>;
  /** every metadata file name the source has, when it can list them (for --all-versions) */
  listMetadata?(): Promise<string[] | undefined>;
  close?(): Promise<void> | void;
}

/** Encodes a target path for a URL, segment by segment ('/' stays a separator). */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** Reads at most `maxLength` bytes of a body; more is an endless-data attack (spec 5.4.1 "up to X bytes"). */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxLength: number,
  what: string,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxLength) {
        await reader.cancel().catch(() => undefined);
        throw new SourceError("tampered", `${what} is longer than the ${maxLength} bytes allowed for it`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export interface HttpSourceOptions {
  /** per request, milliseconds (default 30 s) */
  timeoutMs?: number;
  /** User-Agent header */
  userAgent?: string;
  fetch?: typeof fetch;
  /** where metadata files are, when not BASE/metadata (e.g. a CDN prefix) */
  metadataUrl?: string;
  /** where target files are, when not BASE/targets */
  targetsUrl?: string;
}

/**
 * An upstream tufbox (or any TUF repository with the same layout):
 * `BASE/metadata/NAME` and `BASE/targets/PATH`.
 */
export class HttpSource implements Source {
  readonly label: string;
  readonly base: string;
  readonly metadataUrl: string;
  readonly targetsUrl: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;

  constructor(base: string, opts: HttpSourceOptions = {}) {
    this.base = base.replace(/\/+$/, "");
    this.metadataUrl = (opts.metadataUrl ?? `${this.base}/metadata`).replace(/\/+$/, "");
    this.targetsUrl = (opts.targetsUrl ?? `${this.base}/targets`).replace(/\/+$/, "");
    this.label = opts.metadataUrl ? this.metadataUrl : this.base;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#headers = { "user-agent": opts.userAgent ?? "tufbox-mirror" };
    this.#fetch = opts.fetch ?? fetch;
  }

  async #get(url: string, accept: string): Promise<Response> {
    try {
      return await this.#fetch(url, {
        headers: { ...this.#headers, accept },
        redirect: "follow",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const e = err as { name?: string; code?: string; message?: string };
      const why = e.name === "TimeoutError" ? `no answer within ${this.#timeoutMs / 1000} s` : (e.code ?? e.message);
      throw new SourceError("unreachable", `${url}: ${why ?? String(err)}`);
    }
  }

  async metadata(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    const url = `${this.metadataUrl}/${encodeURIComponent(name)}`;
    const res = await this.#get(url, "application/json");
    if (res.status === 404 || res.status === 403) {
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new SourceError("unreachable", `${url}: HTTP ${res.status}`);
    }
    const announced = Number(res.headers.get("content-length") ?? NaN);
    if (Number.isFinite(announced) && announced > maxLength) {
      await res.body?.cancel().catch(() => undefined);
      throw new SourceError("tampered", `${url} is ${announced} bytes, more than the ${maxLength} allowed for it`);
    }
    try {
      return await readCapped(res.body, maxLength, url);
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw new SourceError("unreachable", `${url}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async target(urlPath: string): Promise<TargetStream | undefined> {
    const url = `${this.targetsUrl}/${encodePath(urlPath)}`;
    const res = await this.#get(url, "*/*");
    if (res.status === 404 || res.status === 403) {
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new SourceError("unreachable", `${url}: HTTP ${res.status}`);
    }
    const announced = Number(res.headers.get("content-length") ?? NaN);
    const body = res.body;
    return {
      body,
      size: Number.isFinite(announced) ? announced : undefined,
      cancel: () => void body.cancel().catch(() => undefined),
    };
  }

  /** Names from the `/metadata/` listing tufbox (and its mirrors) serve; undefined when there is none. */
  async listMetadata(): Promise<string[] | undefined> {
    const url = `${this.metadataUrl}/`;
    const res = await this.#get(url, "text/html");
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    const html = await res.text();
    const names: string[] = [];
    for (const m of html.matchAll(/<a href="([^"]+)">/g)) {
      try {
        const name = decodeURIComponent(m[1]!.replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c))));
        if (name.endsWith(".json") && !name.includes("/")) names.push(name);
      } catch {
        // not a name we could have published
      }
    }
    return names;
  }
}

/**
 * A bundle written by `tufbox export` into a directory (or any static copy of
 * a repository): `DIR/metadata/NAME`, `DIR/targets/PATH`.
 */
export class DirectorySource implements Source {
  readonly label: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.label = dir;
  }

  async #file(relative: string): Promise<string | undefined> {
    const segments = relative.split("/");
    if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0")))
      return undefined;
    const path = join(this.#dir, ...segments);
    try {
      const st = await stat(path);
      return st.isFile() ? path : undefined;
    } catch {
      return undefined;
    }
  }

  async metadata(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    const path = await this.#file(`metadata/${name}`);
    if (!path) return undefined;
    const file = Bun.file(path);
    if (file.size > maxLength)
      throw new SourceError("tampered", `${path} is ${file.size} bytes, more than the ${maxLength} allowed for it`);
    return new Uint8Array(await file.arrayBuffer());
  }

  async target(urlPath: string): Promise<TargetStream | undefined> {
    const path = await this.#file(`targets/${urlPath}`);
    if (!path) return undefined;
    const file = Bun.file(path);
    const body = file.stream();
    return { body, size: file.size, cancel: () => void body.cancel().catch(() => undefined) };
  }

  async listMetadata(): Promise<string[]> {
    const glob = new Bun.Glob("*.json");
    const names: string[] = [];
    try {
      for await (const name of glob.scan({ cwd: join(this.#dir, "metadata"), onlyFiles: true })) names.push(name);
    } catch {
      return [];
    }
    return names;
  }

  /** Every target file in the bundle, as paths under targets/. */
  async listTargets(): Promise<string[]> {
    const glob = new Bun.Glob("**");
    const names: string[] = [];
    try {
      for await (const name of glob.scan({ cwd: join(this.#dir, "targets"), onlyFiles: true, dot: true }))
        names.push(name.split("\\").join("/"));
    } catch {
      return [];
    }
    return names;
  }
}
