/**
 * What a mirror has verified, durably: one SQLite file (`mirror.db` in the
 * data directory, WAL, synchronous=FULL). Every verified document's exact
 * bytes, the current state (which root, timestamp, snapshot and targets roles
 * are current) and the sync status survive restarts and power cuts: a sync is
 * one transaction, so after a crash the mirror serves either the state before
 * it or the state after it, never a mix.
 *
 * `generation` counts commits. A sync verifies against the state it read and
 * commits only if nobody committed meanwhile (another process importing a
 * bundle into the same directory, say); otherwise it starts over.
 */
import { Database } from "bun:sqlite";

export interface MirrorDocument {
  role: string;
  version: number;
  bytes: Uint8Array;
  sha256: string;
}

/** A targets role (top-level or delegated) in the current state. */
export interface RoleHead {
  role: string;
  version: number;
  /** the role whose keys it was verified with: `root` for targets */
  delegator: string;
  /** JSON of `signed.delegations`, when the role delegates further */
  delegations: string | null;
  expires: string;
  sha256: string;
  length: number;
  /** the prefetch globs were applied to this version's targets */
  targetsDone: boolean;
}

export interface StoredState {
  generation: number;
  /** the first root version this mirror verified (its trust anchor) */
  anchorVersion: number;
  root: MirrorDocument;
  timestamp: MirrorDocument | undefined;
  snapshot: MirrorDocument | undefined;
  heads: Map<string, RoleHead>;
}

export interface Commit {
  /** the generation the verification started from */
  expected: number;
  documents: MirrorDocument[];
  anchorVersion: number;
  rootVersion: number;
  timestampVersion: number | null;
  snapshotVersion: number | null;
  upsertHeads: RoleHead[];
  removeHeads: string[];
}

/**
 * A commit refused: `generation` = another commit came first (verify again
 * from the new state); `document` = a version would be stored with bytes
 * other than the verified ones stored earlier (a repository reusing a version
 * number, which TUF forbids).
 */
