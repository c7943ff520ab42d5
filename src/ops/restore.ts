/**
 * `tufbox restore`: a backup (backup.ts) becomes a new data directory that
 * `tufbox serve` starts on and that continues where the backup left off:
 * the store holds every published document and each role's head, so the next
 * publication is version N+1 of each role it touches (no version is written
 * twice: the store's (role, version) key and the publisher's checks hold as
 * before); queued changes and unfinished tasks resume; tokens, settings and
 * signing sessions are as they were.
 *
 * Everything is checked before anything is kept: backup.json must be there
 * (the last entry: a cut-off backup has none), every entry it lists must
 * have its sha256, every content object the sha256 it is named by; the
 * store is written under a temporary name, checked by SQLite, migrated to
 * this binary's schema, and only then renamed into place.
 *
 * A PostgreSQL backup (store/<table>.jsonl) restores into a SQLite data
 * directory the same way: rows go into a freshly migrated store, table by
 * table, in one transaction.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { chmod, mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { indexTar, type TarEntry } from "../mirror/tar.ts";
import { SqliteStore } from "../store/sqlite/store.ts";
import { BACKUP_FORMAT, BackupError, type BackupManifest } from "./backup.ts";

export interface RestoreOptions {
  /** the backup file */
  file: string;
  /** the SQLite store file to create (config.database of the new data directory) */
  databasePath: string;
  /** storage.local_dir of the new data directory (content objects go to objects/sha256/) */
  contentDir: string;
  targetsDir: string;
  progress?: (p: { phase: "verify" | "store" | "content" | "targets"; done: number; total: number }) => void;
}

export interface RestoreSummary {
  backup_created_at: string;
  store: { from: "sqlite" | "postgres"; schema_version: number; tables: Record<string, number> };
  versions: Record<string, number>;
  content: { objects: number; bytes: number; storage: "local" | "s3"; bytes_included: boolean };
  targets: { files: number };
}

const CONTENT = /^content\/sha256\/([0-9a-f]{64})$/;

async function entryBytes(file: string, e: TarEntry): Promise<Uint8Array> {
  return new Uint8Array(
    await Bun.file(file)
      .slice(e.offset, e.offset + e.size)
      .arrayBuffer(),
  );
}

async function entrySha256(file: string, e: TarEntry): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(file)
    .slice(e.offset, e.offset + e.size)
    .stream())
    h.update(chunk);
  return h.digest("hex");
}

/** Writes an entry to `dest` (mode `mode`), fsync'd: a restored file is complete or absent. */
async function extract(file: string, e: TarEntry, dest: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  const tmp = `${dest}.restore-tmp`;
  const fd = await open(tmp, "w", mode);
  try {
    let position = 0;
    for await (const chunk of Bun.file(file)
      .slice(e.offset, e.offset + e.size)
      .stream()) {
      let at = 0;
      while (at < chunk.byteLength) {
        const { bytesWritten } = await fd.write(chunk, at, chunk.byteLength - at, position);
        at += bytesWritten;
        position += bytesWritten;
      }
    }
    await fd.sync();
  } finally {
    await fd.close();
  }
  await rename(tmp, dest);
}

async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

/** A value from a PostgreSQL JSONL row, as SQLite stores it. */
function sqliteValue(v: unknown): unknown {
  if (v && typeof v === "object" && "$base64" in v) return Buffer.from((v as { $base64: string }).$base64, "base64");
  if (typeof v === "boolean") return v ? 1 : 0;
  return v;
}

