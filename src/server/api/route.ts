/**
 * Shared route plumbing: error mapping, applied the same way to every route.
 * Who may call a route is decided before it runs, by the guard
 * (server/auth/guard.ts) from the route → scope table; routes only read the
 * resulting audit actor.
 */
import type { App } from "../../core.ts";
import { INTERNAL_ACTOR } from "../../auth/principal.ts";
import type { AuditActor } from "../../store/store.ts";
import { errorResponse } from "./errors.ts";

export interface RouteContext {
  request: Request;
  query: Record<string, string | undefined>;
  /** who is calling, for the audit log (the guard authenticated them) */
  actor: AuditActor;
  params: Record<string, string>;
}

type Handler = (ctx: RouteContext) => Response | Promise<Response>;

type ElysiaContext = {
  request: Request;
  query: Record<string, string | undefined>;
  params?: Record<string, string>;
};

function route(app: App, name: string, fn: Handler) {
  return async ({ request, query, params }: ElysiaContext): Promise<Response> => {
    try {
      const actor = app.guard.actorOf(request) ?? INTERNAL_ACTOR;
      return await fn({ request, query, actor, params: params ?? {} });
    } catch (err) {
      return errorResponse(err, app.log, name);
    }
  };
}

/** A read-only route (its scope, if any, is in the route → scope table). */
export function open(app: App, name: string, fn: Handler) {
  return route(app, name, fn);
}

/** A mutating route (its scope is in the route → scope table). */
export function guarded(app: App, name: string, fn: Handler) {
  return route(app, name, fn);
}

export function accepted(message: string, data: Record<string, unknown>): Response {
  return new Response(JSON.stringify({ data, message }), {
    status: 202,
    headers: { "content-type": "application/json" },
  });
}
