/** Shared route plumbing: error mapping and the write-scope check, applied the same way to every route. */
import type { App } from "../../core.ts";
import { detail, errorResponse } from "./errors.ts";

export interface RouteContext {
  request: Request;
  query: Record<string, string | undefined>;
}

type Handler = (ctx: RouteContext) => Response | Promise<Response>;

/** Read-only route: errors mapped, no auth. */
export function open(app: App, name: string, fn: Handler) {
  return async ({
    request,
    query,
  }: {
    request: Request;
    query: Record<string, string | undefined>;
  }): Promise<Response> => {
    try {
      return await fn({ request, query });
    } catch (err) {
      return errorResponse(err, app.log, name);
    }
  };
}

/** Mutating route: bearer token required (unless auth is disabled by the loud development flag). */
export function guarded(app: App, name: string, fn: Handler) {
  return async ({
    request,
    query,
  }: {
    request: Request;
    query: Record<string, string | undefined>;
  }): Promise<Response> => {
    try {
      const outcome = await app.auth.check(request);
      if (!outcome.ok)
        return detail(401, "Unauthorized", outcome.reason, { "www-authenticate": 'Bearer realm="tufbox"' });
      return await fn({ request, query });
    } catch (err) {
      return errorResponse(err, app.log, name);
    }
  };
}

export function accepted(message: string, data: Record<string, unknown>): Response {
  return new Response(JSON.stringify({ data, message }), {
    status: 202,
    headers: { "content-type": "application/json" },
  });
}
