/**
 * The published metadata files every replica serves, held in memory.
 *
 * What must hold (DESIGN.md "Consistent snapshots", "Snapshot/timestamp"):
 * - A batch is visible all at once. `publish` is synchronous, so no request
 *   can observe half a batch: a reader sees either the old timestamp with
 *   the old snapshot, or the new timestamp with every file it points to.
 * - `N.<role>.json` is immutable: a version is never reused with different
 *   bytes, so a conflicting republish is refused rather than served.
 * - The newest version of every role (and every unversioned alias such as
 *   `timestamp.json` and `root.json`) always stays in memory. Older versions
 *   come from the store through `loader` and sit in a byte-bounded LRU: a
 *   repository with 16384 bins and years of history cannot all be resident.
 */
import { compareListedNames } from "./listing-order.ts";

import { type MetadataFileName, parseMetadataFileName } from "../tuf/file-names.ts";
import { isTopLevelRole } from "../tuf/roles.ts";
import { type ContentCoding, type EncodedVariant, precompress } from "./encodings.ts";

export interface PublishedFile {
  /** file name as served under /metadata/, e.g. `3.bins-0a3.json` */
  readonly name: string;
  /** the exact bytes clients download; owned by this class, never mutated */
  readonly bytes: Uint8Array;
  /** strong validator: quoted hex prefix of sha256(bytes) */
  readonly etag: string;
  /** versioned files never change; `timestamp.json` and `root.json` do */
  readonly immutable: boolean;
  /** TUF role name: `bins-0a3` for `3.bins-0a3.json`, `timestamp` for `timestamp.json` */
  readonly role: string;
  /** version from the name, null for unversioned names */
  readonly version: number | null;
  /** compressed variants, made once (encodings.ts) */
  encoded?: Partial<Record<ContentCoding, EncodedVariant>>;
}

export interface PublishInput {
  name: string;
  bytes: Uint8Array;
  /** hex sha256 of bytes when the caller already has it (the store does): saves hashing ~200 MB for 16384 bins */
  sha256?: string;
}

export type MetadataLoader = (name: string) => Promise<Uint8Array | undefined>;
export type MetadataLister = () => Promise<string[]>;
export type PublishListener = (names: readonly string[]) => void;

export interface PublishedMetadataOptions {
  /** reads a file that is not in memory (an older version) from the store */
  loader?: MetadataLoader;
  /** every published file name the store knows, for the directory listing */
  lister?: MetadataLister;
  /** byte budget for older versions loaded on demand (default 64 MiB) */
  cacheBytes?: number;
  /** how long a "does not exist" answer from the loader is trusted (default 2 s) */
  missingTtlMs?: number;
  /**
   * Roles whose newest version stays in memory (default: every role). With a
   * loader, the others' newest versions go to the byte-bounded cache like
   * older ones: 16384 bins at 1M artifacts are ~200 MB, and clients fetch
   * the few bins they need, while root/targets/snapshot are fetched by all.
   */
  resident?: (role: string) => boolean;
}

export class PublishedMetadataError extends Error {
  override name = "PublishedMetadataError";
}

/** Length of the sha256 hex prefix used as ETag: 128 bits is plenty for a cache validator. */
const ETAG_HEX_CHARS = 32;
const MAX_MISSING_ENTRIES = 4096;

