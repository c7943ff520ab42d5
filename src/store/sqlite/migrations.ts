import type { Database } from "bun:sqlite";
import { newerSchemaError, type Migration } from "../rules.ts";

/**
 * SQLite schema, as an append-only list of migrations. A released migration is
 * never edited: a database opened by an older tufbox must reach the same
 * schema as a fresh one by replaying the list.
 */

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL -- JSON
      ) WITHOUT ROWID;

      -- bytes is the last column so that listings without bytes read only the
      -- first page of each row, never the ~12 KB overflow chain.
      CREATE TABLE documents (
        role         TEXT NOT NULL,
        version      INTEGER NOT NULL CHECK (version >= 1),
        expires      TEXT NOT NULL,
        sha256       TEXT NOT NULL,
        length       INTEGER NOT NULL,
        published_at TEXT NOT NULL,
        bytes        BLOB NOT NULL,
        PRIMARY KEY (role, version)
      );

      -- One row per role so that heads stay a plain table scan with 16384+
      -- roles and millions of document rows; kept in step by commitPublication.
      CREATE TABLE heads (
        role    TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        expires TEXT NOT NULL
      ) WITHOUT ROWID;

      -- Clustered by (role, path): the publisher reads whole roles (bins) by
      -- the thousand, and this makes each one a single contiguous range scan.
      -- path alone is still unique (an artifact is listed by exactly one role).
      CREATE TABLE artifacts (
        role     TEXT NOT NULL,
        path     TEXT NOT NULL COLLATE BINARY,
        fragment TEXT NOT NULL,
        PRIMARY KEY (role, path)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX artifacts_path ON artifacts (path);

      -- AUTOINCREMENT: consumed changes are deleted, and an id must never be
      -- handed out twice or a stale consumedChanges list could eat new work.
      -- No foreign key to tasks: pruning a finished task must never take held
      -- changes with it.
      CREATE TABLE changes (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id    TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('add', 'remove', 'bump')),
        path       TEXT NOT NULL,
        role       TEXT NOT NULL,
        fragment   TEXT,
        held       INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
        created_at TEXT NOT NULL
      );
      CREATE INDEX changes_held ON changes (held, id);

      CREATE TABLE tasks (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        state      TEXT NOT NULL,
        result     TEXT, -- JSON
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX tasks_state_updated ON tasks (state, updated_at);

      CREATE TABLE tokens (
        hash       TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        scopes     TEXT NOT NULL, -- JSON array
        created_at TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: "dashboard_listings",
    sql: `
      -- Recent tasks, newest first, paged by (created_at, id).
      CREATE INDEX tasks_created ON tasks (created_at, id);
      -- What one publication (one commit, one published_at) put out.
      CREATE INDEX documents_published ON documents (published_at, role);
      `,
  },
  {
    version: 3,
    name: "scoped tokens and audit log",
    sql: `
      -- Scoped tokens get a public id (listing, revocation), an expiry and
      -- their creator; a token stored before this (the first-start admin
      -- token) gets a random id.
      ALTER TABLE tokens ADD COLUMN id TEXT;
      ALTER TABLE tokens ADD COLUMN expires_at TEXT;
      ALTER TABLE tokens ADD COLUMN created_by TEXT;
      UPDATE tokens SET id = lower(hex(randomblob(8))) WHERE id IS NULL;
      CREATE UNIQUE INDEX tokens_id ON tokens (id);

      -- AUTOINCREMENT: an id is never handed out twice, so a follower that
      -- remembers the last id it saw never skips an entry after pruning.
      CREATE TABLE audit (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        at             TEXT NOT NULL,
        principal      TEXT NOT NULL,
        principal_name TEXT NOT NULL,
        source         TEXT,
        route          TEXT,
        task_id        TEXT,
        action         TEXT NOT NULL,
        summary        TEXT NOT NULL -- JSON
      );
      CREATE INDEX audit_at ON audit (at);
      CREATE INDEX audit_principal ON audit (principal, id);
    `,
  },
  {
    version: 4,
    name: "artifact contents",
    // store/contents.ts: artifact bytes tufbox holds, by sha256, and the GC handshake.
    sql: `
      CREATE TABLE contents (
        sha256             TEXT PRIMARY KEY,
        sha512             TEXT,
        length             INTEGER NOT NULL,
        stored_at          TEXT NOT NULL,
        unreferenced_since TEXT,
        deleting           INTEGER NOT NULL DEFAULT 0 CHECK (deleting IN (0, 1))
      ) WITHOUT ROWID;
      CREATE INDEX contents_sha512 ON contents (sha512) WHERE sha512 IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: "retention",
    sql: `
      -- Superseded document versions, written by the publication that
      -- superseded them, with the latest expiry of any snapshot or timestamp
      -- published before it: until then a client holding such a snapshot may
      -- still ask for the version (retention keeps it that long plus a grace).
      CREATE TABLE retired (
        role             TEXT NOT NULL,
        version          INTEGER NOT NULL,
        referenced_until TEXT NOT NULL,
        PRIMARY KEY (role, version)
      ) WITHOUT ROWID;
      CREATE INDEX retired_until ON retired (referenced_until);

      -- One row: the latest expiry of every snapshot and timestamp ever
      -- published (what a retired version is referenced until), and running
      -- totals of the documents table, so neither needs a scan of it.
      CREATE TABLE document_totals (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        horizon   TEXT NOT NULL,
        documents INTEGER NOT NULL,
        bytes     INTEGER NOT NULL
      );
      INSERT INTO document_totals (id, horizon, documents, bytes)
        SELECT 1,
               coalesce((SELECT max(expires) FROM documents WHERE role IN ('snapshot', 'timestamp')), ''),
               count(*), coalesce(sum(length), 0)
        FROM documents;
      -- Versions superseded before this migration: referenced until the
      -- latest expiry published so far (conservative).
      INSERT INTO retired (role, version, referenced_until)
        SELECT d.role, d.version, (SELECT horizon FROM document_totals)
        FROM documents d JOIN heads h ON h.role = d.role
        WHERE d.role <> 'root' AND d.version < h.version;
    `,
  },
  {
    version: 6,
    name: "artifact index without fragments",
    sql: `
      -- The targets roles' head documents are the record of every entry
      -- (issue 15): the publisher reads a bin's entries back out of its
      -- document (tuf/targets-scan.ts). What stays here is which role lists
      -- each path, for lookups and listings by path. Keeping every fragment a
      -- second time, clustered by role, made a publication of 200k artifacts
      -- into 1M rewrite most of a ~300 MB table: ~2.5 s and ~200 MB of WAL
      -- per publication.
      CREATE TABLE artifact_paths (
        path TEXT PRIMARY KEY COLLATE BINARY,
        role TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO artifact_paths (path, role) SELECT path, role FROM artifacts ORDER BY path;
      DROP TABLE artifacts;
      ALTER TABLE artifact_paths RENAME TO artifacts;

      -- How many paths each role lists here. A role whose artifacts all
      -- moved to other roles (re-binning) keeps its last document: no row
      -- here means it lists none, whatever that document says.
      CREATE TABLE artifact_roles (
        role      TEXT PRIMARY KEY,
        artifacts INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO artifact_roles (role, artifacts) SELECT role, count(*) FROM artifacts GROUP BY role;
    `,
  },
  {
    version: 7,
    name: "queue kind check without a list",
    sql: `
      -- CHECK (kind IN ('add', 'remove', 'bump')) made SQLite build a
      -- temporary table for the list each time an INSERT ran: about half the
      -- cost of queueing a change (200k changes: ~0.6 s of ~1.5 s). The same
      -- rule written with = and OR is checked in place. A CHECK constraint
      -- cannot be altered, so the queue is copied into a new table.
      CREATE TABLE changes_new (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id    TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind = 'add' OR kind = 'remove' OR kind = 'bump'),
        path       TEXT NOT NULL,
        role       TEXT NOT NULL,
        fragment   TEXT,
        held       INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
        created_at TEXT NOT NULL
      );
      INSERT INTO changes_new (id, task_id, kind, path, role, fragment, held, created_at)
        SELECT id, task_id, kind, path, role, fragment, held, created_at FROM changes ORDER BY id;
      -- Ids are never handed out twice (migration 1): the new table continues
      -- from the last id ever given, not from the largest still queued (an
      -- empty queue would start again at 1).
      DELETE FROM sqlite_sequence WHERE name = 'changes_new';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'changes_new', seq FROM sqlite_sequence WHERE name = 'changes';
      DROP TABLE changes;
      ALTER TABLE changes_new RENAME TO changes;
      CREATE INDEX changes_held ON changes (held, id);
    `,
  },
];

/**
 * Bring the schema up to date. Safe to call on every open and from several
 * processes at once: each migration runs in a write transaction (BEGIN
 * IMMEDIATE) that re-checks whether someone else already applied it.
 */
export function migrate(db: Database): void {
  db.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const newest = migrations[migrations.length - 1]?.version ?? 0;
  const current = () =>
    (db.query("SELECT max(version) AS v FROM schema_migrations").get() as { v: number | null }).v ?? 0;
  const found = current();
  if (found > newest) throw newerSchemaError(found, newest);
  for (const m of migrations) {
    if (m.version <= found) continue;
    db.transaction(() => {
      if (current() >= m.version) return;
      db.run(m.sql);
      db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
    }).immediate();
  }
}
