/**
 * An API route, described once: method and path, the schemas of its body,
 * query and path parameters (schema.ts), and its responses. index.ts
 * registers every route from this description, and openapi.ts documents every
 * route from the same description, so a route cannot exist undocumented.
 *
 * Who may call a route is not said here: the one guard (../auth/guard.ts)
 * decides from the route → scope table (../auth/route-scopes.ts) before
 * Elysia sees the request, and openapi.ts reads the same table. Handlers get
 * validated, typed input and throw on failure; the API's one error handler
 * (../errors.ts) answers.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import type { App } from "../../core.ts";
import { type AuditActor, INTERNAL_ACTOR } from "../../store/store.ts";
import type { ResponseSpec } from "./responses.ts";
import { validate } from "./schema.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface RouteInput<B, Q, P = Record<string, string>> {
  body: B;
  query: Q;
  params: P;
  request: Request;
}

/** A body the route reads itself (a stream of bytes, a multipart form): documented, not parsed as JSON. */
export interface StreamedBody {
  contentType: string;
  schema: TSchema;
  description: string;
}

export interface ApiRoute {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  /** a JSON body, validated before the handler runs */
  body?: TSchema;
  /** what an empty (or null) JSON body means; without it, an empty body is "Field required" */
  emptyBody?: unknown;
  /** a body the handler streams itself */
  streamed?: StreamedBody;
  query?: TSchema;
  /** path parameters (`:name` in `path`) */
  params?: TSchema;
  responses: Record<number, ResponseSpec>;
  // biome-ignore lint/suspicious/noExplicitAny: typed by `route()` from the schemas
  handle(input: RouteInput<any, any, any>): Response | Promise<Response>;
}

/** A route whose handler's input is typed by its schemas. */
export function route<B extends TSchema = TSchema, Q extends TSchema = TSchema, P extends TSchema = TSchema>(
  spec: Omit<ApiRoute, "body" | "query" | "params" | "handle"> & {
    body?: B;
    query?: Q;
    params?: P;
    handle(input: RouteInput<Static<B>, Static<Q>, Static<P>>): Response | Promise<Response>;
  },
): ApiRoute {
  return spec as ApiRoute;
}

/** A route's validated body from the parsed JSON (`emptyBody` stands in for an empty or null body). */
export function routeBody(r: ApiRoute, raw: unknown): unknown {
  if (!r.body) return undefined;
  return validate(r.body, raw === null && r.emptyBody !== undefined ? r.emptyBody : raw, ["body"]);
}

/** A route's validated query (Elysia's parsed query string). */
export function routeQuery(r: ApiRoute, raw: Record<string, unknown>): unknown {
  return r.query ? validate(r.query, raw, ["query"]) : raw;
}

/** A route's validated path parameters. */
export function routeParams(r: ApiRoute, raw: Record<string, unknown>): unknown {
  return r.params ? validate(r.params, raw, ["path"]) : raw;
}

/** The audit actor of a request the guard let through: principal, source address, route. */
export function actorOf(app: App, request: Request): AuditActor {
  return app.guard.actorOf(request) ?? INTERNAL_ACTOR;
}

export function accepted(message: string, data: Record<string, unknown>): Response {
  return new Response(JSON.stringify({ data, message }), {
    status: 202,
    headers: { "content-type": "application/json" },
  });
}

export function nowIso(): string {
  return new Date().toISOString();
}
