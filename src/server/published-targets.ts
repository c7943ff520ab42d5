/**
 * Which hashes the published metadata lists for each target path: what
 * /targets/ needs to answer a consistent-snapshot download (TUF spec 5.7.3).
 *
 * A client asks for `dir/<hash>.<basename>` with the *first* hash its target
 * entry lists, whatever the algorithm (RSTUF's CLI lists only `blake2b-256`),
 * so the hex alone does not say which digest it is: 64 hex characters can be a
 * sha256 or a blake2b-256. The published entry says. Resolving through it also
 * means a URL can only name bytes the repository actually lists.
 *
 * The index covers the targets roles of the newest published snapshot, at the
 * versions that snapshot names (so a removed delegation drops out). It is
 * built on the first hashed request and brought up to date lazily: a publish
 * only bumps `PublishedMetadata.generation`; the next lookup re-reads the
 * snapshot and re-parses only the roles whose version changed. A repository
 * that never serves hashed names never parses its bins.
 */
import { metadataFileName, roleOfSnapshotMetaName, snapshotMetaName } from "../tuf/file-names.ts";
import type { PublishedMetadata } from "./published.ts";

export interface TargetHashes {
  length: number;
  hashes: Readonly<Record<string, string>>;
}

/** The one (algorithm, length) a hashed name resolves to. */
export interface ResolvedHash {
  algorithm: string;
  length: number;
}

interface IndexedRole {
  version: number;
  paths: string[];
}

/**
 * The (algorithm, length) under which `entries` list `hex`; undefined when
 * none does, or when they disagree (the same hex under two algorithms, or two
 * lengths): an ambiguous name is never served.
 */
export function resolveHash(entries: readonly TargetHashes[], hex: string): ResolvedHash | undefined {
  let found: ResolvedHash | undefined;
  for (const entry of entries) {
    for (const [algorithm, value] of Object.entries(entry.hashes)) {
      if (value !== hex) continue;
      if (found && (found.algorithm !== algorithm || found.length !== entry.length)) return undefined;
      found = { algorithm, length: entry.length };
    }
  }
  return found;
}

export class PublishedTargets {
  readonly #metadata: PublishedMetadata;
  /** target path → its entry in every indexed role that lists it */
  readonly #byPath = new Map<string, (TargetHashes & { role: string })[]>();
  readonly #roles = new Map<string, IndexedRole>();
  #generation = -1;
  #snapshotVersion: number | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(metadata: PublishedMetadata) {
    this.#metadata = metadata;
  }

  /** The entries the current metadata lists for `path` (a decoded target path). */
  async entries(path: string): Promise<readonly TargetHashes[]> {
    await this.#upToDate();
    return this.#byPath.get(path) ?? [];
  }

  /** `resolveHash` over the current entries for `path`. */
  async resolve(path: string, hex: string): Promise<ResolvedHash | undefined> {
    return resolveHash(await this.entries(path), hex);
  }

  async #upToDate(): Promise<void> {
    // Concurrent lookups share one refresh. A publish that lands while a refresh
    // runs makes the loop go round again (bounded: publishes may never stop).
    for (let round = 0; round < 3 && this.#generation !== this.#metadata.generation; round++) {
      this.#refreshing ??= this.#refresh().finally(() => {
        this.#refreshing = undefined;
      });
      await this.#refreshing;
    }
  }

  async #refresh(): Promise<void> {
    const generation = this.#metadata.generation;
    const snapshot = await this.#newestSnapshot();
    if (snapshot && snapshot.version !== this.#snapshotVersion) {
      const listed = new Map<string, number>();
      for (const [name, meta] of Object.entries(snapshot.meta)) {
        const version = (meta as { version?: unknown } | null)?.version;
        const role = roleOfSnapshotMetaName(name);
        if (role !== undefined && typeof version === "number") listed.set(role, version);
      }
      for (const role of [...this.#roles.keys()]) if (!listed.has(role)) this.#drop(role);
      for (const [role, version] of listed) {
        if (this.#roles.get(role)?.version === version) continue;
        const targets = await this.#targetsOf(role, version);
        this.#drop(role);
        if (targets) this.#add(role, version, targets);
      }
      this.#snapshotVersion = snapshot.version;
    }
    this.#generation = generation;
  }

  async #newestSnapshot(): Promise<{ version: number; meta: Record<string, unknown> } | undefined> {
    const timestamp = this.#signed(await this.#metadata.get("timestamp.json"));
    const version = (timestamp?.meta as Record<string, { version?: unknown }> | undefined)?.["snapshot.json"]?.version;
    if (typeof version !== "number") return undefined;
    const file =
      (await this.#metadata.get(metadataFileName("snapshot", version))) ??
      (await this.#metadata.get(snapshotMetaName("snapshot")));
    const signed = this.#signed(file);
    if (!signed || signed.version !== version || typeof signed.meta !== "object" || signed.meta === null)
      return undefined;
    return { version, meta: signed.meta as Record<string, unknown> };
  }

  async #targetsOf(role: string, version: number): Promise<Record<string, unknown> | undefined> {
    const file =
      (await this.#metadata.get(metadataFileName(role, version))) ?? (await this.#metadata.get(snapshotMetaName(role)));
    const signed = this.#signed(file);
    if (signed?._type !== "targets" || signed.version !== version) return undefined;
    const targets = signed.targets;
    return typeof targets === "object" && targets !== null ? (targets as Record<string, unknown>) : undefined;
  }

  #signed(file: { bytes: Uint8Array } | undefined): Record<string, unknown> | undefined {
    if (!file) return undefined;
    try {
      const doc = JSON.parse(new TextDecoder().decode(file.bytes)) as { signed?: unknown };
      return typeof doc.signed === "object" && doc.signed !== null
        ? (doc.signed as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }

  #add(role: string, version: number, targets: Record<string, unknown>): void {
    const paths: string[] = [];
    for (const [path, value] of Object.entries(targets)) {
      const info = value as { length?: unknown; hashes?: unknown } | null;
      if (typeof info?.length !== "number" || typeof info.hashes !== "object" || info.hashes === null) continue;
      const entry = { role, length: info.length, hashes: info.hashes as Record<string, string> };
      const list = this.#byPath.get(path);
      if (list) list.push(entry);
      else this.#byPath.set(path, [entry]);
      paths.push(path);
    }
    this.#roles.set(role, { version, paths });
  }

  #drop(role: string): void {
    const indexed = this.#roles.get(role);
    if (!indexed) return;
    for (const path of indexed.paths) {
      const rest = this.#byPath.get(path)?.filter((e) => e.role !== role) ?? [];
      if (rest.length > 0) this.#byPath.set(path, rest);
      else this.#byPath.delete(path);
    }
    this.#roles.delete(role);
  }
}
