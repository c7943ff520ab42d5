/**
 * The Store contract (store.ts) on embedded SQLite, the default backend: one
 * method per contract operation, prepared statements, WAL with
 * synchronous=FULL (a 202 means the change is on disk). One idea — the
 * contract in SQLite's SQL — hence one file; shared rules live in rules.ts.
 */
import { Database, SQLiteError, type Statement } from "bun:sqlite";
import { migrate } from "./migrations.ts";
import { SqliteContentIndex } from "./contents.ts";
import {
  FINISHED_STATES,
  KEPT_FOREVER_ROLES,
  REFERRING_ROLES,
  auditRow,
  checkAuditQuery,
  checkChange,
  checkDocument,
  checkLimit,
  duplicateKeyMessage,
  normaliseInstant,
  taskFromRow,
  taskResultText,
  prefixUpperBound,
  sortByCodeUnits,
  tufInstant,
  type AuditRow,
} from "../rules.ts";
import { targetsEntriesOf } from "../../tuf/targets-scan.ts";
import {
  StoreConflictError,
  type ArtifactRecord,
  type AuditEntry,
  type AuditQuery,
  type AuditRecord,
  type ChangeRecord,
  type DocumentRecord,
  type NewChange,
  type Publication,
  type RoleHead,
  type Store,
  type TaskRecord,
  type TaskResult,
  type TaskState,
  type TaskUpdate,
  type TokenRecord,
  type PublicationSummary,
  type RoleVersion,
} from "../store.ts";
import { workerUrl } from "../../workers.ts";

export interface SqliteStoreOptions {
  /**
   * FULL (default) fsyncs the WAL on every commit, so an acknowledged change
   * survives power loss. NORMAL only survives a process crash; use it for
   * throwaway data (tests, benchmarks), never behind a 202.
   */
  synchronous?: "FULL" | "NORMAL";
  /** how long a writer waits for another process's lock before failing */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL from a worker thread instead of inside commits
   * (checkpoint-worker.ts). The server turns it on; short-lived stores
   * (CLI, tests) keep SQLite's automatic checkpoints.
   */
  backgroundCheckpoint?: boolean;
}

/** artifact index rows written by one INSERT */
const ARTIFACTS_PER_INSERT = 128;
/** queued changes written by one INSERT (7 parameters each; SQLite allows 32766) */
const CHANGES_PER_INSERT = 64;
/** A publication this large starts the checkpoint worker (a 16384-bin snapshot alone is ~0.6 MB). */
const CHECKPOINT_WORKER_AFTER_BYTES = 256 * 1024;
/** How often the background worker checkpoints the WAL. */
const CHECKPOINT_INTERVAL_MS = 250;

type DocumentRow = {
  role: string;
  version: number;
  bytes: Uint8Array;
  expires: string;
  sha256: string;
  publishedAt: string;
};
type ChangeRow = Omit<ChangeRecord, "held"> & { held: number };
type TaskRow = Omit<TaskRecord, "result"> & { result: string | null };
type TokenRow = Omit<TokenRecord, "scopes"> & { scopes: string };
type AuditDbRow = Omit<AuditRecord, "summary"> & { summary: string };
const TOKEN_COLUMNS =
  "id, hash, name, scopes, created_at AS createdAt, expires_at AS expiresAt, created_by AS createdBy";
const AUDIT_COLUMNS =
  "id, at, principal, principal_name AS principalName, source, route, task_id AS taskId, action, summary";
type ListDocumentsRow = { role: string; version: number; length: number; publishedAt: string };

