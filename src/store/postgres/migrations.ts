import type { SQL } from "bun";
import { newerSchemaError, type Migration } from "../rules.ts";

/** "tufm": the migration lock's space, apart from withLock's ("tufb", locks.ts) and leadership's ("tufl"). */
const MIGRATION_LOCK_SPACE = 0x7475666d;

/**
 * PostgreSQL schema, append-only like the SQLite one (migrations.ts): a
 * released migration is never edited. Every text column that is sorted or
 * compared with < or > is COLLATE "C", so it compares UTF-8 bytes (= code
 * points), the order the contract and SQLite's BINARY use, whatever the
 * database's default collation (a linguistic one would sort "a" before "B").
 * Instants stay ISO text, as in SQLite, so both backends compare them the same way.
 */
export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE settings (
        key   text COLLATE "C" PRIMARY KEY,
        value text NOT NULL -- JSON, as text so it round-trips exactly
      );

      CREATE TABLE documents (
        role         text COLLATE "C" NOT NULL,
        version      bigint NOT NULL CHECK (version >= 1),
        expires      text NOT NULL,
        sha256       text NOT NULL,
        length       integer NOT NULL,
        published_at text NOT NULL,
        bytes        bytea NOT NULL,
        PRIMARY KEY (role, version)
      );
      -- Signed metadata is JSON: lz4 compresses it several times faster than
      -- the default pglz (a 7,500-document publication writes ~90 MB). Skipped
      -- on a server built without lz4.
      DO $$ BEGIN
        EXECUTE 'ALTER TABLE documents ALTER COLUMN bytes SET COMPRESSION lz4';
      EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
      END $$;

      -- One row per role, kept in step by commitPublication. It is also what
      -- commitPublication locks (FOR UPDATE) to re-check expected heads.
      -- version 0 = a row locked for a role's first document; never committed.
      CREATE TABLE heads (
        role    text COLLATE "C" PRIMARY KEY,
        version bigint NOT NULL CHECK (version >= 0),
        expires text NOT NULL
      );

      -- The primary key (role, path) makes a whole bin one index range scan;
      -- path alone is unique too (an artifact is listed by exactly one role)
      -- and is what listings page through.
      CREATE TABLE artifacts (
        role     text COLLATE "C" NOT NULL,
        path     text COLLATE "C" NOT NULL,
        fragment text NOT NULL,
        PRIMARY KEY (role, path)
      );
      CREATE UNIQUE INDEX artifacts_path ON artifacts (path);

      -- bigserial: ids are never reused, so a stale consumedChanges list can
      -- never delete new work. No foreign key to tasks: pruning a finished
      -- task must not take held changes with it.
      CREATE TABLE changes (
        id         bigserial PRIMARY KEY,
        task_id    text NOT NULL,
        kind       text NOT NULL CHECK (kind IN ('add', 'remove', 'bump')),
        path       text NOT NULL,
        role       text NOT NULL,
        fragment   text,
        held       boolean NOT NULL DEFAULT false,
        created_at text NOT NULL
      );
      CREATE INDEX changes_pending ON changes (id) WHERE NOT held;

      CREATE TABLE tasks (
        id         text COLLATE "C" PRIMARY KEY,
        name       text NOT NULL,
        state      text NOT NULL,
        result     text, -- JSON
        created_at text COLLATE "C" NOT NULL,
        updated_at text COLLATE "C" NOT NULL
      );
      CREATE INDEX tasks_state_updated ON tasks (state, updated_at);

      CREATE TABLE tokens (
        hash       text PRIMARY KEY,
        name       text NOT NULL,
        scopes     text NOT NULL, -- JSON array
        created_at text NOT NULL
      );
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
      -- their creator; a token stored before this gets a random id.
      ALTER TABLE tokens ADD COLUMN id text COLLATE "C";
      ALTER TABLE tokens ADD COLUMN expires_at text;
      ALTER TABLE tokens ADD COLUMN created_by text;
      UPDATE tokens SET id = substr(md5(random()::text || hash), 1, 16) WHERE id IS NULL;
      ALTER TABLE tokens ALTER COLUMN id SET NOT NULL;
      CREATE UNIQUE INDEX tokens_id ON tokens (id);

      -- bigserial ids follow nextval() order, not commit order; a follower
      -- therefore re-reads a short window by time (see tufbox audit --follow).
      CREATE TABLE audit (
        id             bigserial PRIMARY KEY,
        at             text COLLATE "C" NOT NULL,
        principal      text NOT NULL,
        principal_name text NOT NULL,
        source         text,
        route          text,
        task_id        text,
        action         text NOT NULL,
        summary        text NOT NULL -- JSON
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
        sha256             text COLLATE "C" PRIMARY KEY,
        sha512             text,
        length             bigint NOT NULL,
        stored_at          text NOT NULL,
        unreferenced_since text COLLATE "C",
        deleting           boolean NOT NULL DEFAULT false
      );
      CREATE INDEX contents_sha512 ON contents (sha512) WHERE sha512 IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: "retention",
    sql: `
      -- See the SQLite migration 3: superseded versions and until when a
      -- served snapshot or timestamp may still point to them; running totals.
      CREATE TABLE retired (
        role             text COLLATE "C" NOT NULL,
        version          bigint NOT NULL,
        referenced_until text COLLATE "C" NOT NULL,
        PRIMARY KEY (role, version)
      );
      CREATE INDEX retired_until ON retired (referenced_until);

      CREATE TABLE document_totals (
        id        integer PRIMARY KEY CHECK (id = 1),
        horizon   text COLLATE "C" NOT NULL,
        documents bigint NOT NULL,
        bytes     bigint NOT NULL
      );
      INSERT INTO document_totals (id, horizon, documents, bytes)
        SELECT 1,
               coalesce((SELECT max(expires COLLATE "C") FROM documents WHERE role IN ('snapshot', 'timestamp')), ''),
               count(*), coalesce(sum(length), 0)
        FROM documents;
      INSERT INTO retired (role, version, referenced_until)
        SELECT d.role, d.version, (SELECT horizon FROM document_totals)
        FROM documents d JOIN heads h ON h.role = d.role
        WHERE d.role <> 'root' AND d.version < h.version;
    `,
  },
];

/** Bring the schema up to date; replicas starting at once take turns (a transaction-scoped advisory lock). */
export async function migrate(sql: SQL): Promise<void> {
  const newest = postgresMigrations[postgresMigrations.length - 1]?.version ?? 0;
  await sql.begin(async (tx) => {
    // Transaction-scoped: released at COMMIT/ROLLBACK, so a replica that dies
    // mid-migration cannot leave it held. Taken before CREATE TABLE IF NOT
    // EXISTS, which itself races (duplicate pg_type rows) when run concurrently.
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_SPACE}, hashtext(coalesce(current_schema(), '')))`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at text NOT NULL
    )`;
    const [row] = await tx`SELECT coalesce(max(version), 0) AS v FROM schema_migrations`;
    const found = Number(row.v);
    if (found > newest) throw newerSchemaError(found, newest);
    for (const m of postgresMigrations) {
      if (m.version <= found) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, name, applied_at)
               VALUES (${m.version}, ${m.name}, ${new Date().toISOString()})`;
    }
  });
}
