/**
 * The store: everything tufbox must not lose. One interface, implemented by
 * SQLite (default, embedded) and later PostgreSQL (scale-out). Every method is
 * async so both backends share one contract and one contract test suite.
 *
 * Invariants every backend enforces itself (not the caller):
 * - (role, version) is unique in `documents`; a version is never rewritten.
 * - `commitPublication` is all-or-nothing and checks that no role's head moved
 *   since the publisher read it (optimistic check: nobody published in between).
 * - `accept` is durable when it resolves: a 202 is only sent after it.
 */
import type { ContentIndex } from "./contents.ts";

/** RSTUF task states (RSTUF-API.md). ERRORED = finished with result.status false. */
export type TaskState = "PENDING" | "RECEIVED" | "STARTED" | "RUNNING" | "SUCCESS" | "FAILURE" | "ERRORED" | "REVOKED";

export interface TaskResult {
  task: string;
  status: boolean;
  last_update: string;
  message?: string;
  error?: string;
  details?: Record<string, unknown> | null;
}

export interface TaskRecord {
  id: string;
  name: string;
  state: TaskState;
  result: TaskResult | null;
  createdAt: string; // ISO
  updatedAt: string; // ISO
}

/** One published metadata file: the exact bytes clients download. */
export interface DocumentRecord {
  role: string;
  version: number;
  /** exact serialized bytes of the signed metadata file */
  bytes: Uint8Array;
  /** `signed.expires`, ISO `YYYY-MM-DDTHH:MM:SSZ` */
  expires: string;
  /** hex sha256 of bytes */
  sha256: string;
  publishedAt?: string;
}

export interface RoleHead {
  role: string;
  version: number;
  expires: string;
}

/** A published artifact as it stands in its targets role. */
export interface ArtifactRecord {
  path: string;
  /** the targets role (bin or delegated role) that lists it */
  role: string;
  /** canonical JSON of the TUF target file info ({length, hashes, custom?}) */
  fragment: string;
}

/**
 * add/remove: an artifact change. bump: a forced new version of `role` (and
 * what is downstream of it); with role "" it is a pure marker that completes
 * its task once everything queued before it is published (publish_artifacts).
 */
export type ChangeKind = "add" | "remove" | "bump";

/** One accepted, not yet published change (the durable queue). */
export interface ChangeRecord {
  id: number; // monotonic, assigned by the store
  taskId: string;
  kind: ChangeKind;
  path: string;
  role: string;
  /** canonical target info for "add", null for "remove" and "bump" */
  fragment: string | null;
  /** held = accepted with publish_artifacts: false, waiting for a publish request */
  held: boolean;
}

export interface NewChange {
  kind: ChangeKind;
  path: string;
  role: string;
  fragment: string | null;
}

export interface TaskUpdate {
  id: string;
  state: TaskState;
  result: TaskResult | null;
}

/**
 * What the publisher commits in one transaction. Documents are written in the
 * given order (targets roles, then snapshot, then timestamp).
 */
export interface Publication {
  /** head version each touched role must still have (0 = role has no document yet) */
  expectedHeads: Record<string, number>;
  documents: DocumentRecord[];
  artifacts?: { upsert: ArtifactRecord[]; remove: string[] };
  /** ids of queue changes this publication consumed (deleted from the queue) */
  consumedChanges?: number[];
  tasks?: TaskUpdate[];
  settings?: Record<string, unknown>;
  /** audit entries for changes nobody asked for over the API (scheduler re-signing) */
  audit?: AuditEntry[];
}

export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreConflictError";
  }
}

export interface TokenRecord {
  /** public identifier (listing, revocation); not a secret */
  id: string;
  /** hex sha256 of the token; the token itself is never stored */
  hash: string;
  name: string;
  scopes: string[];
  createdAt: string;
  /** ISO instant after which the token is refused; null = never */
  expiresAt: string | null;
  /** the principal that created it (audit id), null for the first-start admin token */
  createdBy: string | null;
}

/**
 * Who made a change and from where, as the audit log records it. Written in
 * the same transaction as the change itself, so the log can neither miss an
 * accepted change nor record one that was rolled back. Never holds a secret:
 * no token, no signature, no key material — counts, role names and ids.
 */
