/**
 * `tufbox backup` and `tufbox restore` (src/ops/backup.ts, restore.ts): an
 * online, consistent backup of a running repository — from its data
 * directory, or over the API from anywhere (`POST /api/v1/backup`, admin) —
 * and a new data directory made from one.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { loadConfig } from "../config.ts";
import { indexTar, TarWriter } from "../mirror/tar.ts";
import { BackupError, sqlitePathOf, writeBackup, type BackupManifest } from "../ops/backup.ts";
import { restoreBackup, type RestoreSummary } from "../ops/restore.ts";
import { createStorage } from "../storage/index.ts";
import { S3Storage } from "../storage/s3.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFlagsHelp } from "./help.ts";
import { flagBool, flagString } from "./flags.ts";
import { ServerError, serverCommand } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { progressFor } from "./progress.ts";
import { formatBytes } from "./format.ts";
import { SERVER_FLAGS, serverOptions } from "./server-options.ts";

export const BACKUP_HELP = `tufbox backup --out FILE (--server URL | --data-dir DIR) [--json]

Takes an online, consistent backup while the service runs and publishes: one
tar file with the store (SQLite: VACUUM INTO; PostgreSQL: every table from one
REPEATABLE READ snapshot) — settings, published documents, artifacts, queued
changes, tasks, signing sessions, tokens (hashed), audit log — plus the bytes
of stored artifacts (local storage; for S3 a list of keys and hashes: the
bucket keeps the bytes) and the targets directory. It ends with backup.json;
a backup without it is incomplete and restore refuses it.

The online private key is NEVER in a backup: keep it (online_key_dir, or
wherever its key URI points) separately; a restored repository needs it to
publish.

  --out FILE        the backup file to write (must not exist; mode 0600)
  --server URL      a running tufbox: POST /api/v1/backup with an admin token
                    (--token or $TUFBOX_TOKEN); no file access needed
  --token TOKEN     the admin token (default $TUFBOX_TOKEN)
  --data-dir DIR    read the data directory directly (--database for PostgreSQL)
  --json            a summary as one JSON document on stdout

${configFlagsHelp({ omit: ["data-dir"] })}`;

export const RESTORE_HELP = `tufbox restore FILE --data-dir DIR [--json]

Makes a new data directory from a backup: verifies every entry first (nothing
is written from a damaged or cut-off backup), then writes the store (SQLite;
a PostgreSQL backup is loaded into a SQLite store), the artifact bytes and the
targets directory. 'tufbox serve --data-dir DIR' then serves the repository
as it was when the backup was taken and continues publishing with the next
versions; give it the online key (not in the backup). Check it first with
'tufbox validate --data-dir DIR --root TRUSTED_ROOT.json'.

  --data-dir DIR    a new or empty directory (never written over)
  --json            a summary as one JSON document on stdout

${configFlagsHelp({ omit: ["data-dir"] })}`;

export const BACKUP_FLAGS = {
  server: SERVER_FLAGS.server,
  token: SERVER_FLAGS.token,
  json: SERVER_FLAGS.json,
  out: { type: "string" },
} as const;
export const RESTORE_FLAGS = { json: { type: "boolean" } } as const;

function rejectExisting(path: string): void {
  if (existsSync(path))
    throw new UsageError(`${path} already exists`, "choose a new --out (backups are never written over)");
}

/** A downloaded backup must end with backup.json, and hold every entry it lists at its size. */
async function checkDownloaded(path: string): Promise<BackupManifest> {
  const entries = await indexTar(path);
  const m = entries.get("backup.json");
  if (!m) throw new Error("the stream ended before backup.json: the server could not complete the backup");
  const manifest = JSON.parse(
    new TextDecoder().decode(
      await Bun.file(path)
        .slice(m.offset, m.offset + m.size)
        .arrayBuffer(),
    ),
  ) as BackupManifest;
  for (const [name, e] of Object.entries(manifest.entries))
    if (entries.get(name)?.size !== e.size) throw new Error(`${name} is missing or cut short`);
  return manifest;
}

function summaryLine(m: BackupManifest, out: string, bytes: number): string {
  const v = m.versions;
  return `wrote ${out} (${formatBytes(bytes)}): ${m.store.kind} store (schema ${m.store.schema_version}, ${Object.keys(m.store.tables).length} tables), root v${v.root ?? "-"}, timestamp v${v.timestamp ?? "-"}, snapshot v${v.snapshot ?? "-"}, targets v${v.targets ?? "-"}; ${m.content.objects} stored artifact(s) (${formatBytes(m.content.bytes)}${m.content.bytes_included ? "" : ", listed only: the S3 bucket keeps the bytes"}), ${m.targets.files} file(s) from the targets directory. The online key is not in it: keep it separately.`;
}

