/**
 * Where `tufbox validate` looks for artifact bytes: at the URL a client
 * downloads them from (spec 5.7.3: `<dir>/<first hash>.<name>` with
 * consistent snapshots), or, for a data directory, in the content storage
 * (the contents index row and the stored object) or the targets directory.
 */
import type { TargetFile } from "../tuf/metadata.ts";
import type { ContentIndex } from "../store/contents.ts";
import type { ContentStorage } from "../storage/storage.ts";
import { TargetFiles } from "../server/targets.ts";
import { encodePath, SourceError } from "../mirror/source.ts";
import { storedNames } from "../mirror/targets.ts";
import type { ArtifactCheck } from "./validate.ts";

/** The name a client requests a target under (the first listed hash, spec 5.7.3). */
export function clientTargetName(path: string, file: TargetFile, consistent: boolean): string {
  return consistent ? (storedNames(path, file)[0] ?? path) : path;
}

/** HEAD at `targetsUrl`; a HEAD the server refuses (405/501) is retried as a GET whose body is dropped. */
export function httpArtifactCheck(targetsUrl: string, opts: { timeoutMs?: number } = {}): ArtifactCheck {
  const base = targetsUrl.replace(/\/+$/, "");
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const ask = async (url: string, method: "HEAD" | "GET"): Promise<Response> => {
    try {
      const res = await fetch(url, { method, redirect: "follow", signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel().catch(() => undefined);
      return res;
    } catch (err) {
      const e = err as { name?: string; code?: string; message?: string };
      const why = e.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : (e.code ?? e.message);
      throw new SourceError("unreachable", `${url}: ${why ?? String(err)}`);
    }
  };
  return async (path, file, consistent) => {
    const url = `${base}/${encodePath(clientTargetName(path, file, consistent))}`;
    let res = await ask(url, "HEAD");
    if (res.status === 405 || res.status === 501) res = await ask(url, "GET");
    if (res.status === 404 || res.status === 403 || res.status === 410)
      return `not served: ${url} answers ${res.status}`;
    if (res.status !== 200) return `${url} answers HTTP ${res.status}`;
    const announced = Number(res.headers.get("content-length") ?? Number.NaN);
    if (Number.isFinite(announced) && announced !== file.length)
      return `${url} is ${announced} bytes; the metadata lists ${file.length}`;
    return undefined;
  };
}

/**
 * A data directory: content tufbox holds (its index row, not being deleted,
 * and the stored object), else a file of the signed length in the targets
 * directory. Bytes are not hashed here (that is a read of every artifact);
 * the content store is keyed by sha256, so a row of the right length names them.
 */
export function storeArtifactCheck(
  contents: ContentIndex,
  storage: ContentStorage | undefined,
  targetsDir: string | undefined,
): ArtifactCheck {
  const files = targetsDir ? new TargetFiles(targetsDir) : undefined;
  return async (path, file) => {
    const sha256 = file.hashes.sha256;
    if (sha256) {
      const row = await contents.get(sha256);
      if (row && row.length === file.length && !row.deleting) {
        if (!storage) return undefined;
        let stored: boolean;
        try {
          stored = await storage.exists(sha256);
        } catch (err) {
          throw new SourceError("unreachable", `content storage: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (stored) return undefined;
        return `the content index lists sha256 ${sha256} but the ${storage.kind} storage does not hold it`;
      }
    }
    if (files) {
      const found = await files.lookup(encodePath(path));
      if (found.kind === "file") {
        if (found.file.size === file.length) return undefined;
        return `${path} in the targets directory is ${found.file.size} bytes; the metadata lists ${file.length}`;
      }
    }
    return "neither the content storage nor the targets directory holds it";
  };
}
