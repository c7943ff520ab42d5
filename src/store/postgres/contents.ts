/** ContentIndex on PostgreSQL (store/contents.ts): the `contents` table of migration 2. */
import type { SQL } from "bun";
import {
  checkNewContent,
  type ContentIndex,
  type ContentRecord,
  type NewContent,
  type QueuedFragment,
} from "../contents.ts";

type Row = Omit<ContentRecord, "length"> & { length: string | number };

export class PostgresContentIndex implements ContentIndex {
  readonly #sql: () => SQL;

  /** `sql` returns the store's open pool (it throws the store's "not open" error otherwise). */
  constructor(sql: () => SQL) {
    this.#sql = sql;
  }

  async put(c: NewContent): Promise<boolean> {
    checkNewContent(c);
    const rows = await this.#sql()`
      INSERT INTO contents (sha256, sha512, length, stored_at)
      VALUES (${c.sha256}, ${c.sha512}, ${c.length}, ${new Date().toISOString()})
      ON CONFLICT (sha256) DO UPDATE SET unreferenced_since = NULL,
        sha512 = coalesce(contents.sha512, excluded.sha512)
      WHERE NOT contents.deleting
      RETURNING sha256`;
    return rows.length > 0;
  }

  async putAll(contents: NewContent[]): Promise<boolean[]> {
    for (const c of contents) checkNewContent(c);
    const now = new Date().toISOString();
    const out: boolean[] = [];
    await this.#sql().begin(async (tx) => {
      for (const c of contents) {
        const rows = await tx`
          INSERT INTO contents (sha256, sha512, length, stored_at)
          VALUES (${c.sha256}, ${c.sha512}, ${c.length}, ${now})
          ON CONFLICT (sha256) DO UPDATE SET unreferenced_since = NULL,
            sha512 = coalesce(contents.sha512, excluded.sha512)
          WHERE NOT contents.deleting
          RETURNING sha256`;
        out.push(rows.length > 0);
      }
    });
    return out;
  }

  async get(sha256: string): Promise<ContentRecord | undefined> {
    const [row] =
      (await this.#sql()`SELECT sha256, sha512, length, stored_at AS "storedAt", unreferenced_since AS "unreferencedSince", deleting FROM contents WHERE sha256 = ${sha256}`) as Row[];
    return row ? toRecord(row) : undefined;
  }

  async getBySha512(sha512: string): Promise<ContentRecord | undefined> {
    const [row] =
      (await this.#sql()`SELECT sha256, sha512, length, stored_at AS "storedAt", unreferenced_since AS "unreferencedSince", deleting FROM contents WHERE sha512 = ${sha512}`) as Row[];
    return row ? toRecord(row) : undefined;
  }

  async list(opts: { after?: string; limit: number }): Promise<ContentRecord[]> {
    const rows = (await this.#sql()`
      SELECT sha256, sha512, length, stored_at AS "storedAt", unreferenced_since AS "unreferencedSince", deleting FROM contents WHERE sha256 > ${opts.after ?? ""}
      ORDER BY sha256 LIMIT ${opts.limit}`) as Row[];
    return rows.map(toRecord);
  }

  async markUnreferenced(sha256s: string[], since: string | null): Promise<void> {
    if (sha256s.length === 0) return;
    const sql = this.#sql();
    if (since === null)
      await sql`UPDATE contents SET unreferenced_since = NULL
                WHERE sha256 IN ${sql(sha256s)} AND unreferenced_since IS NOT NULL`;
    else
      await sql`UPDATE contents SET unreferenced_since = ${since}
                WHERE sha256 IN ${sql(sha256s)} AND unreferenced_since IS NULL`;
  }

  async beginDeletion(sha256: string, before: string): Promise<boolean> {
    const rows = await this.#sql()`
      UPDATE contents SET deleting = true
      WHERE sha256 = ${sha256} AND NOT deleting AND unreferenced_since IS NOT NULL AND unreferenced_since <= ${before}
      RETURNING sha256`;
    return rows.length > 0;
  }

  async finishDeletion(sha256: string): Promise<void> {
    await this.#sql()`DELETE FROM contents WHERE sha256 = ${sha256} AND deleting`;
  }

  async queuedFragments(opts: { afterId: number; limit: number }): Promise<QueuedFragment[]> {
    const rows = (await this.#sql()`
      SELECT id, fragment FROM changes WHERE kind = 'add' AND id > ${opts.afterId} AND fragment IS NOT NULL
      ORDER BY id LIMIT ${opts.limit}`) as { id: string | number; fragment: string }[];
    return rows.map((r) => ({ id: Number(r.id), fragment: r.fragment }));
  }
}

function toRecord(row: Row): ContentRecord {
  return { ...row, length: Number(row.length) };
}
