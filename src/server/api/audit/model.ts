/** GET /api/v1/audit's query and answer. */
import { Type } from "@sinclair/typebox";
import { ValidationError } from "../../../repository/errors.ts";
import type { AuditRecord } from "../../../store/store.ts";
import { extend, type Loc } from "../schema.ts";

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;

const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** An integer query parameter in [min, max] (a string in the URL); empty is absent (null). */
function intQuery(min: number, max: number, description: string) {
  return extend(Type.Unsafe<number | null>(Type.String({ pattern: "^\\d*$", description })), {
    opaque: true,
    check: (v: unknown, loc: Loc) => {
      const raw = typeof v === "string" ? v : String(v);
      if (raw === "") return null;
      const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max)
        throw ValidationError.at(loc, `must be an integer from ${min} to ${max}`);
      return n;
    },
  });
}

/** An ISO 8601 date or date-time, normalised to UTC; empty is absent (null). */
const Instant = extend(
  Type.Unsafe<string | null>(Type.String({ description: "ISO 8601 date or date-time, e.g. 2024-05-01T10:00:00Z" })),
  {
    opaque: true,
    check: (v: unknown, loc: Loc) => {
      const raw = typeof v === "string" ? v : String(v);
      if (raw === "") return null;
      if (!INSTANT.test(raw) || Number.isNaN(Date.parse(raw)))
        throw ValidationError.at(loc, "must be an ISO 8601 date or date-time, e.g. 2024-05-01 or 2024-05-01T10:00:00Z");
      return new Date(Date.parse(raw)).toISOString();
    },
  },
);

export const auditQuery = Type.Object({
  limit: Type.Optional(intQuery(1, AUDIT_MAX_LIMIT, `1 to ${AUDIT_MAX_LIMIT}; default ${AUDIT_DEFAULT_LIMIT}`)),
  after: Type.Optional(intQuery(0, Number.MAX_SAFE_INTEGER, "an entry id: the entries after it (for following)")),
  since: Type.Optional(Instant),
  principal: Type.Optional(Type.String({ description: "only this principal's entries" })),
});

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

const Nullable = (s: ReturnType<typeof Type.String>) => Type.Union([s, Type.Null()]);

export const AuditLog = Type.Object({
  data: Type.Object({
    entries: Type.Array(
      Type.Object({
        id: Type.Integer(),
        at: Type.String({ format: "date-time" }),
        principal: Type.String(),
        principal_name: Type.String(),
        source: Nullable(Type.String()),
        route: Nullable(Type.String()),
        task_id: Nullable(Type.String()),
        action: Type.String(),
        summary: Type.Record(Type.String(), Type.Unknown(), { description: "counts, roles, ids; no secrets" }),
      }),
    ),
    last_id: Type.Union([Type.Integer(), Type.Null()], { description: "pass it as `after` to follow the log" }),
  }),
  message: Type.String(),
});
