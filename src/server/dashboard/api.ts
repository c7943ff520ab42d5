/**
 * tufbox's native read routes for operators and the dashboard, in the RSTUF
 * envelope (`{"data": …, "message": …}`). Reading needs any valid token (they
 * show task errors and who signs what); running a job needs `admin`.
 *
 *   GET  /api/v1/whoami                      the token's subject and scopes
 *   GET  /api/v1/roles                       roles, bins (and bin-count advice), publisher, health
 *   GET  /api/v1/roles/history?limit=        versions over time (expiry timeline)
 *   GET  /api/v1/artifacts?prefix=&limit=&cursor=   keyset pages by path
 *   GET  /api/v1/publications?limit=         latest publications
 *   GET  /api/v1/tasks?limit=&cursor=        recent tasks, newest first
 *   GET  /api/v1/signing-sessions            pending documents, k of n, sign command
 *   GET  /api/v1/jobs                        scheduled jobs, last/next run
 *   POST /api/v1/jobs/{name}/run             run a job now (admin)
 *   GET  /api/v1/alerts                      active alerts and webhook deliveries
 */
import { type TSchema, Type } from "@sinclair/typebox";
import type { App } from "../../core.ts";
import { recordFinishedTask } from "../../repository/audit.ts";
import { StateError } from "../../repository/errors.ts";
import type { TargetFile } from "../../tuf/metadata.ts";
import { envelope, errorResponses } from "../api/responses.ts";
import { type ApiRoute, actorOf, type Method, type RouteInput, route } from "../api/route.ts";
import { extend, words } from "../api/schema.ts";
import { caller, cursorQuery, encodeCursor, limitQuery, ok } from "./access.ts";
import { rolesHistory, rolesOverview } from "./overview.ts";
import { signingSessions } from "./signing.ts";
import { BinAdviceSchema } from "./bins-advice.ts";

/** an artifact path is at most this long in a prefix query (the longest path the API accepts) */
const MAX_PREFIX = 4096;

function origin(request: Request): string {
  return new URL(request.url).origin;
}

const TAG = "dashboard";
const Page = (items: string, item: TSchema) =>
  envelope(Type.Object({ [items]: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) }));
const Open = Type.Object({}, { additionalProperties: true });

/** One native read (or admin) route: the RSTUF envelope, no body (its scope: ../auth/route-scopes.ts). */
function native<Q extends TSchema>(
  method: Method,
  path: string,
  summary: string,
  data: TSchema,
  handle: (
    input: RouteInput<unknown, import("@sinclair/typebox").Static<Q>, Record<string, string>>,
  ) => Response | Promise<Response>,
  query?: Q,
  params?: TSchema,
): ApiRoute {
  return route({
    method,
    path,
    tag: TAG,
    summary,
    query,
    params,
    responses: {
      200: { description: summary, schema: envelope(data) },
      ...errorResponses({ body: false, query: query !== undefined }),
    },
    handle: handle as ApiRoute["handle"],
  });
}

const ARTIFACTS_LIMIT = 50;
const PUBLICATIONS_LIMIT = 20;
const TASKS_LIMIT = 50;
const HISTORY_LIMIT = 30;

