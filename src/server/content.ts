/**
 * /targets/ for artifact content tufbox stores (src/storage/): which stored
 * bytes a request names. Resolution goes through the published metadata
 * (published-targets.ts, shared with the targets directory), so a hashed name
 * is read in the algorithm its entry lists it under — `blake2b-256`, `sha256`,
 * `sha512`… the first hash a target lists is the one clients put in the URL
 * (TUF spec 5.7.3) — and an ambiguous name is never served.
 *
 *  1. `<dir>/<hex>.<name>` that the published entry of `<dir>/<name>` lists
 *     (any algorithm), whose sha256 and length match content we hold: served,
 *     cacheable forever.
 *  2. Otherwise `<hex>` itself as the sha256 (64 hex) or sha512 (128 hex) of
 *     stored content: content-addressed, so the URL cannot name other bytes.
 *     This keeps a removed artifact downloadable during the GC grace period,
 *     for clients still holding metadata that lists it.
 *  3. `<path>` whose published entry's sha256 and length match stored content.
 * Anything else falls through (undefined) to the targets directory
 * (targets.ts), so files placed there by hand keep working.
 */
import type { ArtifactContent } from "../storage/content.ts";
import type { ContentRecord } from "../store/contents.ts";
import { resolveHash, type TargetHashes } from "./published-targets.ts";
import { targetSegments } from "./targets.ts";

const HASHED_NAME = /^([0-9a-f]{56,128})\.(.+)$/;

export class ContentTargets {
  readonly #entries: (path: string) => Promise<readonly TargetHashes[]>;
  readonly #content: ArtifactContent;

  constructor(entries: (path: string) => Promise<readonly TargetHashes[]>, content: ArtifactContent) {
    this.#entries = entries;
    this.#content = content;
  }

  /** A response for `/targets/<encoded>` from stored content, or undefined to fall through. */
  async serve(req: Request, encoded: string): Promise<Response | undefined> {
    const segments = targetSegments(encoded);
    if (!segments) return undefined;
    const basename = segments[segments.length - 1]!;
    const m = HASHED_NAME.exec(basename);
    if (m) {
      const hex = m[1]!;
      const name = m[2]!;
      const entries = await this.#entries([...segments.slice(0, -1), name].join("/"));
      const resolved = resolveHash(entries, hex);
      if (resolved) {
        const entry = entries.find((e) => e.length === resolved.length && e.hashes[resolved.algorithm] === hex);
        const found = entry && (await this.#stored(entry));
        if (found) return this.#content.serve(req, found, { name, immutable: true });
      }
      if (hex.length === 64 || hex.length === 128) {
        const found = await this.#content.find(hex);
        if (found) return this.#content.serve(req, found, { name, immutable: true });
      }
    }
    const entries = await this.#entries(segments.join("/"));
    const sha256s = new Set(entries.map((e) => e.hashes.sha256));
    // Two roles listing different bytes for one path: not ours to choose.
    if (entries.length > 0 && sha256s.size === 1) {
      const found = await this.#stored(entries[0]!);
      if (found) return this.#content.serve(req, found, { name: basename, immutable: false });
    }
    return undefined;
  }

  /** The stored content an entry lists, if we hold it with the entry's length. */
  async #stored(entry: TargetHashes): Promise<ContentRecord | undefined> {
    const sha256 = entry.hashes.sha256;
    const found = sha256 ? await this.#content.find(sha256) : undefined;
    return found && found.length === entry.length ? found : undefined;
  }
}
