/** Request bodies of root updates, signing sessions and forced re-signing (RSTUF-API.md "Metadata"). */
import { type Static, Type } from "@sinclair/typebox";
import type { Metadata, RootSigned } from "../../../tuf/metadata.ts";
import { extend, words } from "../schema.ts";
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
        sig: extend(Type.String({ pattern: "^[0-9a-f]+$" }), {
          messages: { "*": words("expected a lower-case hex signature") },
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
  { roles: Type.Optional(Type.Array(RoleName, { description: "empty or absent: every online role" })) },
  { additionalProperties: false },
);

export function toRoles(body: Static<typeof onlineBody>): string[] {
  return [...new Set(body.roles ?? [])];
}
