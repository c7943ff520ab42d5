/**
 * TUF documents and names as they appear inside request bodies: the schema
 * says their shape (for /openapi.json and the types); the TUF layer's own
 * parsers decide (src/tuf/), so a key, a root or a target path is checked by
 * exactly the code that checks it everywhere else.
 */
import { type Static, Type } from "@sinclair/typebox";
import { PublicKey } from "../../tuf/keys.ts";
import { checkTargetPath, parseRoot } from "../../tuf/metadata.ts";
import { ROLE_NAME } from "../../tuf/roles.ts";
import { KEY_NAME, ONLINE_KEY_URI } from "../../tuf/rstuf.ts";
import { dropNull, dropNullSignatureBundles, OPTIONAL_KEY_FIELDS } from "./optional-fields.ts";
import { extend, tufCheck, words } from "./schema.ts";

export const KEYID_PATTERN = "^[0-9a-f]{64}$";
const HEX_PATTERN = "^[0-9a-f]+$";

/** A public key (spec 4.2 KEY); `x-…` fields are kept. */
export const Key = extend(
  Type.Object(
    {
      keytype: Type.String({ description: "ed25519, ecdsa, ecdsa-sha2-nistp256 or rsa" }),
      scheme: Type.String({ description: "ed25519, ecdsa-sha2-nistp256 or rsassa-pss-sha256" }),
      keyval: Type.Object({ public: Type.String({ description: "hex (ed25519) or PEM SubjectPublicKeyInfo" }) }),
      [KEY_NAME]: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      [ONLINE_KEY_URI]: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    },
    { additionalProperties: true },
  ),
  {
    opaque: true,
    // The keyid is the key's name in its map: keys are looked up, not recomputed (legacy keyids stay valid).
    check: tufCheck((value, loc) => {
      const key = dropNull(value, OPTIONAL_KEY_FIELDS);
      PublicKey.fromJSON(key, "", String(loc[loc.length - 1]));
      return key;
    }, 0),
  },
);

/** Keys by keyid, as root and delegations list them. */
export const Keys = extend(Type.Record(Type.String({ pattern: KEYID_PATTERN }), Key), {
  messages: { pattern: words("keyids are 64 lower-case hex characters") },
});

const RoleKeys = Type.Object({ keyids: Type.Array(Type.String()), threshold: Type.Integer({ minimum: 1 }) });

/** Signed root metadata (spec 4.3): checked by the TUF layer's parser. */
export function rootMetadata(opts: { dropNullBundles: boolean }) {
  return extend(
    Type.Object(
      {
        signed: Type.Object(
          {
            _type: Type.Literal("root"),
            spec_version: Type.String(),
            version: Type.Integer({ minimum: 1 }),
            expires: Type.String({ description: "YYYY-MM-DDTHH:MM:SSZ" }),
            consistent_snapshot: Type.Boolean(),
            keys: Keys,
            roles: Type.Object({ root: RoleKeys, targets: RoleKeys, snapshot: RoleKeys, timestamp: RoleKeys }),
          },
          { additionalProperties: true },
        ),
        signatures: Type.Array(
          Type.Object({
            keyid: Type.String({ pattern: KEYID_PATTERN }),
            sig: Type.String({ pattern: HEX_PATTERN }),
            bundle: Type.Optional(Type.Null()),
          }),
        ),
      },
      { additionalProperties: true },
    ),
    {
      opaque: true,
      check: tufCheck((value) => parseRoot(opts.dropNullBundles ? dropNullSignatureBundles(value) : value, "root")),
    },
  );
}

export type RootMetadataInput = Static<ReturnType<typeof rootMetadata>>;

/**
 * A target path (spec 4.5 TARGETPATH): relative, '/'-separated, nothing that
 * could leave a directory. `field` is the name its errors carry ("" = the node itself).
 */
export function targetPath(field: "path" | "") {
  return extend(
    Type.String({ minLength: 1, maxLength: 1024, description: "relative, '/'-separated; no '.' or '..'" }),
    {
      opaque: true,
      check: tufCheck((value) => checkTargetPath(value, field), field === "" ? 0 : 1),
    },
  );
}

/** A role name in a request (root, targets, a bin, a delegated role). */
export const RoleName = extend(Type.String({ minLength: 1, pattern: ROLE_NAME.source }), {
  messages: {
    type: words("Input should be a valid string", "string_type"),
    minLength: words("Input should be a valid string", "string_type"),
    pattern: words("role names use letters, digits, '_' and '-'"),
  },
});