/** Rows of store/<table>.jsonl into a migrated SQLite store, the columns both know, in one transaction. */
async function loadLogical(
  file: string,
  tables: [string, TarEntry][],
  dbPath: string,
  progress: (done: number) => void,
): Promise<void> {
  const store = new SqliteStore(dbPath);
  await store.open();
  await store.close();
  const db = new Database(dbPath);
  try {
    db.run("PRAGMA foreign_keys = OFF");
    const known = new Set(
      (db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name),
    );
    let done = 0;
    db.run("BEGIN IMMEDIATE");
    for (const [name, entry] of tables) {
      if (name === "schema_migrations") continue;
      if (!known.has(name))
        throw new BackupError(
          `the backup has a table ${name} this tufbox does not know`,
          "restore with the tufbox version that took the backup, or a newer one",
        );
      const columns = new Set(
        (db.query(`SELECT name FROM pragma_table_info(?)`).all(name) as { name: string }[]).map((r) => r.name),
      );
      db.run(`DELETE FROM "${name}"`);
      const text = new TextDecoder().decode(await entryBytes(file, entry));
      let insert: ReturnType<Database["query"]> | undefined;
      let cols: string[] = [];
      for (const line of text.split("\n")) {
        if (line === "") continue;
        const row = JSON.parse(line) as Record<string, unknown>;
        if (!insert) {
          cols = Object.keys(row).filter((c) => columns.has(c));
          insert = db.query(
            `INSERT INTO "${name}" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
          );
        }
        insert.run(...(cols.map((c) => sqliteValue(row[c])) as never[]));
      }
      progress(++done);
    }
    // Derived from the artifact rows (PostgreSQL has no such table): counted again.
    db.run("DELETE FROM artifact_roles");
    db.run("INSERT INTO artifact_roles (role, artifacts) SELECT role, count(*) FROM artifacts GROUP BY role");
    db.run("COMMIT");
  } catch (err) {
    if (db.inTransaction) db.run("ROLLBACK");
    throw err;
  } finally {
    db.close();
  }
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreSummary> {
  const { file } = opts;
  const progress = opts.progress ?? (() => {});
  if (existsSync(opts.databasePath))
    throw new BackupError(
      `${opts.databasePath} already exists: restore never writes over a repository`,
      "give --data-dir a new (or empty) directory",
    );
  let entries: Map<string, TarEntry>;
  try {
    entries = await indexTar(file);
  } catch (err) {
    throw new BackupError(
      `${file} is not a readable backup: ${(err as Error).message}`,
      "give a file tufbox backup wrote",
    );
  }
  const manifestEntry = entries.get("backup.json");
  if (!manifestEntry)
    throw new BackupError(
      `${file} has no backup.json: it is not a tufbox backup, or it was cut off before the end`,
      "take the backup again; nothing was restored",
    );
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await entryBytes(file, manifestEntry)));
  } catch {
    throw new BackupError(`${file}: backup.json is not JSON`, "take the backup again");
  }
  if (manifest.format !== BACKUP_FORMAT)
    throw new BackupError(
      `${file} is a ${JSON.stringify(manifest.format)} backup; this tufbox reads ${BACKUP_FORMAT}`,
      "restore with the tufbox version that took it",
    );

  // Verify every entry before anything is written.
  const listed = Object.entries(manifest.entries);
  const content = [...entries].filter(([name]) => CONTENT.test(name));
  const total = listed.length + content.length;
  let checked = 0;
  for (const [name, want] of listed) {
    const e = entries.get(name);
    if (!e) throw new BackupError(`${file} lacks ${name}, which backup.json lists`, "take the backup again");
    if (e.size !== want.size || (await entrySha256(file, e)) !== want.sha256)
      throw new BackupError(
        `${file}: ${name} is damaged (its sha256 differs from backup.json)`,
        "take the backup again",
      );
    progress({ phase: "verify", done: ++checked, total });
  }
  await pool(content, 4, async ([name, e]) => {
    if ((await entrySha256(file, e)) !== CONTENT.exec(name)![1])
      throw new BackupError(`${file}: ${name} is damaged (its bytes do not have that sha256)`, "take the backup again");
    progress({ phase: "verify", done: ++checked, total });
  });

  // The store, under a temporary name until it is complete and migrated.
  mkdirSync(dirname(opts.databasePath), { recursive: true, mode: 0o700 });
  const tmpDb = `${opts.databasePath}.restore-tmp`;
  for (const suffix of ["", "-wal", "-shm"]) await rm(`${tmpDb}${suffix}`, { force: true });
  try {
    const sqliteEntry = entries.get("store.sqlite");
    if (sqliteEntry && manifest.store.kind === "sqlite") {
      await extract(file, sqliteEntry, tmpDb);
      const db = new Database(tmpDb);
      try {
        const ok = db.query("PRAGMA integrity_check").get() as { integrity_check: string };
        if (ok.integrity_check !== "ok")
          throw new BackupError(`the store in ${file} fails SQLite's integrity check`, "take the backup again");
      } finally {
        db.close();
      }
      // Bring it to this binary's schema (refused when the backup is from a newer one).
      const store = new SqliteStore(tmpDb);
      await store.open();
      await store.close();
    } else {
      const tables = [...entries]
        .filter(([name]) => /^store\/[^/]+\.jsonl$/.test(name))
        .map(([name, e]) => [name.slice("store/".length, -".jsonl".length), e] as [string, TarEntry]);
      if (tables.length === 0) throw new BackupError(`${file} holds no store`, "take the backup again");
      await loadLogical(file, tables, tmpDb, (done) => progress({ phase: "store", done, total: tables.length }));
    }
    const db = new Database(tmpDb);
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    await chmod(tmpDb, 0o600);
    await rename(tmpDb, opts.databasePath);
    for (const suffix of ["-wal", "-shm"]) await rm(`${tmpDb}${suffix}`, { force: true });
  } catch (err) {
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${tmpDb}${suffix}`, { force: true });
    if (err instanceof BackupError) throw err;
    throw new BackupError(
      `cannot restore the store: ${(err as Error).message}`,
      "check the backup and the free space of --data-dir",
    );
  }

  // Content objects, in the local storage layout (storage/local.ts).
  let done = 0;
  let bytes = 0;
  await pool(content, 8, async ([name, e]) => {
    const sha256 = CONTENT.exec(name)![1]!;
    await extract(file, e, join(opts.contentDir, "objects", "sha256", sha256.slice(0, 2), sha256), 0o600);
    bytes += e.size;
    progress({ phase: "content", done: ++done, total: content.length });
  });

  const targets = [...entries].filter(([name]) => name.startsWith("targets/"));
  let t = 0;
  for (const [name, e] of targets) {
    const rel = name.slice("targets/".length);
    if (rel.split("/").some((s) => s === "" || s === "." || s === ".."))
      throw new BackupError(`${file}: entry ${name} is not a plain path`, "take the backup again");
    await extract(file, e, join(opts.targetsDir, ...rel.split("/")), 0o644);
    progress({ phase: "targets", done: ++t, total: targets.length });
  }

  return {
    backup_created_at: manifest.created_at,
    store: { from: manifest.store.kind, schema_version: manifest.store.schema_version, tables: manifest.store.tables },
    versions: manifest.versions,
    content: {
      objects: manifest.content.objects,
      bytes: manifest.content.bytes_included ? bytes : manifest.content.bytes,
      storage: manifest.content.storage,
      bytes_included: manifest.content.bytes_included,
    },
    targets: { files: targets.length },
  };
}
