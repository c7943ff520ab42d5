/**
 * The store part of a backup (backup.ts), one read snapshot of every table:
 * SQLite through `VACUUM INTO` in a worker thread (snapshot-worker.ts,
 * sqlite-snapshot.ts); PostgreSQL as a logical export inside one REPEATABLE
 * READ transaction, so no `pg_dump` of the matching major version is needed.
 */
import { SQL } from "bun";
import { join } from "node:path";
import { sqliteSnapshot, type StoreSnapshot } from "./sqlite-snapshot.ts";
import { workerUrl } from "../workers.ts";

/**
 * SQLite: `VACUUM INTO` runs in a worker thread (snapshot-worker.ts) with its
 * own connection, so a server streaming a backup keeps answering while SQLite
 * copies a large database; inline where worker threads are unavailable.
 */
export async function sqliteSnapshotOffThread(path: string, into: string): Promise<StoreSnapshot> {
  let worker: Worker;
  try {
    worker = new Worker(workerUrl("ops/snapshot-worker.ts"));
  } catch {
    return sqliteSnapshot(path, into);
  }
  try {
    return await new Promise<StoreSnapshot>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<{ snapshot?: StoreSnapshot; error?: string }>) =>
        e.data.snapshot ? resolve(e.data.snapshot) : reject(new Error(e.data.error ?? "the snapshot worker failed"));
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage({ path, into });
    });
  } finally {
    worker.terminate();
  }
}

/** A JSON-safe value of a PostgreSQL column (bytea as base64, bigint as a number). */
function jsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $base64: Buffer.from(v).toString("base64") };
  if (typeof v === "bigint") return Number(v);
  return v;
}

/**
 * PostgreSQL: every table of the store's schema, dumped inside one REPEATABLE
 * READ, READ ONLY transaction (one snapshot of the whole database, taken at
 * its first query, while the replicas keep writing) through a cursor, into
 * JSONL files in `dir`.
 */
export async function postgresSnapshot(url: string, dir: string): Promise<StoreSnapshot & { files: string[] }> {
  const sql = new SQL(url, { max: 1 });
  const files: string[] = [];
  try {
    return await sql.begin(async (tx) => {
      await tx.unsafe("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      const names = (await tx.unsafe(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
      )) as { table_name: string }[];
      const tables: Record<string, number> = {};
      for (const { table_name: name } of names) {
        const numeric = new Set(
          (
            (await tx.unsafe(
              "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND data_type IN ('bigint', 'integer', 'smallint')",
              [name],
            )) as { column_name: string }[]
          ).map((r) => r.column_name),
        );
        const file = join(dir, `${name}.jsonl`);
        const writer = Bun.file(file).writer();
        let rows = 0;
        await tx.unsafe(`DECLARE backup_rows NO SCROLL CURSOR FOR SELECT * FROM "${name.replaceAll('"', '""')}"`);
        for (;;) {
          const batch = (await tx.unsafe("FETCH 5000 FROM backup_rows")) as Record<string, unknown>[];
          for (const row of batch) {
            const out: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(row))
              out[k] = numeric.has(k) && typeof v === "string" ? Number(v) : jsonValue(v);
            writer.write(`${JSON.stringify(out)}\n`);
          }
          rows += batch.length;
          if (batch.length < 5000) break;
        }
        await tx.unsafe("CLOSE backup_rows");
        await writer.end();
        files.push(file);
        tables[name] = rows;
      }
      const [mig] = (await tx.unsafe("SELECT max(version) AS v FROM schema_migrations")) as { v: unknown }[];
      const versions: Record<string, number> = {};
      for (const r of (await tx.unsafe(
        "SELECT role, max(version) AS v FROM documents WHERE role IN ('root', 'timestamp', 'snapshot', 'targets') GROUP BY role",
      )) as { role: string; v: unknown }[])
        versions[r.role] = Number(r.v);
      const contents = tables.contents
        ? (
            (await tx.unsafe("SELECT sha256, sha512, length FROM contents WHERE NOT deleting ORDER BY sha256")) as {
              sha256: string;
              sha512: string | null;
              length: unknown;
            }[]
          ).map((r) => ({ sha256: r.sha256, sha512: r.sha512, length: Number(r.length) }))
        : [];
      return { kind: "postgres" as const, schemaVersion: Number(mig?.v ?? 0), tables, versions, contents, files };
    });
  } finally {
    await sql.close({ timeout: 5 });
  }
}