export interface AuditActor {
  /** stable id: "token:<id>", "admin", "oauth:<sub>", "jwt:<sub>", "scheduler", "drop-dir", "internal", "anonymous" */
  principal: string;
  /** human-readable name (token name, client id, …) */
  principalName: string;
  /** client address, null when the change did not come over HTTP */
  source: string | null;
  /** "POST /api/v1/artifacts", null when not over HTTP */
  route: string | null;
}

/** Changes tufbox makes by itself: the scheduler's re-signing. */
export const SCHEDULER_ACTOR: AuditActor = {
  principal: "scheduler",
  principalName: "scheduler",
  source: null,
  route: null,
};
/** Files a pipeline put into the drop directory (ingest/drop-dir.ts): no token, the directory is the credential. */
export const DROP_DIR_ACTOR: AuditActor = {
  principal: "drop-dir",
  principalName: "drop-dir",
  source: null,
  route: null,
};
/** Changes made in-process without a caller saying who (CLI commands on a local store, tests). */
export const INTERNAL_ACTOR: AuditActor = {
  principal: "internal",
  principalName: "internal",
  source: null,
  route: null,
};

export interface AuditEntry extends AuditActor {
  /** ISO instant; the store fills in the commit time when absent */
  at?: string;
  taskId: string | null;
  /** what was done, in RSTUF task names where one exists ("add_artifacts", "bootstrap", "token_create", …) */
  action: string;
  /** small, secret-free JSON: counts, roles, ids */
  summary: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  /** increasing in insertion order */
  id: number;
  at: string;
}

export interface AuditQuery {
  /** entries at or after this ISO instant */
  since?: string;
  /** entries with a higher id (following the log) */
  afterId?: number;
  /** matches `principal` or `principalName` exactly */
  principal?: string;
  limit: number;
  /** the newest `limit` matches instead of the oldest (still returned oldest first) */
  newest?: boolean;
}

/** One publication (one timestamp version) and what went out with it. */
export interface PublicationSummary {
  timestampVersion: number;
  publishedAt: string;
  /** documents committed with it (targets roles, snapshot, timestamp, root) */
  documents: number;
  /** the first roles (by name) it published other than snapshot and timestamp, at most 20 */
  roles: { role: string; version: number }[];
}

export interface RoleVersion {
  version: number;
  expires: string;
  length: number;
  publishedAt: string;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** artifact bytes tufbox holds (storage/), by sha256 */
  readonly contents: ContentIndex;
  /** create tables / run migrations; idempotent */
  open(): Promise<void>;
  close(): Promise<void>;
  /** cheap reachability check for /readyz */
  ping(): Promise<boolean>;

  // settings (JSON values)
  getSetting<T = unknown>(key: string): Promise<T | undefined>;
  /** upsert every entry in one transaction; a value of `undefined` deletes the key */
  setSettings(entries: Record<string, unknown>): Promise<void>;

  // published documents
  getDocument(role: string, version: number): Promise<DocumentRecord | undefined>;
  /** latest document of a role */
  getLatestDocument(role: string): Promise<DocumentRecord | undefined>;
  /** head (latest version, expiry) of every role that has documents */
  getHeads(): Promise<RoleHead[]>;
  /** byte length of every role's latest document (sizes against client limits, without reading bytes) */
  getHeadLengths(): Promise<{ role: string; length: number }[]>;
  /** every (role, version) published, ordered by role then version, without bytes */
  listDocuments(): Promise<{ role: string; version: number; length: number; publishedAt: string }[]>;

  // artifacts (published state)
  /**
   * every published artifact listed by `role`, sorted by path (code unit
   * order). A publication's documents list exactly what its artifact rows
   * say (the engine builds both from the same entries): SQLite reads the
   * fragments back out of the role's head document and keeps only path →
   * role; PostgreSQL keeps them in its rows.
   */
  listArtifactsInRole(role: string): Promise<ArtifactRecord[]>;
  /**
   * listArtifactsInRole for many roles at once (the publisher reads every bin
   * a batch touches: one round trip per chunk of roles on PostgreSQL, not one
   * per bin). Roles without artifacts map to an empty list.
   */
  listArtifactsInRoles(roles: readonly string[]): Promise<Map<string, ArtifactRecord[]>>;
  getArtifact(path: string): Promise<ArtifactRecord | undefined>;
  countArtifacts(): Promise<number>;
  /**
   * page through artifacts by path (for listings): paths > `after` that start
   * with `prefix` (literally: no wildcards). Sorted by code point (UTF-8 byte,
   * PostgreSQL COLLATE "C") order, and `after` compares in that same order so
   * paging never skips or repeats; this equals code unit order unless paths mix
   * astral characters with U+E000–U+FFFF.
   */
  listArtifacts(opts: { after?: string; limit: number; prefix?: string }): Promise<ArtifactRecord[]>;