/** Every statement the store runs, compiled once at open. */
function prepare(db: Database) {
  const documentColumns = "role, version, bytes, expires, sha256, published_at AS publishedAt";
  const taskColumns = "id, name, state, result, created_at AS createdAt, updated_at AS updatedAt";
  const page = (where: string) =>
    db.prepare<{ path: string; role: string }, (string | number)[]>(
      `SELECT path, role FROM artifacts ${where} ORDER BY path LIMIT ?`,
    );
  return {
    ping: db.prepare<{ ok: number }, []>("SELECT 1 AS ok"),

    getSetting: db.prepare<{ value: string }, [string]>("SELECT value FROM settings WHERE key = ?"),
    putSetting: db.prepare<never, [string, string]>(
      "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    deleteSetting: db.prepare<never, [string]>("DELETE FROM settings WHERE key = ?"),

    getDocument: db.prepare<DocumentRow, [string, number]>(
      `SELECT ${documentColumns} FROM documents WHERE role = ? AND version = ?`,
    ),
    getLatestDocument: db.prepare<DocumentRow, [string]>(
      `SELECT ${documentColumns} FROM documents
       WHERE role = ?1 AND version = (SELECT version FROM heads WHERE role = ?1)`,
    ),
    getHead: db.prepare<{ version: number }, [string]>("SELECT version FROM heads WHERE role = ?"),
    getHeads: db.prepare<RoleHead, []>("SELECT role, version, expires FROM heads ORDER BY role"),
    getHeadLengths: db.prepare<{ role: string; length: number }, []>(
      `SELECT h.role, d.length FROM heads h JOIN documents d ON d.role = h.role AND d.version = h.version
       ORDER BY h.role`,
    ),
    listDocuments: db.prepare<ListDocumentsRow, []>(
      "SELECT role, version, length, published_at AS publishedAt FROM documents ORDER BY role, version",
    ),
    insertDocument: db.prepare<never, [string, number, string, string, number, string, Uint8Array]>(
      `INSERT INTO documents (role, version, expires, sha256, length, published_at, bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Head = highest version, whatever order documents arrive in.
    upsertHead: db.prepare<never, [string, number, string]>(
      `INSERT INTO heads (role, version, expires) VALUES (?, ?, ?)
       ON CONFLICT (role) DO UPDATE SET version = excluded.version, expires = excluded.expires
       WHERE excluded.version > heads.version`,
    ),

    // The head document of a role that lists artifacts here (none: it lists none).
    listedRoleDocument: db.prepare<{ bytes: Uint8Array }, [string]>(
      `SELECT d.bytes FROM artifact_roles r
       JOIN heads h ON h.role = r.role JOIN documents d ON d.role = h.role AND d.version = h.version
       WHERE r.role = ?`,
    ),
    listedRoleDocuments: db.prepare<{ role: string; bytes: Uint8Array }, [string]>(
      `SELECT r.role, d.bytes FROM json_each(?) j JOIN artifact_roles r ON r.role = j.value
       JOIN heads h ON h.role = r.role JOIN documents d ON d.role = h.role AND d.version = h.version`,
    ),
    getArtifactRole: db.prepare<{ role: string }, [string]>("SELECT role FROM artifacts WHERE path = ?"),
    countArtifacts: db.prepare<{ n: number }, []>("SELECT coalesce(sum(artifacts), 0) AS n FROM artifact_roles"),
    // Four shapes instead of `(? IS NULL OR path > ?)`, which would stop the
    // planner from using the path index as a range.
    pageAll: page(""),
    pageAfter: page("WHERE path > ?"),
    // ?1 = after ('' for none), ?2 = prefix. max() compares with BINARY, the
    // same order as the index, so the seek starts at the later of the two.
    pagePrefix: page("WHERE path >= max(?1, ?2) AND path <> ?1 AND path < ?3"),
    pagePrefixOpen: page("WHERE path >= max(?1, ?2) AND path <> ?1"),
    insertArtifact: db.prepare<never, [string, string]>(
      "INSERT INTO artifacts (path, role) VALUES (?, ?) ON CONFLICT (path) DO NOTHING",
    ),
    // Only the rows inserted come back: a path already indexed is not.
    insertArtifacts: db.prepare<{ path: string }, string[]>(
      `INSERT INTO artifacts (path, role) VALUES ${Array(ARTIFACTS_PER_INSERT).fill("(?, ?)").join(", ")}
       ON CONFLICT (path) DO NOTHING RETURNING path`,
    ),
    moveArtifact: db.prepare<never, [string, string]>("UPDATE artifacts SET role = ? WHERE path = ?"),
    deleteArtifact: db.prepare<{ role: string }, [string]>("DELETE FROM artifacts WHERE path = ? RETURNING role"),
    addRoleArtifacts: db.prepare<never, [string, number]>(
      `INSERT INTO artifact_roles (role, artifacts) VALUES (?1, ?2)
       ON CONFLICT (role) DO UPDATE SET artifacts = artifacts + ?2`,
    ),
    dropEmptyRole: db.prepare<never, [string]>("DELETE FROM artifact_roles WHERE role = ? AND artifacts = 0"),

    insertChange: db.prepare<never, [string, string, string, string, string | null, number, string]>(
      `INSERT INTO changes (task_id, kind, path, role, fragment, held, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Rows are inserted (and given their ids) in the order listed.
    insertChanges: db.prepare<never, (string | number | null)[]>(
      `INSERT INTO changes (task_id, kind, path, role, fragment, held, created_at) VALUES ${Array(CHANGES_PER_INSERT).fill("(?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
    ),
    pendingChanges: db.prepare<ChangeRow, [number]>(
      `SELECT id, task_id AS taskId, kind, path, role, fragment, held FROM changes
       WHERE held = 0 ORDER BY id LIMIT ?`,
    ),
    countPendingChanges: db.prepare<{ n: number }, []>("SELECT count(*) AS n FROM changes WHERE held = 0"),
    releaseHeldChanges: db.prepare<never, []>("UPDATE changes SET held = 0 WHERE held = 1"),
    deleteChangeRange: db.prepare<never, [number, number]>("DELETE FROM changes WHERE id BETWEEN ? AND ?"),

    insertTask: db.prepare<never, [string, string, string, string | null, string, string]>(
      `INSERT INTO tasks (id, name, state, result, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    updateTask: db.prepare<never, [string, string | null, string, string]>(
      "UPDATE tasks SET state = ?, result = ?, updated_at = ? WHERE id = ?",
    ),
    getTask: db.prepare<TaskRow, [string]>(`SELECT ${taskColumns} FROM tasks WHERE id = ?`),
    listUnfinishedTasks: db.prepare<TaskRow, []>(
      `SELECT ${taskColumns} FROM tasks
       WHERE state NOT IN (${FINISHED_STATES.map((s) => `'${s}'`).join(", ")})
       ORDER BY created_at, id`,
    ),
    pruneTasks: db.prepare<never, [string]>(
      `DELETE FROM tasks
       WHERE state IN (${FINISHED_STATES.map((s) => `'${s}'`).join(", ")}) AND updated_at < ?`,
    ),

    // Row-value comparison: one seek on tasks_created, then a walk backwards.
    listTasks: db.prepare<TaskRow, [number]>(
      `SELECT ${taskColumns} FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?`,
    ),
    listTasksBefore: db.prepare<TaskRow, [string, string, number]>(
      `SELECT ${taskColumns} FROM tasks WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`,
    ),
    listRoleVersions: db.prepare<RoleVersion, [string, number]>(
      `SELECT version, expires, length, published_at AS publishedAt FROM documents
       WHERE role = ? ORDER BY version DESC LIMIT ?`,
    ),
    publicationCount: db.prepare<{ n: number }, [string]>("SELECT count(*) AS n FROM documents WHERE published_at = ?"),
    publicationRoles: db.prepare<{ role: string; version: number }, [string]>(
      `SELECT role, version FROM documents
       WHERE published_at = ? AND role NOT IN ('snapshot', 'timestamp') ORDER BY role LIMIT 20`,
    ),

    putToken: db.prepare<never, [string, string, string, string, string, string | null, string | null]>(
      `INSERT INTO tokens (id, hash, name, scopes, created_at, expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET id = excluded.id, name = excluded.name, scopes = excluded.scopes,
         created_at = excluded.created_at, expires_at = excluded.expires_at, created_by = excluded.created_by`,
    ),
    findToken: db.prepare<TokenRow, [string]>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = ?`),
    listTokens: db.prepare<TokenRow, []>(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id`),
    revokeToken: db.prepare<never, [string]>("DELETE FROM tokens WHERE id = ?"),
    countTokens: db.prepare<{ n: number }, []>("SELECT count(*) AS n FROM tokens"),

    insertAudit: db.prepare<
      never,
      [string, string, string, string | null, string | null, string | null, string, string]
    >(
      `INSERT INTO audit (at, principal, principal_name, source, route, task_id, action, summary)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    pruneAudit: db.prepare<never, [string]>("DELETE FROM audit WHERE at < ?"),
    deleteTokens: db.prepare<never, [string]>("DELETE FROM tokens WHERE name = ?"),

    totals: db.prepare<{ horizon: string; documents: number; bytes: number }, []>(
      "SELECT horizon, documents, bytes FROM document_totals WHERE id = 1",
    ),
    addTotals: db.prepare<never, [string, number, number]>(
      `UPDATE document_totals SET horizon = max(horizon, ?), documents = documents + ?, bytes = bytes + ?
       WHERE id = 1`,
    ),
    retire: db.prepare<never, [string, number, string]>(
      `INSERT INTO retired (role, version, referenced_until) VALUES (?, ?, ?)
       ON CONFLICT (role, version) DO NOTHING`,
    ),
    prunable: db.prepare<{ role: string; version: number }, [string, number]>(
      "SELECT role, version FROM retired WHERE referenced_until < ? ORDER BY referenced_until LIMIT ?",
    ),
    // Never the newest version of a role, never root: checked here too, not only by what was retired.
    deleteRetiredDocument: db.prepare<{ length: number }, [string, number]>(
      `DELETE FROM documents WHERE role = ?1 AND version = ?2 AND role <> 'root'
         AND version < (SELECT version FROM heads WHERE role = ?1)
       RETURNING length`,
    ),
    deleteRetired: db.prepare<never, [string, number]>("DELETE FROM retired WHERE role = ? AND version = ?"),
  };
}
type Statements = ReturnType<typeof prepare>;

export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly contents = new SqliteContentIndex(() => {
    if (!this.db) throw new Error(`SQLite store ${this.path} is not open (call open() first)`);
    return this.db;
  });
  readonly path: string;
  private readonly synchronous: "FULL" | "NORMAL";
  private readonly busyTimeoutMs: number;
  private db: Database | undefined;
  private stmts: Statements | undefined;
  private readonly backgroundCheckpoint: boolean;
  private checkpointer: Worker | undefined;
  private checkpointerStarting: Promise<void> | undefined;
  /** tail of each named lock's queue of waiters */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    this.synchronous = opts.synchronous ?? "FULL";
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.backgroundCheckpoint = opts.backgroundCheckpoint ?? false;
  }

  async open(): Promise<void> {
    if (this.db) {
      migrate(this.db);
      return;
    }
    const db = new Database(this.path, { create: true, strict: true });
    try {
      db.run(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`);
      // WAL: readers (the HTTP side) never block the publisher's write.
      // An in-memory database reports "memory" here, which is fine for tests.
      db.run("PRAGMA journal_mode = WAL");
      db.run(`PRAGMA synchronous = ${this.synchronous}`);
      db.run("PRAGMA foreign_keys = ON");
      migrate(db);
      this.stmts = prepare(db);
      this.db = db;
    } catch (err) {
      db.close();
      throw new Error(`cannot open SQLite store at ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    const db = this.db;
    if (!db) return;
    await this.stopCheckpointer();
    this.contents.close();
    for (const s of Object.values(this.stmts ?? {})) (s as Statement).finalize();
    this.db = undefined;
    this.stmts = undefined;
    db.close();
  }

  async ping(): Promise<boolean> {
    try {
      return this.s.ping.get()?.ok === 1;
    } catch {
      return false;
    }
  }

  // ---- settings ----

  async getSetting<T = unknown>(key: string): Promise<T | undefined> {
    const row = this.s.getSetting.get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async setSettings(entries: Record<string, unknown>): Promise<void> {
    this.write(() => this.putSettings(entries));
  }

  // ---- documents ----

  async getDocument(role: string, version: number): Promise<DocumentRecord | undefined> {
    return this.s.getDocument.get(role, version) ?? undefined;
  }

  async getLatestDocument(role: string): Promise<DocumentRecord | undefined> {
    return this.s.getLatestDocument.get(role) ?? undefined;
  }

  async getHeads(): Promise<RoleHead[]> {
    return this.s.getHeads.all();
  }

  async getHeadLengths(): Promise<{ role: string; length: number }[]> {
    return this.s.getHeadLengths.all();
  }

  async listDocuments(): Promise<ListDocumentsRow[]> {
    return this.s.listDocuments.all();
  }

  // ---- artifacts ----

  /*
   * Fragments come from the listing role's head document (migration 6: the
   * table keeps which role lists each path, not a second copy of every
   * entry). A role with no row in artifact_roles lists nothing here.
   */

  async listArtifactsInRole(role: string): Promise<ArtifactRecord[]> {
    return this.artifactsListedBy(role);
  }

  /** One query for all of them: ~25% less than one per role for a slice of 1024 bins. */
  async listArtifactsInRoles(roles: readonly string[]): Promise<Map<string, ArtifactRecord[]>> {
    const out = new Map<string, ArtifactRecord[]>();
    for (const role of roles) out.set(role, []);
    if (roles.length === 0) return out;
    for (const row of this.s.listedRoleDocuments.all(JSON.stringify(roles))) out.set(row.role, entriesOf(row));
    return out;
  }

  private artifactsListedBy(role: string): ArtifactRecord[] {
    const row = this.s.listedRoleDocument.get(role);
    return row ? entriesOf({ role, bytes: row.bytes }) : [];
  }

  /** path → fragment of what `role` lists, read once per role for a whole page. */
  private fragmentsOf(role: string, cache: Map<string, Map<string, string>>): Map<string, string> {
    let m = cache.get(role);
    if (!m) {
      const row = this.s.listedRoleDocument.get(role);
      m = new Map(row ? targetsEntriesOf(row.bytes) : []);
      cache.set(role, m);
    }
    return m;
  }

  /** The rows with their fragments; a path its role's document does not list (yet) is left out. */
  private withFragments(rows: { path: string; role: string }[]): ArtifactRecord[] {
    const cache = new Map<string, Map<string, string>>();
    const out: ArtifactRecord[] = [];
    for (const r of rows) {
      const fragment = this.fragmentsOf(r.role, cache).get(r.path);
      if (fragment !== undefined) out.push({ path: r.path, role: r.role, fragment });
    }
    return out;
  }

  async getArtifact(path: string): Promise<ArtifactRecord | undefined> {
    const row = this.s.getArtifactRole.get(path);
    return row ? this.withFragments([{ path, role: row.role }])[0] : undefined;
  }

  async countArtifacts(): Promise<number> {
    return this.s.countArtifacts.get()!.n;
  }

  /**
   * Pages are in UTF-8 byte order (= code point order), not re-sorted: `after`
   * is compared in that same order, so resorting a page would make paging skip
   * or repeat paths. See listArtifacts in store.ts for when the orders differ.
   */
  async listArtifacts(opts: { after?: string; limit: number; prefix?: string }): Promise<ArtifactRecord[]> {
    const limit = checkLimit(opts.limit);
    const s = this.s;
    if (opts.prefix) {
      // A range, not LIKE: LIKE is ASCII case-insensitive in SQLite and would
      // need escaping of % and _; a range is exact and uses the index.
      const after = opts.after ?? "";
      const to = prefixUpperBound(opts.prefix);
      return this.withFragments(
        to === undefined
          ? s.pagePrefixOpen.all(after, opts.prefix, limit)
          : s.pagePrefix.all(after, opts.prefix, to, limit),
      );
    }
    return this.withFragments(opts.after !== undefined ? s.pageAfter.all(opts.after, limit) : s.pageAll.all(limit));
  }

  // ---- queue and tasks ----

  async accept(
    task: { id: string; name: string; state: TaskState; result?: TaskResult | null },
    changes: NewChange[],
    held: boolean,
    audit?: AuditEntry,
  ): Promise<void> {
    for (const c of changes) checkChange(c);
    const s = this.s;
    const now = new Date().toISOString();
    const row = audit && auditRow(audit, now);
    this.write(() => {
      this.insertTask(task, now);
      const h = held ? 1 : 0;
      // Many rows per INSERT: one statement per change was most of accepting a large request.
      inChunks(
        changes,
        CHANGES_PER_INSERT,
        (chunk) => {
          const args: (string | number | null)[] = [];
          for (const c of chunk) args.push(task.id, c.kind, c.path, c.role, c.fragment, h, now);
          s.insertChanges.run(...args);
        },
        (c) => s.insertChange.run(task.id, c.kind, c.path, c.role, c.fragment, h, now),
      );
      if (row) this.insertAudit(row);
    });
  }

  async pendingChanges(limit: number): Promise<ChangeRecord[]> {
    return this.s.pendingChanges.all(checkLimit(limit)).map((r) => ({ ...r, held: r.held === 1 }));
  }

  async countPendingChanges(): Promise<number> {
    return this.s.countPendingChanges.get()!.n;
  }

  async releaseHeldChanges(): Promise<number> {
    return this.write(() => this.s.releaseHeldChanges.run().changes);
  }

  async createTask(
    task: { id: string; name: string; state: TaskState; result?: TaskResult | null },
    audit?: AuditEntry,
  ): Promise<void> {
    const now = new Date().toISOString();
    const row = audit && auditRow(audit, now);
    this.write(() => {
      this.insertTask(task, now);
      if (row) this.insertAudit(row);
    });
  }

  async updateTasks(updates: TaskUpdate[]): Promise<void> {
    this.write(() => this.applyTaskUpdates(updates, new Date().toISOString()));
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const row = this.s.getTask.get(id);
    return row ? taskFromRow(row) : undefined;
  }

  async listUnfinishedTasks(): Promise<TaskRecord[]> {
    return this.s.listUnfinishedTasks.all().map(taskFromRow);
  }

  async pruneTasks(before: string): Promise<number> {
    // Stored timestamps are toISOString() (with milliseconds); compare against
    // the same shape or "…:00Z" vs "…:00.500Z" sorts the wrong way.
    const cutoff = normaliseInstant(before, "pruneTasks(before)");
    return this.write(() => this.s.pruneTasks.run(cutoff).changes);
  }

  async listTasks(opts: { limit: number; before?: { createdAt: string; id: string } }): Promise<TaskRecord[]> {
    const limit = checkLimit(opts.limit);
    const rows = opts.before
      ? this.s.listTasksBefore.all(opts.before.createdAt, opts.before.id, limit)
      : this.s.listTasks.all(limit);
    return rows.map(taskFromRow);
  }

  async listRoleVersions(role: string, limit: number): Promise<RoleVersion[]> {
    return this.s.listRoleVersions.all(role, checkLimit(limit));
  }

  async listPublications(limit: number): Promise<PublicationSummary[]> {
    const s = this.s;
    return s.listRoleVersions.all("timestamp", checkLimit(limit)).map((t) => ({
      timestampVersion: t.version,
      publishedAt: t.publishedAt,
      documents: s.publicationCount.get(t.publishedAt)!.n,
      roles: s.publicationRoles.all(t.publishedAt),
    }));
  }

  // ---- publication ----

  async commitPublication(pub: Publication): Promise<void> {
    for (const d of pub.documents) checkDocument(d, pub.expectedHeads);
    const s = this.s;
    const audit = (pub.audit ?? []).map((e) => auditRow(e, new Date().toISOString()));
    this.write(() => {
      const now = new Date().toISOString();
      for (const [role, expected] of Object.entries(pub.expectedHeads)) {
        const head = s.getHead.get(role)?.version ?? 0;
        if (head !== expected) {
          throw new StoreConflictError(
            `role "${role}" is at version ${head}, the publisher expected ${expected}: someone else published in between; rebuild and retry`,
          );
        }
      }
      // Whatever this publication supersedes was last pointed to by the
      // snapshots and timestamps published before it: none expires after the
      // horizon as it stands before this publication's own documents.
      const horizon = s.totals.get()!.horizon;
      let bytes = 0;
      let newest = "";
      for (const d of pub.documents) {
        s.insertDocument.run(d.role, d.version, d.expires, d.sha256, d.bytes.byteLength, d.publishedAt ?? now, d.bytes);
        s.upsertHead.run(d.role, d.version, d.expires);
        if (d.version > 1 && !KEPT_FOREVER_ROLES.includes(d.role)) s.retire.run(d.role, d.version - 1, horizon);
        if (REFERRING_ROLES.includes(d.role) && d.expires > newest) newest = d.expires;
        bytes += d.bytes.byteLength;
      }
      if (pub.documents.length > 0) s.addTotals.run(newest, pub.documents.length, bytes);
      if (bytes >= CHECKPOINT_WORKER_AFTER_BYTES) this.startCheckpointerSoon();
      this.applyArtifacts(pub.artifacts);
      // Ids of one request are consecutive: one range delete per run, not one
      // statement per change (200k changes: ~0.45 s → a few ms). Every id of a
      // run is in the list, so a short count means one was already consumed.
      for (const [from, to] of idRuns(pub.consumedChanges ?? [])) {
        if (s.deleteChangeRange.run(from, to).changes !== to - from + 1) {
          throw new StoreConflictError(
            `queue changes ${from}..${to} are no longer all pending: another publisher consumed one; rebuild and retry`,
          );
        }
      }
      this.applyTaskUpdates(pub.tasks ?? [], now);
      this.putSettings(pub.settings ?? {});
      for (const row of audit) this.insertAudit(row);
    });
  }

  // ---- retention ----

  async pruneDocuments(cutoff: string, limit: number): Promise<{ versions: number; bytes: number }> {
    const until = tufInstant(cutoff, "pruneDocuments(cutoff)");
    const s = this.s;
    return this.write(() => {
      let versions = 0;
      let bytes = 0;
      for (const r of s.prunable.all(until, checkLimit(limit))) {
        const deleted = s.deleteRetiredDocument.get(r.role, r.version);
        s.deleteRetired.run(r.role, r.version);
        if (!deleted) continue;
        versions++;
        bytes += deleted.length;
      }
      if (versions > 0) s.addTotals.run("", -versions, -bytes);
      return { versions, bytes };
    });
  }

  async documentStats(): Promise<{ documents: number; bytes: number }> {
    const t = this.s.totals.get()!;
    return { documents: t.documents, bytes: t.bytes };
  }

  // ---- tokens ----

  async putToken(token: TokenRecord, audit?: AuditEntry): Promise<void> {
    const createdAt = normaliseInstant(token.createdAt, "token.createdAt");
    const expiresAt = token.expiresAt === null ? null : normaliseInstant(token.expiresAt, "token.expiresAt");
    const row = audit && auditRow(audit, new Date().toISOString());
    this.write(() => {
      this.s.putToken.run(
        token.id,
        token.hash,
        token.name,
        JSON.stringify(token.scopes),
        createdAt,
        expiresAt,
        token.createdBy,
      );
      if (row) this.insertAudit(row);
    });
  }

  async findToken(hash: string): Promise<TokenRecord | undefined> {
    const row = this.s.findToken.get(hash);
    return row ? toToken(row) : undefined;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.s.listTokens.all().map(toToken);
  }

  async revokeToken(id: string, audit?: AuditEntry): Promise<boolean> {
    const row = audit && auditRow(audit, new Date().toISOString());
    return this.write(() => {
      if (this.s.revokeToken.run(id).changes !== 1) return false;
      if (row) this.insertAudit(row);
      return true;
    });
  }

  async countTokens(): Promise<number> {
    return this.s.countTokens.get()!.n;
  }

  // ---- audit ----

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const q = checkAuditQuery(query);
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.since !== undefined) {
      where.push("at >= ?");
      params.push(q.since);
    }
    if (q.afterId !== undefined) {
      where.push("id > ?");
      params.push(q.afterId);
    }
    if (q.principal !== undefined) {
      where.push("(principal = ? OR principal_name = ?)");
      params.push(q.principal, q.principal);
    }
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY id ${q.newest ? "DESC" : "ASC"} LIMIT ?`;
    // db.query caches the compiled statement per SQL text (eight shapes at most).
    const rows = this.database.query<AuditDbRow, (string | number)[]>(sql).all(...params, q.limit);
    if (q.newest) rows.reverse();
    return rows.map(toAudit);
  }

  async pruneAudit(before: string): Promise<number> {
    const cutoff = normaliseInstant(before, "pruneAudit(before)");
    return this.write(() => this.s.pruneAudit.run(cutoff).changes);
  }

  async deleteTokens(name: string): Promise<number> {
    return this.write(() => this.s.deleteTokens.run(name).changes);
  }

  // ---- lock ----

  /**
   * In-process only, one queue per name, in call order. Not re-entrant: a
   * nested withLock on the same name waits for itself forever. Two processes
   * on one SQLite file are not serialised by this; commitPublication's head
   * check still refuses the loser's publication.
   */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.locks.set(name, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(name) === tail) this.locks.delete(name);
    }
  }

  // ---- internals ----

  /**
   * The worker (a second JavaScript VM, ~10 MB) starts with the first large
   * publication: a small repository never writes enough WAL for a checkpoint
   * to show in a commit, and an idle quickstart stays small.
   */
  private startCheckpointerSoon(): void {
    const db = this.db;
    if (!this.backgroundCheckpoint || this.checkpointerStarting || !db) return;
    if (this.path === ":memory:" || this.path.startsWith("file:")) return;
    this.checkpointerStarting = this.startCheckpointer(db);
  }

  private async startCheckpointer(db: Database): Promise<void> {
    try {
      const worker = new Worker(workerUrl("store/sqlite/checkpoint-worker.ts"));
      const started = new Promise<boolean>((resolve) => {
        worker.onmessage = (e) => resolve(e.data === "started");
        worker.onerror = () => resolve(false);
      });
      worker.postMessage({ path: this.path, intervalMs: CHECKPOINT_INTERVAL_MS });
      if (!(await started)) {
        worker.terminate();
        return;
      }
      worker.onerror = () => {
        // The worker died: SQLite checkpoints inside commits again.
        this.checkpointer = undefined;
        this.db?.run("PRAGMA wal_autocheckpoint = 1000");
      };
      worker.unref();
      this.checkpointer = worker;
      db.run("PRAGMA wal_autocheckpoint = 0");
    } catch {
      // No worker threads here: keep SQLite's automatic checkpoints.
    }
  }

  private async stopCheckpointer(): Promise<void> {
    await this.checkpointerStarting;
    this.checkpointerStarting = undefined;
    const worker = this.checkpointer;
    if (!worker) return;
    this.checkpointer = undefined;
    const stopped = new Promise<void>((resolve) => {
      worker.onmessage = () => resolve();
      worker.onerror = () => resolve();
      setTimeout(resolve, 2000).unref();
    });
    worker.postMessage("stop");
    await stopped;
    worker.terminate();
  }

  private get database(): Database {
    if (!this.db) throw new Error(`SQLite store ${this.path} is not open (call open() first)`);
    return this.db;
  }

  private insertAudit(r: AuditRow) {
    this.s.insertAudit.run(r.at, r.principal, r.principalName, r.source, r.route, r.taskId, r.action, r.summary);
  }

  private get s(): Statements {
    if (!this.stmts) throw new Error(`SQLite store ${this.path} is not open (call open() first)`);
    return this.stmts;
  }

  /**
   * One write transaction. IMMEDIATE takes the write lock up front, so a
   * second process (a CLI next to the server) waits on busy_timeout instead of
   * failing with SQLITE_BUSY halfway through. Key violations become
   * StoreConflictError; the transaction is already rolled back by then.
   */
  private write<T>(fn: () => T): T {
    const db = this.db;
    if (!db) throw new Error(`SQLite store ${this.path} is not open (call open() first)`);
    try {
      return db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof SQLiteError && /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/.test(err.code ?? "")) {
        throw new StoreConflictError(`${describeConstraint(err.message)} (${err.message})`);
      }
      throw err;
    }
  }

  private insertTask(task: { id: string; name: string; state: TaskState; result?: TaskResult | null }, now: string) {
    this.s.insertTask.run(task.id, task.name, task.state, taskResultText(task.result), now, now);
  }

  /**
   * The artifact rows as a publication leaves them, and each role's count.
   * Removes first: a path in both lists ends up published, which is the only
   * reading that loses nothing. Upserts in path order, the table's own order
   * (consecutive rows land in the same leaf page); the last upsert of a path
   * wins, as if applied one by one. A path already listed by the same role is
   * not written at all: its new fragment is in the role's new document.
   */
  private applyArtifacts(artifacts: Publication["artifacts"]): void {
    if (!artifacts) return;
    const s = this.s;
    const counts = new Map<string, number>();
    const count = (role: string, n: number) => counts.set(role, (counts.get(role) ?? 0) + n);
    for (const path of artifacts.remove) {
      const gone = s.deleteArtifact.get(path);
      if (gone) count(gone.role, -1);
    }
    const last = new Map<string, string>();
    for (const a of artifacts.upsert) last.set(a.path, a.role);
    // The default sort compares UTF-16 code units.
    const paths = [...last.keys()].sort();
    /** a path already indexed: moved when another role lists it now */
    const existing = (path: string, role: string) => {
      const was = s.getArtifactRole.get(path)!.role;
      if (was === role) return;
      s.moveArtifact.run(role, path);
      count(was, -1);
      count(role, 1);
    };
    // Many rows per INSERT: 200k new paths were 200k statements.
    inChunks(
      paths,
      ARTIFACTS_PER_INSERT,
      (chunk) => {
        const roles = chunk.map((path) => last.get(path)!);
        const args: string[] = [];
        for (let j = 0; j < chunk.length; j++) args.push(chunk[j]!, roles[j]!);
        const inserted = s.insertArtifacts.all(...args);
        if (inserted.length === chunk.length) {
          // All new (the usual case): counted without looking the returned paths up.
          for (const role of roles) count(role, 1);
          return;
        }
        const added = new Set(inserted.map((r) => r.path));
        for (const [j, path] of chunk.entries()) {
          if (added.has(path)) count(roles[j]!, 1);
          else existing(path, roles[j]!);
        }
      },
      (path) => {
        const role = last.get(path)!;
        if (s.insertArtifact.run(path, role).changes === 1) count(role, 1);
        else existing(path, role);
      },
    );
    for (const [role, n] of counts) {
      if (n === 0) continue;
      s.addRoleArtifacts.run(role, n);
      if (n < 0) s.dropEmptyRole.run(role);
    }
  }

  private applyTaskUpdates(updates: TaskUpdate[], now: string) {
    // An update for a task that was pruned meanwhile is dropped, not an error:
    // the outcome it reports is no longer asked for.
    for (const u of updates) this.s.updateTask.run(u.state, taskResultText(u.result), now, u.id);
  }

  private putSettings(entries: Record<string, unknown>) {
    for (const [key, value] of Object.entries(entries)) {
      if (value === undefined) this.s.deleteSetting.run(key);
      else this.s.putSetting.run(key, JSON.stringify(value));
    }
  }
}

/** What a role's head document lists, in path (code unit) order. */
function entriesOf(row: { role: string; bytes: Uint8Array }): ArtifactRecord[] {
  const { role } = row;
  return sortByCodeUnits(targetsEntriesOf(row.bytes).map(([path, fragment]) => ({ path, role, fragment })));
}

/** SQLite names the table in its message: "UNIQUE constraint failed: documents.role, …". */
function describeConstraint(message: string): string {
  return duplicateKeyMessage(/failed: (\w+)\./.exec(message)?.[1]);
}

function toToken(row: TokenRow): TokenRecord {
  return { ...row, scopes: JSON.parse(row.scopes) as string[] };
}

function toAudit(row: AuditDbRow): AuditRecord {
  return { ...row, summary: JSON.parse(row.summary) as Record<string, unknown> };
}

/**
 * `rows` handed to `many` in whole chunks of `size` (a statement with that
 * many rows), and what is left over to `one`, row by row, in order.
 */
function inChunks<T>(rows: readonly T[], size: number, many: (chunk: T[]) => void, one: (row: T) => void): void {
  const whole = rows.length - (rows.length % size);
  for (let i = 0; i < whole; i += size) many(rows.slice(i, i + size));
  for (let i = whole; i < rows.length; i++) one(rows[i]!);
}

/** Distinct ids as runs of consecutive integers [from, to], ascending. */
export function idRuns(ids: readonly number[]): [number, number][] {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const id of sorted) {
    const last = runs.at(-1);
    if (last && id === last[1] + 1) last[1] = id;
    else runs.push([id, id]);
  }
  return runs;
}
