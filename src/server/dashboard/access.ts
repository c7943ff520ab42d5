/**
 * Scope checks and query parsing for tufbox's native routes (dashboard API).
 *
 * Scopes (the access-control design): `read`, `artifacts:write`,
 * `metadata:sign`, `admin`. `admin` includes every other scope; any valid
 * token may read. Until scoped tokens exist, the admin token (and a disabled
 * auth) carries `admin`.
 *
 * Like every route's guard, these throw; the API's one error handler answers.
 */
import type { App } from "../../core.ts";
import { ValidationError } from "../../repository/errors.ts";
import { HttpError } from "../errors.ts";

export type Scope = "read" | "artifacts:write" | "metadata:sign" | "admin";

export function hasScope(scopes: readonly string[], needed: Scope): boolean {
  return needed === "read" ? scopes.length > 0 : scopes.includes("admin") || scopes.includes(needed);
}

/** The token's subject and scopes; 401 without a valid one. */
export async function caller(app: App, request: Request): Promise<{ subject: string; scopes: string[] }> {
  const outcome = await app.auth.check(request);
  if (!outcome.ok)
    throw new HttpError(401, "Unauthorized", outcome.reason, { "www-authenticate": 'Bearer realm="tufbox"' });
  return { subject: outcome.subject, scopes: outcome.scopes };
}

/** Elysia `beforeHandle`: a bearer token carrying `scope` (401 without a token, 403 without the scope). */
export function requireScope(app: App, scope: Scope) {
  return async ({ request }: { request: Request }): Promise<void> => {
    const { scopes } = await caller(app, request);
    if (!hasScope(scopes, scope)) {
      const route = `${request.method} ${new URL(request.url).pathname}`;
      throw new HttpError(
        403,
        "Forbidden",
        `${route} needs a token with the ${scope} scope; this token has: ${scopes.join(", ") || "none"}`,
      );
    }
  };
}

/** `limit` query parameter: an integer in [1, max], `fallback` when absent. */
export function limitParam(query: Record<string, string | undefined>, fallback: number, max: number): number {
  const raw = query.limit;
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max)
    throw ValidationError.at(["query", "limit"], `must be an integer from 1 to ${max}`, "value_error");
  return Number(raw);
}

/** Opaque keyset cursors: base64url of a JSON array, so paths with any character survive URLs. */
export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

export function decodeCursor(query: Record<string, string | undefined>, arity: number): string[] | undefined {
  const raw = query.cursor;
  if (raw === undefined || raw === "") return undefined;
  try {
    const parts = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parts) && parts.length === arity && parts.every((p) => typeof p === "string"))
      return parts as string[];
  } catch {}
  throw ValidationError.at(
    ["query", "cursor"],
    "not a cursor this server handed out (use next_cursor from the previous page)",
    "value_error",
  );
}

export function ok(data: unknown, message: string): Response {
  return new Response(JSON.stringify({ data, message }), {
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
