/**
 * Scope checks and query parsing for tufbox's native routes (dashboard API).
 *
 * Who may call these routes is decided by the one guard
 * (server/auth/guard.ts) from the route → scope table
 * (server/auth/route-scopes.ts), before the router runs: reads need `read`
 * (which every write scope implies), running a job needs `admin`. The helpers
 * here only read the guard's decision; `requireScope` restates a route's
 * scope next to it and refuses should the table ever disagree.
 *
 * Like every route's guard, these throw; the API's one error handler answers.
 */
import type { App } from "../../core.ts";
import { grants, type Scope } from "../../auth/scopes.ts";
import { ValidationError } from "../../repository/errors.ts";
import { Type } from "@sinclair/typebox";
import { HttpError } from "../errors.ts";
import { extend, type Loc } from "../api/schema.ts";

export type { Scope };

export function hasScope(scopes: readonly Scope[], needed: Scope): boolean {
  return grants(scopes, needed);
}

/** The principal the guard let through: its name, audit id, kind and scopes; 401 without one. */
export function caller(
  app: App,
  request: Request,
): { subject: string; principal: string; kind: string; scopes: Scope[] } {
  const p = app.guard.principalOf(request);
  if (!p)
    throw new HttpError(401, "Unauthorized", "missing Authorization: Bearer <token> header", {
      "www-authenticate": 'Bearer realm="tufbox"',
    });
  return { subject: p.name, principal: p.id, kind: p.kind, scopes: p.scopes };
}

/** Elysia `beforeHandle`: the guard's principal holds `scope` (401 without a principal, 403 without the scope). */
export function requireScope(app: App, scope: Scope) {
  return ({ request }: { request: Request }): void => {
    const { scopes } = caller(app, request);
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

/** The `limit` query parameter's schema: an integer in [1, max] (a string in the URL), `fallback` when absent or empty. */
export function limitQuery(fallback: number, max: number) {
  // A string in the URL; the check makes it the number the handler gets.
  return extend(
    Type.Unsafe<number>(Type.String({ pattern: "^\\d*$", description: `1 to ${max}; default ${fallback}` })),
    {
      opaque: true,
      check: (v: unknown, loc: Loc) => limitParam({ limit: typeof v === "string" ? v : String(v) }, fallback, max, loc),
    },
  );
}

/** The `cursor` query parameter's schema: `next_cursor` of the previous page; decodes to its `arity` parts. */
export function cursorQuery(arity: number) {
  return extend(Type.Unsafe<string[] | null>(Type.String({ description: "next_cursor of the previous page" })), {
    opaque: true,
    check: (v: unknown, loc: Loc) =>
      decodeCursor({ cursor: typeof v === "string" ? v : String(v) }, arity, loc) ?? null,
  });
}

/** `limit` query parameter: an integer in [1, max], `fallback` when absent. */
export function limitParam(
  query: Record<string, string | undefined>,
  fallback: number,
  max: number,
  loc: Loc = ["query", "limit"],
): number {
  const raw = query.limit;
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max)
    throw ValidationError.at(loc, `must be an integer from 1 to ${max}`, "value_error");
  return Number(raw);
}

/** Opaque keyset cursors: base64url of a JSON array, so paths with any character survive URLs. */
export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

export function decodeCursor(
  query: Record<string, string | undefined>,
  arity: number,
  loc: Loc = ["query", "cursor"],
): string[] | undefined {
  const raw = query.cursor;
  if (raw === undefined || raw === "") return undefined;
  try {
    const parts = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parts) && parts.length === arity && parts.every((p) => typeof p === "string"))
      return parts as string[];
  } catch {}
  throw ValidationError.at(
    loc,
    "not a cursor this server handed out (use next_cursor from the previous page)",
    "value_error",
  );
}

export function ok(data: unknown, message: string): Response {
  return new Response(JSON.stringify({ data, message }), {
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
