/**
 * GET /api/v1/audit?since=&limit=&principal=&after= (scope read): who changed
 * what. Entries come oldest first. Without `since` or `after`, the newest
 * `limit` entries; with them, the first `limit` from there. `after` (an
 * entry id) is for following the log (`tufbox audit --follow`).
 */
import type { App } from "../../../core.ts";
import { json } from "../../errors.ts";
import { errorResponses } from "../responses.ts";
import { type ApiRoute, route } from "../route.ts";
import { AUDIT_DEFAULT_LIMIT, AuditLog, auditJson, auditQuery } from "./model.ts";

export function auditRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "GET",
      path: "/api/v1/audit",
      tag: "audit",
      summary: "The audit log: who changed what, oldest first",
      query: auditQuery,
      responses: { 200: { description: "entries", schema: AuditLog }, ...errorResponses({ body: false, query: true }) },
      async handle({ query }) {
        const limit = query.limit ?? AUDIT_DEFAULT_LIMIT;
        const afterId = query.after ?? undefined;
        const since = query.since ?? undefined;
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
      },
    }),
  ];
}
