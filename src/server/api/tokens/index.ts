/**
 * tufbox API tokens (native, scope admin): POST /api/v1/tokens creates one
 * and shows it once; GET lists them (never a secret or a hash); DELETE
 * revokes one, effective on the next request on every replica (the check
 * reads the store, see auth/tokens.ts). Create and revoke are audited in the
 * same transaction.
 */
import type { App } from "../../../core.ts";
import { json } from "../../errors.ts";
import { ErrorDetail, errorResponses } from "../responses.ts";
import { type ApiRoute, actorOf, route } from "../route.ts";
import { TokenCreated, TokenList, TokenRevoked, tokenBody, tokenIdParams, toTokenRequest } from "./model.ts";

const TAG = "tokens";

export function tokenRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "POST",
      path: "/api/v1/tokens",
      tag: TAG,
      summary: "Create an API token (its secret is in this answer only)",
      body: tokenBody,
      responses: {
        201: { description: "created; store the token now", schema: TokenCreated },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const { token, info } = await app.auth.tokens.create(toTokenRequest(body), actorOf(app, request));
        return json(
          { data: { ...info, token }, message: "Token created. It is shown only once: store it now." },
          201,
          // Not for any cache or proxy log.
          { "cache-control": "no-store" },
        );
      },
    }),
    route({
      method: "GET",
      path: "/api/v1/tokens",
      tag: TAG,
      summary: "List API tokens (names, scopes, expiry; never a secret)",
      responses: {
        200: { description: "the tokens", schema: TokenList },
        ...errorResponses({ body: false, query: false }),
      },
      async handle() {
        return json({ data: { tokens: await app.auth.tokens.list() }, message: "Tokens." });
      },
    }),
    route({
      method: "DELETE",
      path: "/api/v1/tokens/:id",
      tag: TAG,
      summary: "Revoke an API token (refused from the next request on, on every replica)",
      params: tokenIdParams,
      responses: {
        200: { description: "revoked", schema: TokenRevoked },
        ...errorResponses({ body: false, query: false }),
        404: { description: "no token with this id", schema: ErrorDetail },
      },
      async handle({ params, request }) {
        const id = params.id;
        if (!(await app.auth.tokens.revoke(id, actorOf(app, request))))
          return json({ detail: { message: "Token not found", error: `no token with id ${id}` } }, 404);
        return json({ data: { id }, message: "Token revoked." });
      },
    }),
  ];
}
