/**
 * POST /api/v1/backup (native, scope admin): an online, consistent backup of
 * this repository streamed as the response (src/ops/backup.ts), so an
 * operator can take one from anywhere `tufbox backup --server` reaches,
 * without file access to the server. The tar starts at once and ends with
 * backup.json; a backup that fails midway ends the stream early, without
 * backup.json, which `tufbox backup` and `tufbox restore` both refuse.
 *
 * It never holds the online private key (not in the store: the key lives in
 * online_key_dir / key URIs); it does hold token hashes, the audit log and
 * the signing sessions, hence admin only and never cached.
 */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { TarWriter } from "../../../mirror/tar.ts";
import { recordFinishedTask } from "../../../repository/audit.ts";
import { scratchDirFor, writeBackup } from "../../../ops/backup.ts";
import { S3Storage } from "../../../storage/s3.ts";
import { errorResponses } from "../responses.ts";
import { type ApiRoute, actorOf, route } from "../route.ts";

export function backupRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "POST",
      path: "/api/v1/backup",
      tag: "operations",
      summary:
        "Stream an online, consistent backup (tar: store snapshot, artifact content, targets; never the online key)",
      responses: {
        200: {
          description: "the backup, as a tar stream ending with backup.json",
          contentType: "application/x-tar",
          schema: Type.String({ format: "binary" }),
        },
        ...errorResponses({ body: false, query: false }),
      },
      async handle({ request }) {
        const log = app.log.child({ component: "backup" });
        const actor = actorOf(app, request);
        const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(undefined, undefined, {
          highWaterMark: 4,
        });
        const writer = writable.getWriter();
        const tar = TarWriter.to({
          write: (bytes) => writer.write(bytes),
          finish: () => writer.close(),
          abort: () => writer.abort(new Error("backup failed")).catch(() => undefined),
        });
        const storage = app.content.storage;
        const started = performance.now();
        log.info("backup started", { principal: actor.principal });
        // Recorded as it ends, before the last bytes go out (a task and its audit entry, one
        // transaction): a backup never lists itself unfinished, and the reader that saw the end
        // finds the record.
        const record = (state: "SUCCESS" | "FAILURE", summary: Record<string, unknown>) =>
          recordFinishedTask(app.store, actor, "backup", {
            ok: state === "SUCCESS",
            message: state === "SUCCESS" ? "Backup sent." : "Backup failed.",
            details: summary,
          }).catch((err) => log.warn("could not record the backup in the audit log", { error: String(err) }));
        writeBackup(tar, {
          database: app.config.database,
          storage,
          keyOf: storage instanceof S3Storage ? (sha) => storage.keyOf(sha) : undefined,
          targetsDir: app.config.targets.dir,
          tmpDir: scratchDirFor(app.config.database, app.config.data_dir),
          beforeEnd: async (outcome) => {
            if ("manifest" in outcome) {
              const m = outcome.manifest;
              const summary = {
                seconds: Math.round(performance.now() - started) / 1000,
                content_objects: m.content.objects,
                versions: m.versions,
                tables: m.store.tables,
              };
              log.info("backup sent", { principal: actor.principal, ...summary });
              await record("SUCCESS", summary);
            } else {
              const error = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
              log.error("backup failed", { principal: actor.principal, error });
              await record("FAILURE", { error });
            }
          },
        }).catch(() => {
          // Logged and recorded in beforeEnd; the reader sees the stream end without backup.json.
        });
        const stamp = new Date().toISOString().replace(/[:.]/g, "-");
        return new Response(readable, {
          headers: {
            "content-type": "application/x-tar",
            "content-disposition": `attachment; filename="tufbox-backup-${stamp}.tar"`,
            "cache-control": "no-store",
          },
        });
      },
    }),
  ];
}
