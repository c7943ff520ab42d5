/** POST /api/v1/tokens's body, and the token listing's shapes. */
import { type Static, Type } from "@sinclair/typebox";
import { SCOPES, type Scope, isScope } from "../../../auth/scopes.ts";
import { ValidationError } from "../../../repository/errors.ts";
import { extend, type Loc, words } from "../schema.ts";

export const TOKEN_NAME = "^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,63}$";
export const TOKEN_MAX_DAYS = 3650;

const SCOPE_LIST = SCOPES.join(", ");

/** One scope name; anything else (any type) is "unknown scope". */
const ScopeName = extend(Type.Unsafe<Scope>(Type.String({ enum: [...SCOPES] })), {
  opaque: true,
  check: (v: unknown, loc: Loc) => {
    if (!isScope(v)) throw ValidationError.at(loc, `unknown scope; allowed: ${SCOPE_LIST}`);
  },
});

export const tokenBody = Type.Object(
  {
    name: extend(Type.String({ pattern: TOKEN_NAME, description: "to recognise the token by in listings and audit" }), {
      messages: {
        "*": words(
          "must be 1 to 64 characters: letters, digits, space and . _ : @ - (starting with a letter or digit)",
        ),
      },
    }),
    scopes: extend(Type.Array(ScopeName, { minItems: 1 }), {
      messages: { "*": words(`must be a non-empty list of: ${SCOPE_LIST}`) },
    }),
    expires_in_days: Type.Optional(
      Type.Union(
        [
          extend(Type.Integer({ minimum: 1, maximum: TOKEN_MAX_DAYS }), {
            messages: { "*": words(`must be an integer from 1 to ${TOKEN_MAX_DAYS}`) },
          }),
          Type.Null(),
        ],
        { description: "without it (or null), the token does not expire" },
      ),
    ),
  },
  { additionalProperties: false },
);

/** What the token store is asked to create. */
export function toTokenRequest(body: Static<typeof tokenBody>): {
  name: string;
  scopes: Scope[];
  expiresInDays?: number;
} {
  return {
    name: body.name,
    scopes: body.scopes,
    ...(body.expires_in_days == null ? {} : { expiresInDays: body.expires_in_days }),
  };
}

const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String({ enum: [...SCOPES] })),
  created_at: Type.String({ format: "date-time" }),
  expires_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  created_by: Type.Union([Type.String(), Type.Null()], { description: "the principal that created it" }),
});

export const TokenCreated = Type.Object({
  data: Type.Composite([TokenInfo, Type.Object({ token: Type.String({ description: "shown only this once" }) })]),
  message: Type.String(),
});

export const TokenList = Type.Object({ data: Type.Object({ tokens: Type.Array(TokenInfo) }), message: Type.String() });

export const TokenRevoked = Type.Object({ data: Type.Object({ id: Type.String() }), message: Type.String() });

export const tokenIdParams = Type.Object({ id: Type.String({ minLength: 1 }) });
