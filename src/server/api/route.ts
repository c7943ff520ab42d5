/**
 * Route plumbing shared by every API router: the write-scope guard and the
 * 202 answer. Errors are not handled here: handlers and the guard throw, and
 * the API's one error handler (index.ts → ../errors.ts) answers.
 */
import type { App } from "../../core.ts";
import { HttpError } from "../errors.ts";

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
