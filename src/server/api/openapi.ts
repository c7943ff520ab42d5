/**
 * GET /openapi.json: the API as an OpenAPI 3.1 document, generated from the
 * same route descriptions that register the routes (route.ts), so it cannot
 * drift from them. TypeBox schemas are JSON Schema, which OpenAPI 3.1 takes
 * as is; the validator's extensions (symbols, functions) are left out.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import type { App } from "../../core.ts";
import { ROUTE_SCOPES, RouteTable } from "../auth/route-scopes.ts";
import { VERSION } from "../../version.ts";
import { ErrorDetail, type ResponseSpec } from "./responses.ts";
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

/** Elysia's `/jobs/:name/run` is OpenAPI's `/jobs/{name}/run`; a final `*` (a target path) is `{path}`. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, "{$1}").replace(/\/\*$/, "/{path}");
}

function operationId(r: ApiRoute): string {
  const words = r.path
    .replace(/^\/api\/v1\//, "")
    .split(/[/.]/)
    .filter(Boolean);
  return [r.method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join("");
}

/** What the guard asks of a route: a scope, or nothing ("public"); from the one route → scope table. */
export type RouteScope = string;

function operation(r: ApiRoute, scope: RouteScope): Record<string, unknown> {
  const op: Record<string, unknown> = {
    operationId: operationId(r),
    summary: r.summary,
    tags: [r.tag],
    // Public routes need nothing; the others a bearer token holding the scope (OpenAPI 3.1 role names).
    security: scope === "public" ? [] : [{ bearer: [scope] }],
  };
  const target = { type: "string", description: "a target path, '/'-separated" };
  const parameters = [
    ...parametersOf(r.params, "path"),
    ...(r.path.endsWith("/*") ? [{ name: "path", in: "path", required: true, schema: target }] : []),
    ...parametersOf(r.query, "query"),
  ];
  if (parameters.length > 0) op.parameters = parameters;
  if (r.body) {
    op.requestBody = {
      required: r.emptyBody === undefined,
      content: { "application/json": { schema: jsonSchema(r.body) } },
    };
  } else if (r.streamed) {
    op.requestBody = {
      required: true,
      description: r.streamed.description,
      content: { [r.streamed.contentType]: { schema: jsonSchema(r.streamed.schema) } },
    };
  }
  const responses: Record<number, ResponseSpec> = { ...r.responses };
  if (scope !== "public") {
    responses[401] ??= { description: "no valid bearer token", schema: ErrorDetail };
    responses[403] ??= { description: `the token lacks the ${scope} scope`, schema: ErrorDetail };
    responses[429] ??= { description: "too many failed authentications from this address", schema: ErrorDetail };
  }
  op.responses = Object.fromEntries(Object.entries(responses).map(([status, spec]) => [status, response(spec)]));
  return op;
}

/**
 * The scope the guard asks of each route (../auth/route-scopes.ts): /metrics
 * is public or `read` as configured. A route without a table line is refused
 * by the guard; here it shows as needing `admin`.
 */
export function scopeOf(app: Pick<App, "config">): (r: ApiRoute) => RouteScope {
  const table = new RouteTable(ROUTE_SCOPES);
  return (r) => {
    const line = table.find(r.method, r.path.replace(/\*$/, "any/path"));
    const access = line?.access ?? "admin";
    if (access === "metrics") return app.config.auth.metrics_public ? "public" : "read";
    return access;
  };
}

export function openApiDocument(
  routes: readonly ApiRoute[],
  scope: (r: ApiRoute) => RouteScope,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = openApiPath(r.path);
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: operation(r, scope(r)) };
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
export function openApiRoute(app: Pick<App, "config">, routes: () => readonly ApiRoute[]): ApiRoute {
  let doc: string | undefined;
  return route({
    method: "GET",
    path: OPENAPI_PATH,
    tag: "api",
    summary: "This document (OpenAPI 3.1)",
    responses: {
      200: {
        description: "the OpenAPI document",
        schema: Type.Object({ openapi: Type.Literal("3.1.0") }, { additionalProperties: true }),
      },
    },
    handle() {
      doc ??= JSON.stringify(openApiDocument(routes(), scopeOf(app)));
      return new Response(doc, { headers: { "content-type": "application/json" } });
    },
  });
}
