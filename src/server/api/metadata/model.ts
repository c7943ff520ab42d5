/** Request bodies of root updates, signing sessions and forced re-signing (RSTUF-API.md "Metadata"). */
import { type Static, Type } from "@sinclair/typebox";
import type { Metadata, RootSigned } from "../../../tuf/metadata.ts";
import { ValidationError } from "../../../repository/errors.ts";
import { DELEGATED_ROLES_MAX, SIGNATURE_MAX_HEX } from "../../../tuf/limits.ts";
import { extend, type Loc, words } from "../schema.ts";

/** Every delegated role and the online roles, at most. */
const MAX_BUMP_ROLES = DELEGATED_ROLES_MAX + 5;
import { KEYID_PATTERN, RoleName, rootMetadata } from "../tuf-model.ts";

export const rootUpdateBody = Type.Object(
  { metadata: Type.Object({ root: rootMetadata({ dropNullBundles: true }) }, { additionalProperties: false }) },
  { additionalProperties: false },
);

export function toRootUpdate(body: Static<typeof rootUpdateBody>): Metadata<RootSigned> {
  return body.metadata.root as unknown as Metadata<RootSigned>;
}

export const signBody = Type.Object(
  {
    role: RoleName,
    signature: Type.Object(
      {
        keyid: extend(Type.String({ pattern: KEYID_PATTERN }), {
          messages: { "*": words("expected 64 lower-case hex characters") },
        }),
        sig: extend(Type.String({ pattern: "^[0-9a-f]+$", maxLength: SIGNATURE_MAX_HEX }), {
          opaque: true,
          check: (v: unknown, loc: Loc) => {
            if (typeof v !== "string" || !/^[0-9a-f]+$/.test(v))
              throw ValidationError.at(loc, "expected a lower-case hex signature");
            if (v.length > SIGNATURE_MAX_HEX)
              throw ValidationError.at(loc, `a signature is at most ${SIGNATURE_MAX_HEX} hex characters`);
          },
        }),
        bundle: Type.Optional(Type.Null({ description: "RSTUF's Sigstore bundle: not supported, null only" })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type SignBody = Static<typeof signBody>;

export const signDeleteBody = Type.Object({ role: RoleName }, { additionalProperties: false });

export const onlineBody = Type.Object(
  {
    roles: Type.Optional(
      extend(Type.Array(RoleName, { maxItems: MAX_BUMP_ROLES, description: "empty or absent: every online role" }), {
        messages: { maxItems: (v) => words(`at most ${MAX_BUMP_ROLES} roles (got ${(v as unknown[]).length})`) },
      }),
    ),
  },
  { additionalProperties: false },
);

export function toRoles(body: Static<typeof onlineBody>): string[] {
  return [...new Set(body.roles ?? [])];
}
