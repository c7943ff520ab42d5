/**
 * A consistent copy of a SQLite store while it is in use (backup.ts):
 * `VACUUM INTO` reads the database inside one read transaction (WAL: the
 * writer goes on), and what the copy holds is read back from the copy.
 * No imports beyond bun:sqlite, so snapshot-worker.ts can run it off the
 * main thread.
 */
import { Database } from "bun:sqlite";

export interface ContentRow {
  sha256: string;
  sha512: string | null;
  length: number;
}

export interface StoreSnapshot {
  kind: "sqlite" | "postgres";
  schemaVersion: number;
  tables: Record<string, number>;
  versions: Record<string, number>;
  contents: ContentRow[];
}

const TOP_LEVEL = ["root", "timestamp", "snapshot", "targets"];

/** VACUUM INTO `into`, then read what the copy holds. */
export function sqliteSnapshot(path: string, into: string): StoreSnapshot {
  const db = new Database(path, { readonly: true });
  try {
    db.run("PRAGMA busy_timeout = 30000");
    db.query("VACUUM INTO ?").run(into);
  } finally {
    db.close();
  }
  const copy = new Database(into, { readonly: true });
  try {
    const tables: Record<string, number> = {};
    const names = copy
      .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    for (const { name } of names)
      tables[name] = (copy.query(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
    const schemaVersion =
      (copy.query("SELECT max(version) AS v FROM schema_migrations").get() as { v: number | null }).v ?? 0;
    const versions: Record<string, number> = {};
    for (const role of TOP_LEVEL) {
      const row = copy.query("SELECT max(version) AS v FROM documents WHERE role = ?").get(role) as {
        v: number | null;
      };
      if (row.v !== null) versions[role] = row.v;
    }
    const contents = tables.contents
      ? (copy
          .query("SELECT sha256, sha512, length FROM contents WHERE deleting = 0 ORDER BY sha256")
          .all() as ContentRow[])
      : [];
    return { kind: "sqlite", schemaVersion, tables, versions, contents };
  } finally {
    copy.close();
  }
}
