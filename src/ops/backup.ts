/**
 * Online, consistent backups of a tufbox repository, taken while it serves
 * and publishes: one tar file (src/mirror/tar.ts) holding
 *
 *   store.sqlite              the SQLite store, as `VACUUM INTO` wrote it
 *   store/<table>.jsonl       or: every table of the PostgreSQL store, one
 *                             row per line, from one REPEATABLE READ snapshot
 *   content/sha256/<sha256>   the bytes of every stored artifact (local storage)
 *   content.jsonl             every stored artifact: sha256, sha512, length,
 *                             and for S3 its object key (the bytes stay in the bucket)
 *   targets/<path>            files placed in the targets directory
 *   backup.json               LAST: what the backup holds, with the sha256 of
 *                             every entry but the content objects (named by
 *                             their own sha256) — a cut-off backup has none
 *
 * Consistency: the store is copied from one read snapshot (SQLite: `VACUUM
 * INTO` runs in one read transaction; WAL lets the publisher keep writing;
 * PostgreSQL: REPEATABLE READ), so settings, tasks, signing sessions, tokens,
 * audit, documents, heads, queued changes and every other table (the list is
 * read from the database, so tables added by later migrations are included)
 * are from one instant. Content is copied afterwards, for the rows of that
 * snapshot: content is immutable and named by its sha256, so later copies are
 * the same bytes; the GC job deletes only content unreferenced for longer
 * than its grace period, which a snapshot's rows were not when it was taken.
 *
 * Never in a backup: the online private key (online_key_dir, key URIs,
 * TUFBOX_ONLINE_KEY), which the operator keeps separately. The store holds
 * only public keys, token hashes and signed documents.
 */
import { readdirSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import type { TarWriter } from "../mirror/tar.ts";
import type { ContentStorage } from "../storage/storage.ts";
import { VERSION } from "../version.ts";
import type { StoreSnapshot } from "./sqlite-snapshot.ts";
import { postgresSnapshot, sqliteSnapshotOffThread } from "./store-snapshot.ts";

export const BACKUP_FORMAT = "tufbox-backup/1";

export interface BackupEntry {
  sha256: string;
  size: number;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  tufbox_version: string;
  created_at: string;
  store: {
    kind: "sqlite" | "postgres";
    schema_version: number;
    /** rows per table */
    tables: Record<string, number>;
  };
  /** the latest published version of each top-level role in the snapshot */
  versions: Record<string, number>;
  content: {
    storage: "local" | "s3";
    objects: number;
    bytes: number;
    /** whether the bytes are in the backup (local) or only listed (S3) */
    bytes_included: boolean;
    /** listed in the store but not found in the storage when copied */
    missing: string[];
  };
  targets: { files: number; bytes: number };
  /** every entry but content/sha256/* (self-named), with its sha256 */
  entries: Record<string, BackupEntry>;
  online_key_included: false;
}

export interface BackupProgress {
  phase: "store" | "content" | "targets";
  done: number;
  total: number | undefined;
  bytes: number;
}

export interface BackupOptions {
  /** the store URL (config.database) */
  database: string;
  storage: ContentStorage;
  /** S3 object key of a content, for the manifest (S3 storage) */
  keyOf?: (sha256: string) => string;
  targetsDir?: string;
  /** where the store snapshot is written before it goes into the tar (same disk as the store is fine) */
  tmpDir: string;
  progress?: (p: BackupProgress) => void;
  /**
   * Called before the tar ends (finished, or aborted with the error): a caller
   * that records the backup (the API route: a task and its audit entry) has
   * done so by the time the reader sees the end.
   */
  beforeEnd?: (outcome: { manifest: BackupManifest } | { error: unknown }) => Promise<void>;
}

/** Thrown before anything was written, or when the backup cannot be completed. */
export class BackupError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = "BackupError";
    this.hint = hint;
  }
}

/** The SQLite file a store URL names, or undefined for PostgreSQL. */
export function sqlitePathOf(url: string): string | undefined {
  if (/^postgres(ql)?:\/\//i.test(url)) return undefined;
  const m = /^sqlite:(?:\/\/)?(.*)$/i.exec(url);
  return m ? m[1] : url;
}

function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** Hashes what streams through. */
function hashing(body: ReadableStream<Uint8Array>): { stream: ReadableStream<Uint8Array>; digest: () => string } {
  const h = new Bun.CryptoHasher("sha256");
  const stream = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        h.update(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  return { stream, digest: () => h.digest("hex") };
}

function walkFiles(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const full = join(dir, name);
      const st = statSync(full, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) visit(full);
      else if (st.isFile()) out.push(full);
    }
  };
  visit(root);
  return out;
}