function makeFile(name: string, parsed: MetadataFileName, bytes: Uint8Array, sha256?: string): PublishedFile {
  const digest =
    sha256 && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
  return {
    name,
    bytes,
    etag: `"${digest.slice(0, ETAG_HEX_CHARS)}"`,
    immutable: parsed.version !== null,
    role: parsed.role,
    version: parsed.version,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

export class PublishedMetadata {
  readonly #loader: MetadataLoader | undefined;
  readonly #lister: MetadataLister | undefined;
  readonly #cacheBytes: number;
  readonly #missingTtlMs: number;

  /** newest version of each resident versioned role, by role */
  readonly #newest = new Map<string, PublishedFile>();
  /** newest version number of every versioned role published here */
  readonly #newestVersion = new Map<string, number>();
  readonly #resident_: (role: string) => boolean;
  /** every resident file by name: unversioned ones and the newest of each role */
  readonly #resident = new Map<string, PublishedFile>();
  /**
   * Older versions, oldest first (Map keeps insertion order), evicted with
   * CLOCK (second chance): a hit only sets `used`, because moving the entry to
   * the end of the Map on every hit cost ~5% of fetch-path throughput.
   */
  readonly #older = new Map<string, { file: PublishedFile; used: boolean }>();
  #olderBytes = 0;
  /** names the loader said do not exist, with the time that answer expires */
  readonly #missing = new Map<string, number>();
  readonly #loading = new Map<string, Promise<PublishedFile | undefined>>();
  readonly #listeners = new Set<PublishListener>();
  #generation = 0;

  constructor(opts: PublishedMetadataOptions = {}) {
    this.#loader = opts.loader;
    this.#lister = opts.lister;
    this.#cacheBytes = opts.cacheBytes ?? 64 * 1024 * 1024;
    this.#missingTtlMs = opts.missingTtlMs ?? 2000;
    const resident = opts.resident;
    this.#resident_ = resident && opts.loader ? resident : () => true;
  }

  /** Increases with every publish; lets readers cache derived views (the listing). */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Makes a batch visible at once. Everything is checked before anything
   * changes, so a refused batch leaves the served repository as it was.
   * Ownership of `bytes` passes here: callers must not mutate them afterwards.
   */
  publish(files: readonly PublishInput[]): void {
    const batch: PublishedFile[] = [];
    const inBatch = new Map<string, PublishedFile>();
    for (const f of files) {
      const parsed = parseMetadataFileName(f.name);
      if (!parsed) throw new PublishedMetadataError(`cannot publish "${f.name}": not a metadata file name`);
      if (!(f.bytes instanceof Uint8Array))
        throw new PublishedMetadataError(`cannot publish "${f.name}": bytes must be a Uint8Array`);
      const file = makeFile(f.name, parsed, f.bytes, f.sha256);
      if (file.immutable) {
        const known = inBatch.get(file.name) ?? this.#resident.get(file.name) ?? this.#older.get(file.name)?.file;
        if (known && (known.etag !== file.etag || !sameBytes(known.bytes, file.bytes))) {
          throw new PublishedMetadataError(
            `refusing to publish "${f.name}": that version is already published with different bytes`,
          );
        }
      }
      inBatch.set(file.name, file);
      batch.push(file);
    }

    for (const file of batch) {
      if (file.version === null) {
        this.#resident.set(file.name, file);
        continue;
      }
      const newestVersion = this.#newestVersion.get(file.role) ?? 0;
      if (newestVersion >= file.version) {
        // An older (or the same) version: keep the newest resident, remember this one.
        if (this.#newest.get(file.role)?.name !== file.name) this.#remember(file);
        continue;
      }
      this.#newestVersion.set(file.role, file.version);
      if (!this.#resident_(file.role)) {
        // Newest, but served through the cache (and the store behind it).
        this.#remember(file);
        continue;
      }
      const current = this.#newest.get(file.role);
      this.#newest.set(file.role, file);
      this.#resident.set(file.name, file);
      this.#forget(file.name);
      if (current) {
        this.#resident.delete(current.name);
        // The previous version was hot a moment ago; clients mid-update still fetch it.
        this.#remember(current);
      }
    }
    this.#missing.clear();
    this.#generation++;
    this.#precompressSoon(batch);

    const names = batch.map((f) => f.name);
    for (const listener of this.#listeners) {
      try {
        listener(names);
      } catch {
        // A listener's failure must not undo or block a publication that already happened.
      }
    }
  }

  /** Memory only (newest, aliases, LRU); synchronous so the HTTP hot path needs no promise. */
  peek(name: string): PublishedFile | undefined {
    const hot = this.#resident.get(name);
    if (hot) return hot;
    const old = this.#older.get(name);
    if (!old) return undefined;
    old.used = true;
    return old.file;
  }

  /**
   * The file, from memory or else from the store. Resolves undefined for names
   * that do not exist; rejects when the store fails (so a store outage is not
   * mistaken for "there is no newer root").
   */
  get(name: string): Promise<PublishedFile | undefined> {
    const hit = this.peek(name);
    if (hit) return Promise.resolve(hit);
    const parsed = parseMetadataFileName(name);
    if (!parsed || !this.#loader) return Promise.resolve(undefined);
    if (parsed.version !== null) {
      const newest = this.#newestVersion.get(parsed.role);
      // Clients probe N+1.root.json on every update; answer from memory instead of
      // asking the store each time. A replica that has not yet heard of a newer
      // version answers consistently with the timestamp it serves.
      if (newest !== undefined && parsed.version > newest) return Promise.resolve(undefined);
    }
    const until = this.#missing.get(name);
    if (until !== undefined) {
      if (until > performance.now()) return Promise.resolve(undefined);
      this.#missing.delete(name);
    }
    const pending = this.#loading.get(name);
    if (pending) return pending;
    const generation = this.#generation;
    const load = this.#load(name, parsed, generation).finally(() => this.#loading.delete(name));
    this.#loading.set(name, load);
    return load;
  }

  async #load(name: string, parsed: MetadataFileName, generation: number): Promise<PublishedFile | undefined> {
    const bytes = await this.#loader!(name);
    // A publish may have made this name resident while the store was answering.
    const resident = this.peek(name);
    if (resident) return resident;
    if (!bytes) {
      // Only remember absence if nothing was published meanwhile (it may have added the name).
      if (generation === this.#generation) {
        if (this.#missing.size >= MAX_MISSING_ENTRIES) this.#missing.clear();
        this.#missing.set(name, performance.now() + this.#missingTtlMs);
      }
      return undefined;
    }
    const file = makeFile(name, parsed, bytes);
    // Unversioned names from the store may be stale the moment they arrive: never cache them.
    if (file.immutable) this.#remember(file);
    return file;
  }

  /** The resident files: unversioned aliases and the newest version of every role. */
  hotFiles(): PublishedFile[] {
    return [...this.#resident.values()];
  }

  /** Every published name (store and memory), sorted for the directory listing. */
  async listNames(): Promise<string[]> {
    const names = new Set<string>(this.#lister ? await this.#lister() : []);
    for (const name of this.#resident.keys()) names.add(name);
    for (const name of this.#older.keys()) names.add(name);
    return [...names].sort(compareListedNames);
  }

  /** Called synchronously after every publish with the names of the batch. Returns an unsubscribe. */
  onChange(listener: PublishListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  stats(): { residentFiles: number; residentBytes: number; cachedFiles: number; cachedBytes: number } {
    let residentBytes = 0;
    for (const f of this.#resident.values()) residentBytes += f.bytes.byteLength;
    return {
      residentFiles: this.#resident.size,
      residentBytes,
      cachedFiles: this.#older.size,
      cachedBytes: this.#olderBytes,
    };
  }

  /**
   * Compress the top-level documents of a batch right after it is visible
   * (encodings.ts): not before, so compression never delays a publication;
   * until it is done those files are sent uncompressed.
   */
  #precompressSoon(batch: PublishedFile[]): void {
    // Not the snapshot: it changes with every publication (tens per second
    // under steady adds) and most versions are never downloaded; it is
    // compressed on its first request instead (encodings.ts).
    const files = batch.filter((f) => f.role !== "snapshot" && (f.version === null || isTopLevelRole(f.role)));
    if (files.length === 0) return;
    setImmediate(() => {
      for (const f of files) if (this.peek(f.name) === f) precompress(f);
    });
  }

  #remember(file: PublishedFile): void {
    if (this.#resident.has(file.name)) return;
    this.#forget(file.name);
    // A single file larger than the whole budget is served but not kept.
    if (file.bytes.byteLength > this.#cacheBytes) return;
    // Unused until requested: a batch of thousands of bins that nobody asks
    // for must not push out the versions clients are fetching.
    this.#older.set(file.name, { file, used: false });
    this.#olderBytes += file.bytes.byteLength;
    // Terminates: every second chance clears a bit, and the new entry is unused.
    for (const [name, old] of this.#older) {
      if (this.#olderBytes <= this.#cacheBytes) break;
      this.#older.delete(name);
      if (old.used) {
        old.used = false;
        this.#older.set(name, old);
      } else {
        this.#olderBytes -= old.file.bytes.byteLength;
      }
    }
  }

  #forget(name: string): void {
    const old = this.#older.get(name);
    if (!old) return;
    this.#older.delete(name);
    this.#olderBytes -= old.file.bytes.byteLength;
  }
}