  // durable queue + tasks
  /**
   * Durably record a task and its changes in one transaction. When this
   * resolves the request may be answered 202.
   */
  accept(
    task: { id: string; name: string; state: TaskState; result?: TaskResult | null },
    changes: NewChange[],
    held: boolean,
    audit?: AuditEntry,
  ): Promise<void>;
  /** oldest (lowest id) first, not held, at most `limit` */
  pendingChanges(limit: number): Promise<ChangeRecord[]>;
  /** changes not held (what pendingChanges would eventually return) */
  countPendingChanges(): Promise<number>;
  /** release every held change (publish_artifacts); returns how many */
  releaseHeldChanges(): Promise<number>;

  /** with `audit`, the entry is written in the same transaction as the task */
  createTask(
    task: { id: string; name: string; state: TaskState; result?: TaskResult | null },
    audit?: AuditEntry,
  ): Promise<void>;
  /** sets state, result and updatedAt; ids that no longer exist (pruned) are skipped */
  updateTasks(updates: TaskUpdate[]): Promise<void>;
  getTask(id: string): Promise<TaskRecord | undefined>;
  /** tasks not finished (for resuming after restart) */
  listUnfinishedTasks(): Promise<TaskRecord[]>;
  /** delete finished tasks last updated before `before` (ISO); returns count */
  pruneTasks(before: string): Promise<number>;
  /**
   * Newest first by (createdAt, id); `before` is the last row of the previous
   * page (keyset pagination: an index range, never a scan of every task).
   */
  listTasks(opts: { limit: number; before?: { createdAt: string; id: string } }): Promise<TaskRecord[]>;

  /** a role's versions, newest first, without bytes (expiry timeline) */
  listRoleVersions(role: string, limit: number): Promise<RoleVersion[]>;
  /** the newest publications (timestamp versions), newest first */
  listPublications(limit: number): Promise<PublicationSummary[]>;

  /**
   * All-or-nothing; throws StoreConflictError (and writes nothing) when an
   * expected head moved, a (role, version) already exists, or a consumed change
   * is no longer in the queue. Every document's role must have an
   * expectedHeads entry (plain Error otherwise). Artifact removes are applied
   * before upserts. A role's head is its highest version.
   */
  commitPublication(pub: Publication): Promise<void>;

  // retention of superseded document versions (DESIGN.md: clients mid-update must still find them)
  /**
   * Delete superseded document versions that no snapshot or timestamp ever
   * served can still point to: every version a publication superseded is
   * recorded (in the same transaction) with the latest expiry of any
   * snapshot or timestamp published before it; a version is deleted once
   * that instant is before `cutoff` (ISO, already minus the grace period).
   * Root versions and each role's newest version are never deleted. At most
   * `limit` versions per call; returns what it deleted.
   */
  pruneDocuments(cutoff: string, limit: number): Promise<{ versions: number; bytes: number }>;
  /** documents stored and their total bytes (kept as running totals: cheap) */
  documentStats(): Promise<{ documents: number; bytes: number }>;

  // tokens
  /** upsert by hash (an id already used by another hash is a StoreConflictError); audit in the same transaction */
  putToken(token: TokenRecord, audit?: AuditEntry): Promise<void>;
  findToken(hash: string): Promise<TokenRecord | undefined>;
  /** every token, oldest first */
  listTokens(): Promise<TokenRecord[]>;
  /** delete by id; false (and no audit entry) when there is no such token */
  revokeToken(id: string, audit?: AuditEntry): Promise<boolean>;
  countTokens(): Promise<number>;
  /** revoke every token with this name; returns how many */
  deleteTokens(name: string): Promise<number>;

  // audit log
  /** ordered by id (insertion order) */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** delete entries older than `before` (ISO); returns count */
  pruneAudit(before: string): Promise<number>;

  /**
   * Run `fn` while holding a named exclusive lock (one publisher at a time).
   * SQLite: in-process mutex. PostgreSQL: advisory lock held for the duration.
   */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}