/**
 * Writes a whole backup into `tar` and finishes it. On failure the tar is
 * aborted (the caller removes a partial file; a streamed one ends without
 * backup.json, which restore refuses).
 */
export async function writeBackup(tar: TarWriter, opts: BackupOptions): Promise<BackupManifest> {
  const entries: Record<string, BackupEntry> = {};
  const scratch = join(opts.tmpDir, `.tufbox-backup-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  const report = (p: BackupProgress) => opts.progress?.(p);
  const addFile = async (name: string, path: string) => {
    const size = Bun.file(path).size;
    const h = hashing(Bun.file(path).stream());
    await tar.addStream(name, size, h.stream);
    entries[name] = { sha256: h.digest(), size };
  };
  const addBytes = async (name: string, bytes: Uint8Array) => {
    await tar.addBytes(name, bytes);
    entries[name] = { sha256: sha256Hex(bytes), size: bytes.byteLength };
  };
  try {
    const { mkdir } = await import("node:fs/promises");
    await mkdir(scratch, { recursive: true, mode: 0o700 });
    report({ phase: "store", done: 0, total: undefined, bytes: 0 });
    const sqlitePath = sqlitePathOf(opts.database);
    let snap: StoreSnapshot;
    if (sqlitePath !== undefined) {
      const into = join(scratch, "store.sqlite");
      try {
        snap = await sqliteSnapshotOffThread(sqlitePath, into);
      } catch (err) {
        throw new BackupError(
          `cannot snapshot the SQLite store ${sqlitePath}: ${(err as Error).message}`,
          "check the --data-dir / --database and that there is room for a copy of the database",
        );
      }
      await addFile("store.sqlite", into);
      await rm(into, { force: true });
    } else {
      const pg = await postgresSnapshot(opts.database, scratch);
      snap = pg;
      for (const file of pg.files) {
        await addFile(`store/${relative(scratch, file)}`, file);
        await rm(file, { force: true });
      }
    }
    report({ phase: "store", done: 1, total: 1, bytes: 0 });

    // Content of the snapshot's rows: bytes (local), or the list (S3, where the bucket keeps them).
    const local = opts.storage.kind === "local";
    const missing: string[] = [];
    let contentBytes = 0;
    let done = 0;
    const lines: string[] = [];
    for (const row of snap.contents) {
      lines.push(
        JSON.stringify({
          sha256: row.sha256,
          sha512: row.sha512,
          length: row.length,
          ...(opts.keyOf ? { key: opts.keyOf(row.sha256) } : {}),
        }),
      );
      if (local) {
        const body = await opts.storage.read(row.sha256);
        if (!body) missing.push(row.sha256);
        else {
          const h = hashing(body);
          await tar.addStream(`content/sha256/${row.sha256}`, row.length, h.stream);
          if (h.digest() !== row.sha256)
            throw new BackupError(
              `stored content ${row.sha256} does not have that sha256 (damaged on disk)`,
              "restore that artifact from its source; nothing else is affected",
            );
          contentBytes += row.length;
        }
      }
      done++;
      report({ phase: "content", done, total: snap.contents.length, bytes: contentBytes });
    }
    await addBytes("content.jsonl", new TextEncoder().encode(lines.length ? `${lines.join("\n")}\n` : ""));

    let targetFiles = 0;
    let targetBytes = 0;
    if (opts.targetsDir) {
      const files = walkFiles(opts.targetsDir);
      for (const file of files) {
        await addFile(`targets/${relative(opts.targetsDir, file).split("\\").join("/")}`, file);
        targetFiles++;
        targetBytes += Bun.file(file).size;
        report({ phase: "targets", done: targetFiles, total: files.length, bytes: targetBytes });
      }
    }

    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      tufbox_version: VERSION,
      created_at: new Date().toISOString(),
      store: { kind: snap.kind, schema_version: snap.schemaVersion, tables: snap.tables },
      versions: snap.versions,
      content: {
        storage: opts.storage.kind,
        objects: snap.contents.length,
        bytes: local ? contentBytes : snap.contents.reduce((a, c) => a + c.length, 0),
        bytes_included: local,
        missing,
      },
      targets: { files: targetFiles, bytes: targetBytes },
      entries,
      online_key_included: false,
    };
    await tar.addBytes("backup.json", new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
    await opts.beforeEnd?.({ manifest });
    await tar.finish();
    return manifest;
  } catch (err) {
    await opts.beforeEnd?.({ error: err }).catch(() => undefined);
    await tar.abort();
    throw err;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `dirname` of the SQLite file, or `fallback`: where the store snapshot is written. */
export function scratchDirFor(database: string, fallback: string): string {
  const path = sqlitePathOf(database);
  return path && path !== ":memory:" ? dirname(path) : fallback;
}
