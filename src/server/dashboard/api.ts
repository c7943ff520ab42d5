/**
 * tufbox's native read routes for operators and the dashboard, in the RSTUF
 * envelope (`{"data": …, "message": …}`). Reading needs any valid token (they
 * show task errors and who signs what); running a job needs `admin`.
 *
 *   GET  /api/v1/whoami                      the token's subject and scopes
 *   GET  /api/v1/roles                       roles, bins, publisher, health
 *   GET  /api/v1/roles/history?limit=        versions over time (expiry timeline)
 *   GET  /api/v1/artifacts?prefix=&limit=&cursor=   keyset pages by path
 *   GET  /api/v1/publications?limit=         latest publications
 *   GET  /api/v1/tasks?limit=&cursor=        recent tasks, newest first
 *   GET  /api/v1/signing-sessions            pending documents, k of n, sign command
 *   GET  /api/v1/jobs                        scheduled jobs, last/next run
 *   POST /api/v1/jobs/{name}/run             run a job now (admin)
 *   GET  /api/v1/alerts                      active alerts and webhook deliveries
 */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { StateError, ValidationError } from "../../repository/errors.ts";
import type { TargetFile } from "../../tuf/metadata.ts";
import { caller, decodeCursor, encodeCursor, limitParam, ok, requireScope } from "./access.ts";
import { rolesHistory, rolesOverview } from "./overview.ts";
import { signingSessions } from "./signing.ts";

/** an artifact path is at most this long in a prefix query (the longest path the API accepts) */
const MAX_PREFIX = 4096;

function origin(request: Request): string {
  return new URL(request.url).origin;
}

export function dashboardApi(app: App) {
  return new Elysia()
    .get(
      "/api/v1/whoami",
      async ({ request }) => {
        const { subject, principal, kind, scopes } = caller(app, request);
        return ok({ subject, principal, kind, scopes, auth_disabled: app.auth.disabled }, "Token is valid.");
      },
      { beforeHandle: requireScope(app, "read") },
    )
    .get("/api/v1/roles", async () => ok(await rolesOverview(app), "Roles."), {
      beforeHandle: requireScope(app, "read"),
    })
    .get(
      "/api/v1/roles/history",
      async ({ query }) => ok(await rolesHistory(app, limitParam(query, 30, 200)), "Role versions."),
      { beforeHandle: requireScope(app, "read") },
    )
    .get(
      "/api/v1/artifacts",
      async ({ query }) => {
        const limit = limitParam(query, 50, 500);
        const prefix = query.prefix ?? "";
        if (prefix.length > MAX_PREFIX)
          throw new ValidationError([
            { loc: ["query", "prefix"], msg: `at most ${MAX_PREFIX} characters`, type: "string_too_long" },
          ]);
        const after = decodeCursor(query, 1)?.[0];
        // One more than asked tells whether another page exists without counting.
        const rows = await app.store.listArtifacts({ prefix: prefix || undefined, after, limit: limit + 1 });
        const page = rows.slice(0, limit);
        const serve = app.config.targets.serve;
        return ok(
          {
            artifacts: page.map((a) => {
              const info = JSON.parse(a.fragment) as TargetFile;
              return {
                path: a.path,
                role: a.role,
                length: info.length,
                hashes: info.hashes,
                ...(info.custom !== undefined ? { custom: info.custom } : {}),
                download: serve ? `/targets/${a.path.split("/").map(encodeURIComponent).join("/")}` : null,
              };
            }),
            next_cursor: rows.length > limit ? encodeCursor([page[page.length - 1]!.path]) : null,
          },
          "Artifacts.",
        );
      },
      { beforeHandle: requireScope(app, "read") },
    )
    .get(
      "/api/v1/publications",
      async ({ query }) => {
        const list = await app.store.listPublications(limitParam(query, 20, 100));
        return ok(
          {
            publications: list.map((p) => ({
              timestamp_version: p.timestampVersion,
              published_at: p.publishedAt,
              documents: p.documents,
              roles: p.roles,
            })),
          },
          "Publications.",
        );
      },
      { beforeHandle: requireScope(app, "read") },
    )
    .get(
      "/api/v1/tasks",
      async ({ query }) => {
        const limit = limitParam(query, 50, 200);
        const c = decodeCursor(query, 2);
        const rows = await app.store.listTasks({
          limit: limit + 1,
          before: c ? { createdAt: c[0]!, id: c[1]! } : undefined,
        });
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return ok(
          {
            tasks: page.map((t) => {
              const finished = ["SUCCESS", "FAILURE", "ERRORED", "REVOKED"].includes(t.state);
              return {
                task_id: t.id,
                name: t.name,
                state: t.state,
                created_at: t.createdAt,
                updated_at: t.updatedAt,
                duration_ms: finished ? new Date(t.updatedAt).getTime() - new Date(t.createdAt).getTime() : null,
                message: t.result?.message ?? null,
                error: t.result?.error ?? null,
              };
            }),
            next_cursor: rows.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null,
          },
          "Tasks.",
        );
      },
      { beforeHandle: requireScope(app, "read") },
    )
    .get(
      "/api/v1/signing-sessions",
      async ({ request }) => ok({ sessions: await signingSessions(app, origin(request)) }, "Signing sessions."),
      { beforeHandle: requireScope(app, "read") },
    )
    .get(
      "/api/v1/jobs",
      () =>
        ok(
          {
            leader: app.scheduler.leading,
            jobs: app.scheduler.list().map((j) => ({
              name: j.name,
              description: j.description,
              last_run: j.lastRun,
              last_result: j.lastResult,
              next_run: j.nextRun,
            })),
          },
          "Scheduled jobs.",
        ),
      { beforeHandle: requireScope(app, "read") },
    )
    .post(
      "/api/v1/jobs/:name/run",
      async ({ params }) => {
        const name = params.name ?? "";
        const job = app.scheduler.list().find((j) => j.name === name);
        if (!job)
          throw new StateError(
            `no scheduled job named ${name} (jobs: ${app.scheduler
              .list()
              .map((j) => j.name)
              .join(", ")})`,
          );
        const result = await app.scheduler.runNow(name);
        const after = app.scheduler.list().find((j) => j.name === name)!;
        return ok({ name, result, last_run: after.lastRun, next_run: after.nextRun }, "Job run.");
      },
      { parse: "none", beforeHandle: requireScope(app, "admin") },
    )
    .get(
      "/api/v1/alerts",
      async () => {
        const alerts = await app.alerts.current();
        return ok(
          {
            alerts,
            webhooks: {
              configured: app.alerts.webhooks.configured,
              pending: app.alerts.webhooks.pending(),
              deliveries: app.alerts.webhooks.deliveries().map(({ body: _body, ...d }) => ({
                id: d.id,
                target: d.target,
                event: d.event,
                alert_key: d.alertKey,
                state: d.state,
                attempts: d.attempts,
                created_at: d.createdAt,
                last_attempt_at: d.lastAttemptAt,
                next_attempt_at: d.nextAttemptAt,
                delivered_at: d.deliveredAt,
                last_status: d.lastStatus,
                last_error: d.lastError,
              })),
            },
          },
          alerts.length === 0 ? "No alerts." : `${alerts.length} alert(s).`,
        );
      },
      { beforeHandle: requireScope(app, "read") },
    );
}
