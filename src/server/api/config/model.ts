/** PUT /api/v1/config's body: new expiry (days) for some roles. */
import { type Static, Type } from "@sinclair/typebox";
import { extend, words } from "../schema.ts";

export const configBody = Type.Object(
  {
    settings: Type.Object(
      {
        expiration: extend(
          Type.Record(Type.String(), Type.Integer({ exclusiveMinimum: 0, description: "days" }), {
            minProperties: 1,
            description: "root, targets, snapshot, timestamp, bins",
          }),
          { messages: { minProperties: words("name at least one role") } },
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
