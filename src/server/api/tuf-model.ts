/**
 * TUF documents and names as they appear inside request bodies: the schema
 * says their shape (for /openapi.json and the types); the TUF layer's own
 * parsers decide (src/tuf/), so a key, a root or a target path is checked by
 * exactly the code that checks it everywhere else.
 */
import { type Static, Type } from "@sinclair/typebox";
import { canonicalJson } from "../../tuf/canonical.ts";
import { serializeEnvelope } from "../../tuf/document.ts";
import { PublicKey } from "../../tuf/keys.ts";
import {
  checkCount,
  checkExpirationDays,
  checkLength,
  clientLimitViolation,
  EXPIRATION_DAYS_MAX,
  KEYS_MAX,
  ROLE_NAME_MAX_LENGTH,
} from "../../tuf/limits.ts";
import { ValidationError } from "../../repository/errors.ts";
import { checkTargetPath, parseRoot } from "../../tuf/metadata.ts";
import { ROLE_NAME } from "../../tuf/roles.ts";
import { KEY_NAME, ONLINE_KEY_URI } from "../../tuf/rstuf.ts";
import { dropNull, dropNullSignatureBundles, OPTIONAL_KEY_FIELDS } from "./optional-fields.ts";
import { extend, type Loc, tufCheck, words } from "./schema.ts";

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
export const Keys = extend(Type.Record(Type.String({ pattern: KEYID_PATTERN }), Key, { maxProperties: KEYS_MAX }), {
  messages: {
    pattern: words("keyids are 64 lower-case hex characters"),
    maxProperties: (v) => words(`at most ${KEYS_MAX} keys (got ${Object.keys(v as object).length})`),
  },
});

const RoleKeys = Type.Object({ keyids: Type.Array(Type.String()), threshold: Type.Integer({ minimum: 1 }) });

const parseRootAt = tufCheck((value) => parseRoot(value, "root"));

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
      check: (value: unknown, loc: Loc) => {
        const root = parseRootAt(opts.dropNullBundles ? dropNullSignatureBundles(value) : value, loc);
        // Within the client limits for root (size, nesting), checked on arrival so the 422 names it.
        const violation = clientLimitViolation("root", serializeEnvelope(canonicalJson(root.signed), root.signatures));
        if (violation) throw ValidationError.at(loc, violation);
        return root;
      },
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
export const RoleName = extend(
  Type.String({ minLength: 1, pattern: ROLE_NAME.source, maxLength: ROLE_NAME_MAX_LENGTH }),
  {
    opaque: true,
    check: (v: unknown, loc: Loc) => {
      if (typeof v !== "string" || v.length === 0)
        throw ValidationError.at(loc, "Input should be a valid string", "string_type");
      if (!ROLE_NAME.test(v)) throw ValidationError.at(loc, "role names use letters, digits, '_' and '-'");
      roleNameLength(v, loc);
    },
  },
);

/** Role names become file names (`N.<name>.json`): bounded (tuf/limits.ts). */
export const roleNameLength = tufCheck((v: string) => checkLength(v, ROLE_NAME_MAX_LENGTH, "", "role names"), 0);

/** A list no longer than `max`, in the words of tuf/limits.ts (its checks, its messages). */
export function atMost(max: number, what: string) {
  return tufCheck((v: { length: number }) => checkCount(v, max, "", what), 0);
}

/** Expiry in days: 1..36,500 and a resulting date before the year 10000 (tuf/limits.ts). */
export const ExpirationDays = extend(
  Type.Integer({ exclusiveMinimum: 0, maximum: EXPIRATION_DAYS_MAX, description: "days" }),
  {
    messages: {
      maximum: words(
        `Input should be less than or equal to ${EXPIRATION_DAYS_MAX} (days, 100 years)`,
        "less_than_equal",
      ),
    },
    check: tufCheck((v: number) => checkExpirationDays(v, ""), 0),
  },
);
