/**
 * GET /openapi.json: the API as an OpenAPI 3.1 document, generated from the
 * same route descriptions that register the routes (route.ts), so it cannot
 * drift from them. TypeBox schemas are JSON Schema, which OpenAPI 3.1 takes
 * as is; the validator's extensions (symbols, functions) are left out.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { VERSION } from "../../version.ts";
import type { ResponseSpec } from "./responses.ts";
import { type ApiRoute, route } from "./route.ts";

export const OPENAPI_PATH = "/openapi.json";

/** Plain JSON Schema: what JSON.stringify keeps (symbol keys and functions go). */
function jsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema));
}

function response(spec: ResponseSpec): Record<string, unknown> {
  if (!spec.schema) return { description: spec.description };
  return {
    description: spec.description,
    content: { [spec.contentType ?? "application/json"]: { schema: jsonSchema(spec.schema) } },
  };
}

function parametersOf(schema: TSchema | undefined, where: "path" | "query"): Record<string, unknown>[] {
  if (!schema) return [];
  const s = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === "path" || (s.required?.includes(name) ?? false),
    schema: p,
  }));
}

/** Elysia's `/jobs/:name/run` is OpenAPI's `/jobs/{name}/run`. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, "{$1}");
}

function operationId(r: ApiRoute): string {
  const words = r.path
    .replace(/^\/api\/v1\//, "")
    .split(/[/.]/)
    .filter(Boolean);
  return [r.method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join("");
}

function operation(r: ApiRoute): Record<string, unknown> {
  const op: Record<string, unknown> = {
    operationId: operationId(r),
    summary: r.summary,
    tags: [r.tag],
    // Open routes need nothing; the others a bearer token, with the scope named (OpenAPI 3.1 role names).
    security: r.access === null ? [] : [{ bearer: r.access === "token" ? [] : [r.access] }],
  };
  const parameters = [...parametersOf(r.params, "path"), ...parametersOf(r.query, "query")];
  if (parameters.length > 0) op.parameters = parameters;
  if (r.body) {
    op.requestBody = {
      required: r.emptyBody === undefined,
      content: { "application/json": { schema: jsonSchema(r.body) } },
    };
  }
  op.responses = Object.fromEntries(Object.entries(r.responses).map(([status, spec]) => [status, response(spec)]));
  return op;
}

export function openApiDocument(routes: readonly ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = openApiPath(r.path);
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: operation(r) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "tufbox",
      version: VERSION,
      description:
        "A TUF repository service. /api/v1 is compatible with Repository Service for TUF (RSTUF) API 1.0; " +
        "published metadata is under /metadata/, artifact bytes under /targets/.",
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "an API token: TUFBOX_ADMIN_TOKEN, or the one printed at first start",
        },
      },
    },
  };
}

/** The route serving the document of `routes` (itself included). */
export function openApiRoute(routes: () => readonly ApiRoute[]): ApiRoute {
  let doc: string | undefined;
  return route({
    method: "GET",
    path: OPENAPI_PATH,
    tag: "api",
    summary: "This document (OpenAPI 3.1)",
    access: null,
    responses: {
      200: {
        description: "the OpenAPI document",
        schema: Type.Object({ openapi: Type.Literal("3.1.0") }, { additionalProperties: true }),
      },
    },
    handle() {
      doc ??= JSON.stringify(openApiDocument(routes()));
      return new Response(doc, { headers: { "content-type": "application/json" } });
    },
  });
}
