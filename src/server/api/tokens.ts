/**
 * tufbox API tokens (native, scope admin): POST /api/v1/tokens creates one
 * and shows it once; GET lists them (never a secret or a hash); DELETE
 * revokes one, effective on the next request on every replica (the check
 * reads the store, see auth/tokens.ts). Create and revoke are audited in the
 * same transaction.
 */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { SCOPES, isScope, type Scope } from "../../auth/scopes.ts";
import { asObject } from "../../repository/payloads.ts";
import { ValidationError } from "../../repository/errors.ts";
import { json } from "../errors.ts";
import { readJson } from "./body.ts";
import { actorOf } from "./route.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,63}$/;
const MAX_DAYS = 3650;

export interface TokenRequest {
  name: string;
  scopes: Scope[];
  expiresInDays?: number;
}

export function parseTokenRequest(body: unknown): TokenRequest {
  const o = asObject(body, ["body"], ["name", "scopes", "expires_in_days"]);
  if (o.name === undefined) throw ValidationError.at(["body", "name"], "Field required", "missing");
  if (typeof o.name !== "string" || !NAME.test(o.name))
    throw ValidationError.at(
      ["body", "name"],
      "must be 1 to 64 characters: letters, digits, space and . _ : @ - (starting with a letter or digit)",
    );
  if (o.scopes === undefined) throw ValidationError.at(["body", "scopes"], "Field required", "missing");
  if (!Array.isArray(o.scopes) || o.scopes.length === 0)
    throw ValidationError.at(["body", "scopes"], `must be a non-empty list of: ${SCOPES.join(", ")}`);
  o.scopes.forEach((s, i) => {
    if (!isScope(s)) throw ValidationError.at(["body", "scopes", i], `unknown scope; allowed: ${SCOPES.join(", ")}`);
  });
  const out: TokenRequest = { name: o.name, scopes: o.scopes as Scope[] };
  if (o.expires_in_days !== undefined && o.expires_in_days !== null) {
    const d = o.expires_in_days;
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 1 || d > MAX_DAYS)
      throw ValidationError.at(["body", "expires_in_days"], `must be an integer from 1 to ${MAX_DAYS}`);
    out.expiresInDays = d;
  }
  return out;
}

export function tokenRoutes(app: App) {
  return new Elysia()
    .post(
      "/api/v1/tokens",
      async ({ request }) => {
        const input = parseTokenRequest(await readJson(request, app.config.limits.max_body_bytes));
        const { token, info } = await app.auth.tokens.create(input, actorOf(app, request));
        return json(
          { data: { ...info, token }, message: "Token created. It is shown only once: store it now." },
          201,
          // Not for any cache or proxy log.
          { "cache-control": "no-store" },
        );
      },
      { parse: "none" },
    )
    .get("/api/v1/tokens", async () => json({ data: { tokens: await app.auth.tokens.list() }, message: "Tokens." }))
    .delete(
      "/api/v1/tokens/:id",
      async ({ params, request }) => {
        const id = params.id;
        if (!(await app.auth.tokens.revoke(id, actorOf(app, request))))
          return json({ detail: { message: "Token not found", error: `no token with id ${id}` } }, 404);
        return json({ data: { id }, message: "Token revoked." });
      },
      { parse: "none" },
    );
}