export async function backupCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "backup",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("backup", argv, BACKUP_FLAGS);
      json = flagBool(args.own, "json");
      if (args.own.help) return term.out(BACKUP_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox backup --help'");
      const out = flagString(args.own, "out");
      if (!out) throw new UsageError("--out is required", "e.g. tufbox backup --data-dir /var/lib/tufbox --out b.tar");
      const server = flagString(args.own, "server");
      const dataDirGiven = args.config["data-dir"] !== undefined || args.config.database !== undefined;
      if ((server === undefined) === !dataDirGiven)
        throw new UsageError(
          "give exactly one of --server and --data-dir",
          "e.g. tufbox backup --server http://127.0.0.1:8080 --out backup.tar",
        );
      rejectExisting(out);
      const output = new Output(term, json);
      const progress = progressFor(term);
      const part = `${out}.part-${process.pid}`;
      const started = performance.now();
      let manifest: BackupManifest;
      try {
        if (server !== undefined) {
          const opts = serverOptions(args.own, term, "backup");
          let res: Response;
          try {
            res = await fetch(`${opts.server}/api/v1/backup`, {
              method: "POST",
              headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
            });
          } catch (err) {
            throw new ServerError(
              `cannot reach ${opts.server}: ${(err as Error).message}`,
              "check --server and that the server is running",
            );
          }
          if (res.status !== 200) {
            const text = await res.text();
            throw new ServerError(
              `the server refused the backup: HTTP ${res.status} ${text.slice(0, 300)}`,
              res.status === 401 || res.status === 403
                ? "give an admin token with --token or TUFBOX_TOKEN"
                : "check the server's log",
              { status: res.status },
            );
          }
          const writer = Bun.file(part).writer();
          let bytes = 0;
          try {
            for await (const chunk of res.body!) {
              writer.write(chunk);
              bytes += chunk.byteLength;
              progress.update("receiving the backup", bytes, undefined, bytes);
            }
          } finally {
            await writer.end();
          }
          chmodSync(part, 0o600);
          try {
            manifest = await checkDownloaded(part);
          } catch (err) {
            throw new ServerError(
              `the backup from ${opts.server} is incomplete: ${(err as Error).message}`,
              "run it again; check the server's log",
            );
          }
        } else {
          const config = loadConfig({ flags: args.config });
          const sqlite = sqlitePathOf(config.database);
          if (sqlite !== undefined && !existsSync(sqlite))
            throw new UsageError(
              `${config.data_dir} holds no tufbox repository (no ${sqlite})`,
              "give the --data-dir of tufbox serve",
            );
          const storage = createStorage(config.storage);
          await storage.open();
          try {
            const tar = await TarWriter.create(part, 0o600);
            manifest = await writeBackup(tar, {
              database: config.database,
              storage,
              keyOf: storage instanceof S3Storage ? (sha) => storage.keyOf(sha) : undefined,
              targetsDir: config.targets.dir,
              // Beside --out: the operator chose that disk for the backup, and may not own the data directory.
              tmpDir: dirname(resolve(out)),
              progress: (p) =>
                progress.update(
                  p.phase === "store"
                    ? "snapshotting the store"
                    : p.phase === "content"
                      ? "copying artifact content"
                      : "copying the targets directory",
                  p.done,
                  p.total,
                  p.bytes,
                ),
            });
          } finally {
            await storage.close();
          }
        }
        renameSync(part, out);
      } catch (err) {
        progress.finish();
        rmSync(part, { force: true });
        if (err instanceof BackupError) throw new ServerError(err.message, err.hint);
        throw err;
      }
      progress.finish();
      const size = Bun.file(out).size;
      const seconds = Math.round(performance.now() - started) / 1000;
      if (json) return output.result({ out, bytes: size, seconds, ...manifest, entries: undefined });
      output.say(summaryLine(manifest, out, size));
    },
  );
}

export async function restoreCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "restore",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("restore", argv, RESTORE_FLAGS);
      json = flagBool(args.own, "json");
      if (args.own.help) return term.out(RESTORE_HELP);
      if (args.positionals.length !== 1)
        throw new UsageError("give one backup file", "e.g. tufbox restore backup.tar --data-dir /var/lib/tufbox-new");
      if (args.config["data-dir"] === undefined)
        throw new UsageError("--data-dir is required", "give a new (or empty) directory for the restored repository");
      const file = args.positionals[0]!;
      if (!existsSync(file)) throw new UsageError(`${file} does not exist`, "give a file tufbox backup wrote");
      const config = loadConfig({ flags: args.config });
      const dbPath = sqlitePathOf(config.database);
      if (dbPath === undefined)
        throw new UsageError(
          "restore writes a SQLite data directory; --database names PostgreSQL",
          "restore into --data-dir, then move to PostgreSQL if needed (or restore PostgreSQL with pg_restore, see README)",
        );
      mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
      const output = new Output(term, json);
      const progress = progressFor(term);
      const started = performance.now();
      let summary: RestoreSummary;
      try {
        summary = await restoreBackup({
          file,
          databasePath: dbPath,
          contentDir: config.storage.local_dir,
          targetsDir: config.targets.dir,
          progress: (p) =>
            progress.update(
              p.phase === "verify"
                ? "verifying the backup"
                : p.phase === "store"
                  ? "loading the store"
                  : p.phase === "content"
                    ? "writing artifact content"
                    : "writing the targets directory",
              p.done,
              p.total,
            ),
        });
      } catch (err) {
        progress.finish();
        if (err instanceof BackupError) throw new ServerError(`nothing usable was restored: ${err.message}`, err.hint);
        throw err;
      }
      progress.finish();
      const seconds = Math.round(performance.now() - started) / 1000;
      if (json) return output.result({ data_dir: config.data_dir, seconds, ...summary });
      const v = summary.versions;
      output.say(
        `restored ${file} (taken ${summary.backup_created_at}) into ${config.data_dir}: root v${v.root ?? "-"}, timestamp v${v.timestamp ?? "-"}, snapshot v${v.snapshot ?? "-"}, targets v${v.targets ?? "-"}; ${summary.content.objects} stored artifact(s) (${formatBytes(summary.content.bytes)}), ${summary.targets.files} targets file(s) in ${seconds} s`,
      );
      if (!summary.content.bytes_included)
        output.say("  artifact bytes: the backup lists S3 objects; point storage.s3 at the bucket that holds them");
      output.say(
        `next: tufbox validate --data-dir ${config.data_dir} --root TRUSTED_ROOT.json; then tufbox serve --data-dir ${config.data_dir} with the online key (not in backups)`,
      );
    },
  );
}
