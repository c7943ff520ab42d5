/**
 * Route plumbing shared by every API router: who is calling, and the 202
 * answer. Errors are not handled here: handlers throw, and the API's one
 * error handler (index.ts → ../errors.ts) answers. Who may call a route is
 * decided before Elysia sees the request, by the guard
 * (server/auth/guard.ts) from the route → scope table.
 */
import type { App } from "../../core.ts";
import { INTERNAL_ACTOR, type AuditActor } from "../../store/store.ts";

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
