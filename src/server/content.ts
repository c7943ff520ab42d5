/**
 * /targets/ for artifact content tufbox stores (src/storage/): which stored
 * bytes a request names. Consistent-snapshot clients (TUF spec 5.7.3) ask for
 * `<dir>/<hash>.<basename>` with the first hash the target lists, whatever its
 * algorithm; others ask for `<dir>/<basename>`.
 *
 *  1. `<dir>/<hash>.<name>` whose published entry `<dir>/<name>` lists that
 *     hash (any algorithm) and a sha256 we hold, with the same length: served,
 *     cacheable forever.
 *  2. Otherwise `<hash>` itself as a sha256 (64 hex) or sha512 (128 hex) of
 *     stored content: content-addressed, so the URL cannot name other bytes.
 *     This is what keeps a removed artifact downloadable during the GC grace
 *     period, for clients still holding metadata that lists it.
 *  3. `<path>` whose published entry lists a sha256 we hold.
 * Anything else falls through (undefined) to the targets directory
 * (server/targets.ts), so files placed there by hand keep working.
 */
import type { Store } from "../store/store.ts";
import type { ArtifactContent } from "../storage/content.ts";
import type { ContentRecord } from "../store/contents.ts";
import { targetSegments } from "./targets.ts";

const HASHED_NAME = /^([0-9a-f]{32,128})\.(.+)$/;

interface Entry {
  length: number;
  hashes: Record<string, string>;
}

export class ContentTargets {
  readonly #store: Store;
  readonly #content: ArtifactContent;

  constructor(store: Store, content: ArtifactContent) {
    this.#store = store;
    this.#content = content;
  }

  /** A response for `/targets/<encoded>` from stored content, or undefined to fall through. */
  async serve(req: Request, encoded: string): Promise<Response | undefined> {
    const segments = targetSegments(encoded);
    if (!segments) return undefined;
    const basename = segments[segments.length - 1]!;
    const m = HASHED_NAME.exec(basename);
    if (m) {
      const hash = m[1]!;
      const name = m[2]!;
      const path = [...segments.slice(0, -1), name].join("/");
      const entry = await this.#entry(path);
      if (entry && Object.values(entry.hashes).includes(hash)) {
        const found = await this.#stored(entry);
        if (found) return this.#content.serve(req, found, { name, immutable: true });
      }
      if (hash.length === 64 || hash.length === 128) {
        const found = await this.#content.find(hash);
        if (found) return this.#content.serve(req, found, { name, immutable: true });
      }
    }
    const entry = await this.#entry(segments.join("/"));
    if (entry) {
      const found = await this.#stored(entry);
      if (found) return this.#content.serve(req, found, { name: basename, immutable: false });
    }
    return undefined;
  }

  async #entry(path: string): Promise<Entry | undefined> {
    const artifact = await this.#store.getArtifact(path);
    if (!artifact) return undefined;
    try {
      const info = JSON.parse(artifact.fragment) as Entry;
      return typeof info.hashes === "object" && info.hashes !== null ? info : undefined;
    } catch {
      return undefined;
    }
  }

  /** The stored content an entry lists, if we hold it with the entry's length. */
  async #stored(entry: Entry): Promise<ContentRecord | undefined> {
    const sha256 = entry.hashes.sha256;
    const found = sha256 ? await this.#content.find(sha256) : undefined;
    return found && found.length === entry.length ? found : undefined;
  }
}