export function dashboardRoutes(app: App): ApiRoute[] {
  return [
    native(
      "GET",
      "/api/v1/whoami",
      "The token's subject and scopes",
      Type.Object({
        subject: Type.String(),
        principal: Type.String(),
        kind: Type.String(),
        scopes: Type.Array(Type.String()),
        auth_disabled: Type.Boolean(),
      }),
      async ({ request }) => {
        const { subject, principal, kind, scopes } = caller(app, request);
        return ok({ subject, principal, kind, scopes, auth_disabled: app.auth.disabled }, "Token is valid.");
      },
    ),
    native(
      "GET",
      "/api/v1/roles",
      "Roles, bins, publisher and health",
      Type.Object({ bins_advice: Type.Union([BinAdviceSchema, Type.Null()]) }, { additionalProperties: true }),
      async () => ok(await rolesOverview(app), "Roles."),
    ),
    native(
      "GET",
      "/api/v1/roles/history",
      "Role versions over time (expiry timeline)",
      Open,
      async ({ query }) => ok(await rolesHistory(app, query.limit ?? HISTORY_LIMIT), "Role versions."),
      Type.Object({ limit: Type.Optional(limitQuery(HISTORY_LIMIT, 200)) }),
    ),
    native(
      "GET",
      "/api/v1/artifacts",
      "Published artifacts by path, in keyset pages",
      Page("artifacts", Open),
      async ({ query }) => {
        const limit = query.limit ?? ARTIFACTS_LIMIT;
        const prefix = query.prefix ?? "";
        const after = query.cursor?.[0];
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
      Type.Object({
        prefix: Type.Optional(
          extend(Type.String({ maxLength: MAX_PREFIX }), {
            messages: { maxLength: words(`at most ${MAX_PREFIX} characters`, "string_too_long") },
          }),
        ),
        limit: Type.Optional(limitQuery(ARTIFACTS_LIMIT, 500)),
        cursor: Type.Optional(cursorQuery(1)),
      }),
    ),
    native(
      "GET",
      "/api/v1/publications",
      "The latest publications",
      Type.Object({ publications: Type.Array(Open) }),
      async ({ query }) => {
        const list = await app.store.listPublications(query.limit ?? PUBLICATIONS_LIMIT);
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
      Type.Object({ limit: Type.Optional(limitQuery(PUBLICATIONS_LIMIT, 100)) }),
    ),
    native(
      "GET",
      "/api/v1/tasks",
      "Recent tasks, newest first",
      Page("tasks", Open),
      async ({ query }) => {
        const limit = query.limit ?? TASKS_LIMIT;
        const c = query.cursor;
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
      Type.Object({ limit: Type.Optional(limitQuery(TASKS_LIMIT, 200)), cursor: Type.Optional(cursorQuery(2)) }),
    ),
    native(
      "GET",
      "/api/v1/signing-sessions",
      "Documents pending signatures: k of n, and the command that signs them",
      Type.Object({ sessions: Type.Array(Open) }),
      async ({ request }) => ok({ sessions: await signingSessions(app, origin(request)) }, "Signing sessions."),
    ),
    native(
      "GET",
      "/api/v1/jobs",
      "Scheduled jobs, their last and next run",
      Type.Object({ leader: Type.Boolean(), jobs: Type.Array(Open) }),
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
    ),
    native(
      "POST",
      "/api/v1/jobs/:name/run",
      "Run a scheduled job now",
      Open,
      async ({ params, request }) => {
        const name = params.name ?? "";
        const job = app.scheduler.list().find((j) => j.name === name);
        if (!job)
          throw new StateError(
            `no scheduled job named ${name} (jobs: ${app.scheduler
              .list()
              .map((j) => j.name)
              .join(", ")})`,
          );
        const actor = actorOf(app, request);
        // Recorded like every change an operator asks for (a job deletes or re-signs things).
        let result: string;
        try {
          result = await app.scheduler.runNow(name);
        } catch (err) {
          const details = { job: name, error: err instanceof Error ? err.message : String(err) };
          await recordFinishedTask(app.store, actor, "run_job", { ok: false, message: "Job failed.", details });
          throw err;
        }
        await recordFinishedTask(app.store, actor, "run_job", {
          ok: true,
          message: "Job run.",
          details: { job: name, result },
        });
        const after = app.scheduler.list().find((j) => j.name === name)!;
        return ok({ name, result, last_run: after.lastRun, next_run: after.nextRun }, "Job run.");
      },
      undefined,
      Type.Object({ name: Type.String({ description: "a job name from GET /api/v1/jobs" }) }),
    ),
    native(
      "GET",
      "/api/v1/alerts",
      "Active alerts and webhook deliveries",
      Type.Object({ alerts: Type.Array(Open), webhooks: Open }),
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
    ),
  ];
}
