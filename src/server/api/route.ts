/**
 * An API route, described once: method and path, the schemas of its body and
 * query (schema.ts), its responses and whether it needs a token. index.ts
 * registers every route from this description, and openapi.ts documents every
 * route from the same description, so a route cannot exist undocumented.
 *
 * Handlers get validated, typed input and throw on failure; the write-scope
 * guard runs before them; the API's one error handler (../errors.ts) answers.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import type { App } from "../../core.ts";
import { HttpError } from "../errors.ts";
import { requireScope, type Scope } from "../dashboard/access.ts";
import type { ResponseSpec } from "./responses.ts";
import { validate } from "./schema.ts";

export type Method = "GET" | "POST" | "PUT";

export type Access = null | "token" | Scope;

export interface RouteInput<B, Q, P = Record<string, string>> {
  body: B;
  query: Q;
  params: P;
  request: Request;
}

export interface ApiRoute {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  /**
   * Who may call it: anyone (null); any valid bearer token ("token": RSTUF's
   * mutating routes); a token carrying a scope (tufbox's native routes). Unless
   * auth is off by the loud development flag.
   */
  access: Access;
  body?: TSchema;
  /** path parameters (`:name` in `path`) */
  params?: TSchema;
  /** what an empty body means; without it, an empty body is "Field required" */
  emptyBody?: unknown;
  query?: TSchema;
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

/**
 * The guard every mutating route runs before its handler (Elysia
 * `beforeHandle`): a bearer token, unless auth is off by the loud
 * development flag.
 */
export function requireToken(app: App) {
  return async ({ request }: { request: Request }): Promise<void> => {
    const outcome = await app.auth.check(request);
    if (!outcome.ok)
      throw new HttpError(401, "Unauthorized", outcome.reason, { "www-authenticate": 'Bearer realm="tufbox"' });
  };
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

/** The guard an access level asks for (Elysia `beforeHandle`). */
export function guardFor(app: App, access: Exclude<Access, null>) {
  return access === "token" ? requireToken(app) : requireScope(app, access);
}
