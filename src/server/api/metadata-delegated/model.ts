/**
 * The body of an uploaded delegated role (RSTUF's draft shape, API PR #939
 * for issue #647: `{"rolename": "<role>", "metadata": {"signed": {…},
 * "signatures": […]}}`). The schema checks that `metadata` is targets
 * metadata (spec 4.5, tuf/metadata.ts); everything that depends on what is
 * published (keys, threshold, version, paths, expiry) is checked by the
 * engine (repository/delegated-upload.ts), also answered with 422.
 */
import { type Static, Type } from "@sinclair/typebox";
import { parseTargets } from "../../../tuf/metadata.ts";
import { ValidationError } from "../../../repository/errors.ts";
import { TufError } from "../../../tuf/errors.ts";
import { extend, type Loc, tufCheck } from "../schema.ts";
import { KEYID_PATTERN, RoleName } from "../tuf-model.ts";

const TARGETS_FIELD = "metadata.signed.targets.";

/**
 * parseTargets, with its errors placed under the request's loc. A target
 * path is one loc segment even when it holds dots (`a-1.0.tar.gz`), which a
 * dotted TufError field cannot say: the path is found among the document's
 * own target paths (the longest that prefixes the field).
 */
function parseTargetsAt(value: unknown, loc: Loc) {
  try {
    return parseTargets(value, "metadata");
  } catch (err) {
    if (!(err instanceof TufError) || !err.field.startsWith(TARGETS_FIELD))
      return tufCheck(() => {
        throw err;
      })(value, loc);
    const rest = err.field.slice(TARGETS_FIELD.length);
    const targets = (value as { signed: { targets: Record<string, unknown> } }).signed.targets;
    const path = Object.keys(targets)
      .filter((p) => rest === p || rest.startsWith(`${p}.`))
      .sort((a, b) => b.length - a.length)[0];
    if (path === undefined) throw ValidationError.fromTuf(err, loc.slice(0, -1));
    const below = rest.slice(path.length + 1);
    const msg = err.message.slice(err.field.length + 2);
    throw ValidationError.at([...loc, "signed", "targets", path, ...(below ? below.split(".") : [])], msg);
  }
}

export const delegatedUploadBody = Type.Object(
  {
    rolename: RoleName,
    metadata: extend(
      Type.Object(
        {
          signed: Type.Object(
            {
              _type: Type.Literal("targets"),
              spec_version: Type.String(),
              version: Type.Integer({ minimum: 1, description: "the published version + 1" }),
              expires: Type.String({ description: "YYYY-MM-DDTHH:MM:SSZ, in the future" }),
              targets: Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }), {
                description: "paths inside the role's delegated paths",
              }),
            },
            { additionalProperties: true },
          ),
          signatures: Type.Array(
            Type.Object({
              keyid: Type.String({ pattern: KEYID_PATTERN }),
              sig: Type.String({ pattern: "^[0-9a-f]+$" }),
            }),
            { description: "at least the role's threshold of its keys" },
          ),
        },
        { additionalProperties: true, description: "the role's next version, fully signed by its offline keys" },
      ),
      { opaque: true, check: (value: unknown, loc: Loc) => parseTargetsAt(value, loc) },
    ),
  },
  { additionalProperties: false },
);

export type DelegatedUploadBody = Static<typeof delegatedUploadBody>;
