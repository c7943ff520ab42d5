/** ContentIndex on SQLite (store/contents.ts): the `contents` table of migration 2. */
import type { Database, Statement } from "bun:sqlite";
import {
  checkNewContent,
  type ContentIndex,
  type ContentRecord,
  type NewContent,
  type QueuedFragment,
} from "../contents.ts";

type Row = Omit<ContentRecord, "deleting"> & { deleting: number };

const COLUMNS = 'sha256, sha512, length, stored_at AS "storedAt", unreferenced_since AS "unreferencedSince", deleting';

function prepare(db: Database) {
  return {
    // Revives a row unless the GC job is deleting it (no row changed then).
    put: db.prepare<never, [string, string | null, number, string]>(
      `INSERT INTO contents (sha256, sha512, length, stored_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (sha256) DO UPDATE SET unreferenced_since = NULL, sha512 = coalesce(contents.sha512, excluded.sha512)
       WHERE contents.deleting = 0`,
    ),
    get: db.prepare<Row, [string]>(`SELECT ${COLUMNS} FROM contents WHERE sha256 = ?`),
    getBySha512: db.prepare<Row, [string]>(`SELECT ${COLUMNS} FROM contents WHERE sha512 = ?`),
    list: db.prepare<Row, [string, number]>(`SELECT ${COLUMNS} FROM contents WHERE sha256 > ? ORDER BY sha256 LIMIT ?`),
    clear: db.prepare<never, [string]>(
      "UPDATE contents SET unreferenced_since = NULL WHERE sha256 = ? AND unreferenced_since IS NOT NULL",
    ),
    mark: db.prepare<never, [string, string]>(
      "UPDATE contents SET unreferenced_since = ? WHERE sha256 = ? AND unreferenced_since IS NULL",
    ),
    begin: db.prepare<never, [string, string]>(
      `UPDATE contents SET deleting = 1
       WHERE sha256 = ? AND deleting = 0 AND unreferenced_since IS NOT NULL AND unreferenced_since <= ?`,
    ),
    finish: db.prepare<never, [string]>("DELETE FROM contents WHERE sha256 = ? AND deleting = 1"),
    queued: db.prepare<QueuedFragment, [number, number]>(
      "SELECT id, fragment FROM changes WHERE kind = 'add' AND id > ? AND fragment IS NOT NULL ORDER BY id LIMIT ?",
    ),
  };
}

export class SqliteContentIndex implements ContentIndex {
  readonly #db: () => Database;
  #stmts: ReturnType<typeof prepare> | undefined;
  #for: Database | undefined;

  /** `db` returns the store's open database (it throws the store's "not open" error otherwise). */
  constructor(db: () => Database) {
    this.#db = db;
  }

  get #s(): ReturnType<typeof prepare> {
    const db = this.#db();
    // Statements belong to one connection: a closed and reopened store gets new ones.
    if (this.#for !== db || !this.#stmts) {
      this.#stmts = prepare(db);
      this.#for = db;
    }
    return this.#stmts;
  }

  close(): void {
    for (const s of Object.values(this.#stmts ?? {})) (s as Statement).finalize();
    this.#stmts = undefined;
    this.#for = undefined;
  }

  async put(c: NewContent): Promise<boolean> {
    checkNewContent(c);
    return this.#s.put.run(c.sha256, c.sha512, c.length, new Date().toISOString()).changes > 0;
  }

  async putAll(contents: NewContent[]): Promise<boolean[]> {
    for (const c of contents) checkNewContent(c);
    const s = this.#s;
    const now = new Date().toISOString();
    return this.#db()
      .transaction(() => contents.map((c) => s.put.run(c.sha256, c.sha512, c.length, now).changes > 0))
      .immediate();
  }

  async get(sha256: string): Promise<ContentRecord | undefined> {
    const row = this.#s.get.get(sha256);
    return row ? toRecord(row) : undefined;
  }

  async getBySha512(sha512: string): Promise<ContentRecord | undefined> {
    const row = this.#s.getBySha512.get(sha512);
    return row ? toRecord(row) : undefined;
  }

  async list(opts: { after?: string; limit: number }): Promise<ContentRecord[]> {
    return this.#s.list.all(opts.after ?? "", opts.limit).map(toRecord);
  }

  async markUnreferenced(sha256s: string[], since: string | null): Promise<void> {
    const s = this.#s;
    this.#db()
      .transaction(() => {
        for (const h of sha256s) {
          if (since === null) s.clear.run(h);
          else s.mark.run(since, h);
        }
      })
      .immediate();
  }

  async beginDeletion(sha256: string, before: string): Promise<boolean> {
    return this.#s.begin.run(sha256, before).changes > 0;
  }

  async finishDeletion(sha256: string): Promise<void> {
    this.#s.finish.run(sha256);
  }

  async queuedFragments(opts: { afterId: number; limit: number }): Promise<QueuedFragment[]> {
    return this.#s.queued.all(opts.afterId, opts.limit);
  }
}

function toRecord(row: Row): ContentRecord {
  return { ...row, deleting: row.deleting === 1 };
}
