/**
 * Scope checks and query parsing for tufbox's native routes (dashboard API).
 *
 * Scopes (the access-control design): `read`, `artifacts:write`,
 * `metadata:sign`, `admin`. `admin` includes every other scope; any valid
 * token may read. Until scoped tokens exist, the admin token (and a disabled
 * auth) carries `admin`.
 */
import type { App } from "../../core.ts";
import { ValidationError } from "../../repository/errors.ts";
import { detail, errorResponse } from "../api/errors.ts";

export type Scope = "read" | "artifacts:write" | "metadata:sign" | "admin";

export function hasScope(scopes: readonly string[], needed: Scope): boolean {
  return needed === "read" ? scopes.length > 0 : scopes.includes("admin") || scopes.includes(needed);
}

export interface NativeContext {
  request: Request;
  query: Record<string, string | undefined>;
  params: Record<string, string | undefined>;
  subject: string;
  scopes: string[];
}

type Handler = (ctx: NativeContext) => Response | Promise<Response>;

/** A route that needs a bearer token carrying `scope`; errors mapped in the one place (api/errors.ts). */
export function scoped(app: App, name: string, scope: Scope, fn: Handler) {
  return async (ctx: {
    request: Request;
    query: Record<string, string | undefined>;
    params?: Record<string, string | undefined>;
  }): Promise<Response> => {
    try {
      const outcome = await app.auth.check(ctx.request);
      if (!outcome.ok)
        return detail(401, "Unauthorized", outcome.reason, { "www-authenticate": 'Bearer realm="tufbox"' });
      if (!hasScope(outcome.scopes, scope))
        return detail(
          403,
          "Forbidden",
          `${name} needs a token with the ${scope} scope; this token has: ${outcome.scopes.join(", ") || "none"}`,
        );
      return await fn({
        request: ctx.request,
        query: ctx.query,
        params: ctx.params ?? {},
        subject: outcome.subject,
        scopes: outcome.scopes,
      });
    } catch (err) {
      return errorResponse(err, app.log, name);
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
