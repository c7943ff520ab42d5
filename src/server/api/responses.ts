/**
 * Response shapes shared by the routes, for /openapi.json: RSTUF's envelope
 * (`{"data": …, "message": …}`) and its error details (../errors.ts makes them).
 */
import { type TSchema, Type } from "@sinclair/typebox";

export const Message = Type.String({ description: "RSTUF's message for this answer" });

/** `{"data": data, "message": …}` */
export function envelope(data: TSchema): TSchema {
  return Type.Object({ data, message: Message });
}

const TaskId = Type.String({ pattern: "^[0-9a-f]{32}$", description: "follow it with GET /api/v1/task" });
const LastUpdate = Type.String({ format: "date-time" });

/** The 202 of a request that runs as a task. */
export const TaskAccepted = envelope(Type.Object({ task_id: TaskId, last_update: LastUpdate }));

/** The 202 of artifact requests: the paths accepted, too. */
export const ArtifactsAccepted = envelope(
  Type.Object({ artifacts: Type.Array(Type.String()), task_id: TaskId, last_update: LastUpdate }),
);

export const ErrorDetail = Type.Object({
  detail: Type.Object({ message: Type.Optional(Type.String()), error: Type.String() }),
});

export const ValidationDetail = Type.Object({
  detail: Type.Array(
    Type.Object({
      loc: Type.Array(Type.Union([Type.String(), Type.Integer()]), { description: "where: body/query, then the path" }),
      msg: Type.String(),
      type: Type.String({ description: "pydantic's error type, e.g. missing, extra_forbidden, int_type" }),
    }),
  ),
});

export interface ResponseSpec {
  description: string;
  schema?: TSchema;
  /** default application/json */
  contentType?: string;
}

/** What a route can answer besides its success (401/403/429 come with its scope: openapi.ts). */
export function errorResponses(opts: { body: boolean; query: boolean }): Record<number, ResponseSpec> {
  const out: Record<number, ResponseSpec> = {};
  out[404] = {
    description:
      "the repository's state does not allow it (RSTUF: not bootstrapped, nothing pending, …), or the endpoint is disabled",
    schema: ErrorDetail,
  };
  if (opts.body) out[413] = { description: "the body is larger than limits.max_body_bytes", schema: ErrorDetail };
  if (opts.body || opts.query)
    out[422] = { description: "the request does not match its schema", schema: ValidationDetail };
  out[503] = { description: "the database or the online key is unavailable; nothing was changed", schema: ErrorDetail };
  return out;
}
