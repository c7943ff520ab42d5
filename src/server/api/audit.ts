/**
 * GET /api/v1/audit?since=&limit=&principal=&after= (scope read): who changed
 * what. Entries come oldest first. Without `since` or `after`, the newest
 * `limit` entries; with them, the first `limit` from there. `after` (an
 * entry id) is for following the log (`tufbox audit --follow`).
 */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { ValidationError } from "../../repository/errors.ts";
import type { AuditRecord } from "../../store/store.ts";
import { json } from "../errors.ts";

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;

const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** The API shape of an entry (snake_case, like the rest of the API). */
export function auditJson(e: AuditRecord) {
  return {
    id: e.id,
    at: e.at,
    principal: e.principal,
    principal_name: e.principalName,
    source: e.source,
    route: e.route,
    task_id: e.taskId,
    action: e.action,
    summary: e.summary,
  };
}

function intParam(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw ValidationError.at(["query", name], `must be an integer from ${min} to ${max}`);
  return n;
}

export function auditRoutes(app: App) {
  return new Elysia().get("/api/v1/audit", async ({ query }) => {
    const limit = intParam(query.limit, "limit", 1, AUDIT_MAX_LIMIT) ?? AUDIT_DEFAULT_LIMIT;
    const afterId = intParam(query.after, "after", 0, Number.MAX_SAFE_INTEGER);
    let since: string | undefined;
    if (query.since !== undefined && query.since !== "") {
      if (!INSTANT.test(query.since) || Number.isNaN(Date.parse(query.since)))
        throw ValidationError.at(
          ["query", "since"],
          "must be an ISO 8601 date or date-time, e.g. 2024-05-01 or 2024-05-01T10:00:00Z",
        );
      since = new Date(Date.parse(query.since)).toISOString();
    }
    const principal = query.principal === "" ? undefined : query.principal;
    const entries = await app.store.listAudit({
      since,
      afterId,
      principal,
      limit,
      newest: since === undefined && afterId === undefined,
    });
    return json({
      data: { entries: entries.map(auditJson), last_id: entries.at(-1)?.id ?? afterId ?? null },
      message: "Audit log.",
    });
  });
}