export class MirrorStoreConflict extends Error {
  override name = "MirrorStoreConflict";
  readonly kind: "generation" | "document";
  constructor(kind: "generation" | "document", message: string) {
    super(message);
    this.kind = kind;
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS documents (
  role TEXT NOT NULL,
  version INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (role, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (
  role TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  delegator TEXT NOT NULL,
  delegations TEXT,
  expires TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  length INTEGER NOT NULL,
  targets_done INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`;

type Row = Record<string, unknown>;

function toHead(r: Row): RoleHead {
  return {
    role: r.role as string,
    version: r.version as number,
    delegator: r.delegator as string,
    delegations: (r.delegations as string | null) ?? null,
    expires: r.expires as string,
    sha256: r.sha256 as string,
    length: r.length as number,
    targetsDone: r.targets_done === 1,
  };
}

function toDocument(r: Row | null): MirrorDocument | undefined {
  if (!r) return undefined;
  return {
    role: r.role as string,
    version: r.version as number,
    bytes: new Uint8Array(r.bytes as Uint8Array),
    sha256: r.sha256 as string,
  };
}

export class MirrorStore {
  readonly path: string;
  readonly #db: Database;

  private constructor(path: string, db: Database) {
    this.path = path;
    this.#db = db;
  }

  static open(path: string, opts: { readonly?: boolean } = {}): MirrorStore {
    const db = opts.readonly ? new Database(path, { readonly: true }) : new Database(path, { create: true });
    db.exec("PRAGMA busy_timeout = 10000");
    if (!opts.readonly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL");
      // Documents are read once into memory and served from there: a small page cache is enough.
      db.exec("PRAGMA cache_size = -1024");
      db.exec(SCHEMA);
    }
    return new MirrorStore(path, db);
  }

  close(): void {
    this.#db.close();
  }

  /** Changes whenever another connection commits (SQLite's data_version): a cheap "did anything change?". */
  dataVersion(): number {
    return (this.#db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
  }

  get(key: string): string | undefined {
    const r = this.#db.query("SELECT value FROM state WHERE key = ?").get(key) as { value: string } | null;
    return r?.value;
  }

  set(key: string, value: string): void {
    this.#db
      .query("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
      .run(key, value);
  }

  generation(): number {
    return Number(this.get("generation") ?? 0);
  }

  document(role: string, version: number): MirrorDocument | undefined {
    return toDocument(
      this.#db
        .query("SELECT role, version, bytes, sha256 FROM documents WHERE role = ? AND version = ?")
        .get(role, version) as Row | null,
    );
  }

  latest(role: string): MirrorDocument | undefined {
    return toDocument(
      this.#db
        .query("SELECT role, version, bytes, sha256 FROM documents WHERE role = ? ORDER BY version DESC LIMIT 1")
        .get(role) as Row | null,
    );
  }

  /** (role, version) of every stored document. */
  listDocuments(): { role: string; version: number }[] {
    return this.#db.query("SELECT role, version FROM documents ORDER BY role, version").all() as {
      role: string;
      version: number;
    }[];
  }

  /** The current state, or undefined before the first successful sync or import. */
  load(): StoredState | undefined {
    const rootVersion = this.get("root_version");
    if (rootVersion === undefined) return undefined;
    const root = this.document("root", Number(rootVersion));
    if (!root) throw new Error(`${this.path}: root v${rootVersion} is missing; the file is damaged`);
    const tsVersion = this.get("timestamp_version");
    const snapVersion = this.get("snapshot_version");
    const heads = new Map<string, RoleHead>();
    for (const r of this.#db.query("SELECT * FROM heads").all() as Row[]) heads.set(r.role as string, toHead(r));
    return {
      generation: this.generation(),
      anchorVersion: Number(this.get("anchor_version") ?? rootVersion),
      root,
      timestamp: tsVersion ? this.document("timestamp", Number(tsVersion)) : undefined,
      snapshot: snapVersion ? this.document("snapshot", Number(snapVersion)) : undefined,
      heads,
    };
  }

  /**
   * Makes a verified state current in one transaction. Refuses (and changes
   * nothing) when another commit happened since `expected`, or when a
   * document would replace different bytes under the same role and version.
   */
  commit(c: Commit): number {
    const run = this.#db.transaction(() => {
      const generation = this.generation();
      if (generation !== c.expected)
        throw new MirrorStoreConflict(
          "generation",
          `the mirror's state changed meanwhile (generation ${generation}, expected ${c.expected})`,
        );
      const find = this.#db.query("SELECT sha256 FROM documents WHERE role = ? AND version = ?");
      const insert = this.#db.query(
        "INSERT INTO documents (role, version, bytes, sha256) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      );
      for (const d of c.documents) {
        if (insert.run(d.role, d.version, d.bytes, d.sha256).changes === 1) continue;
        const known = find.get(d.role, d.version) as { sha256: string } | null;
        if (known && known.sha256 !== d.sha256)
          throw new MirrorStoreConflict(
            "document",
            `${d.version}.${d.role}.json differs from the verified copy of that version stored earlier (a version number reused)`,
          );
      }
      const upsert = this.#db.query(
        `INSERT INTO heads (role, version, delegator, delegations, expires, sha256, length, targets_done)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (role) DO UPDATE SET
           targets_done = CASE WHEN heads.version = excluded.version THEN heads.targets_done ELSE excluded.targets_done END,
           version = excluded.version, delegator = excluded.delegator, delegations = excluded.delegations,
           expires = excluded.expires, sha256 = excluded.sha256, length = excluded.length`,
      );
      for (const h of c.upsertHeads)
        upsert.run(h.role, h.version, h.delegator, h.delegations, h.expires, h.sha256, h.length, h.targetsDone ? 1 : 0);
      const remove = this.#db.query("DELETE FROM heads WHERE role = ?");
      for (const role of c.removeHeads) remove.run(role);
      // Only the current timestamp is ever served (timestamp.json): older ones are not kept.
      if (c.timestampVersion !== null)
        this.#db.query("DELETE FROM documents WHERE role = 'timestamp' AND version < ?").run(c.timestampVersion);
      this.set("anchor_version", String(c.anchorVersion));
      this.set("root_version", String(c.rootVersion));
      if (c.timestampVersion !== null) this.set("timestamp_version", String(c.timestampVersion));
      if (c.snapshotVersion !== null) this.set("snapshot_version", String(c.snapshotVersion));
      this.set("generation", String(generation + 1));
      return generation + 1;
    });
    return run.immediate();
  }

  markTargetsDone(role: string, version: number): void {
    this.#db.query("UPDATE heads SET targets_done = 1 WHERE role = ? AND version = ?").run(role, version);
  }

  /** Forgets which roles had their targets prefetched (the prefetch globs changed). */
  resetTargetsDone(): void {
    this.#db.query("UPDATE heads SET targets_done = 0").run();
  }
}
