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
import { extend, tufCheck } from "../schema.ts";
import { KEYID_PATTERN, RoleName } from "../tuf-model.ts";

const parseTargetsAt = tufCheck((value) => parseTargets(value, "metadata"));

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
      { opaque: true, check: (value: unknown, loc) => parseTargetsAt(value, loc) },
    ),
  },
  { additionalProperties: false },
);

export type DelegatedUploadBody = Static<typeof delegatedUploadBody>;
