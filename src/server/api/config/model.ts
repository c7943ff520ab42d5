/** PUT /api/v1/config's body: new expiry (days) for some roles. */
import { type Static, Type } from "@sinclair/typebox";
import { checkLength, ROLE_NAME_MAX_LENGTH } from "../../../tuf/limits.ts";
import { extend, tufCheck, words } from "../schema.ts";
import { ExpirationDays } from "../tuf-model.ts";

/** Only a handful of roles have an expiry; their names come back in the task result (invalid_roles). */
const MAX_ROLES = 16;

export const configBody = Type.Object(
  {
    settings: Type.Object(
      {
        expiration: extend(
          Type.Record(Type.String(), ExpirationDays, {
            minProperties: 1,
            maxProperties: MAX_ROLES,
            propertyNames: extend(Type.String({ maxLength: ROLE_NAME_MAX_LENGTH }), {
              opaque: true,
              check: tufCheck((role: string) => checkLength(role, ROLE_NAME_MAX_LENGTH, "", "role names"), 0),
            }),
            description: "root, targets, snapshot, timestamp, bins",
          }),
          {
            messages: {
              minProperties: words("name at least one role"),
              maxProperties: (v) => words(`at most ${MAX_ROLES} roles (got ${Object.keys(v as object).length})`),
            },
          },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export function toExpiration(body: Static<typeof configBody>): Record<string, number> {
  return body.settings.expiration;
}
