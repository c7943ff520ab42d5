/** Request bodies of the artifact routes (RSTUF-API.md "Artifacts"), and what the engine gets from them. */
import { type Static, Type } from "@sinclair/typebox";
import { ValidationError } from "../../../repository/errors.ts";
import type { AddArtifactsPayload, RemoveArtifactsPayload } from "../../../repository/payloads.ts";
import { assertCanonicalSafe, canonicalJson } from "../../../tuf/canonical.ts";
import { CUSTOM_MAX_BYTES_DEFAULT, checkCustomShape } from "../../../tuf/limits.ts";
import { checkHashes, checkTargetPath, type TargetFile } from "../../../tuf/metadata.ts";
import { extend, tufCheck, type ValidationContext, words } from "../schema.ts";
import { targetPath } from "../tuf-model.ts";

/** The per-request cap, in its own words: a client is told to split, not that a list is too long. */
function artifactList<T extends ReturnType<typeof Type.Array>>(list: T, max: number): T {
  return extend(list, {
    messages: {
      maxItems: (v) =>
        words(`at most ${max} artifacts per request (got ${(v as unknown[]).length}); split the request`, "too_long"),
    },
  });
}

const Hashes = extend(
  Type.Record(Type.String({ pattern: "^[a-z0-9][a-z0-9-]*$" }), Type.String({ pattern: "^([0-9a-f]{2})+$" }), {
    minProperties: 1,
    description: "hex digests by algorithm (sha256, sha512, blake2b-256, …)",
  }),
  { opaque: true, check: tufCheck((v) => checkHashes(v, "hashes")) },
);

/**
 * `custom` is signed metadata: only what canonical JSON can carry (integers,
 * no lone surrogates), shallow and small enough for every client (tuf/limits.ts).
 */
function custom(maxBytes: number) {
  return extend(
    Type.Object({}, { additionalProperties: true, description: `signed as given; at most ${maxBytes} bytes` }),
    {
      check: tufCheck((v) => {
        assertCanonicalSafe(v, "custom");
        checkCustomShape(v, "custom", () => Buffer.byteLength(canonicalJson(v)), maxBytes);
      }),
    },
  );
}

const targetInfo = (maxCustomBytes: number) =>
  Type.Object(
    {
      length: extend(Type.Integer({ minimum: 0 }), {
        messages: { "*": words("Input should be a non-negative integer", "int_type") },
      }),
      hashes: Hashes,
      custom: Type.Optional(Type.Union([custom(maxCustomBytes), Type.Null()])),
    },
    { additionalProperties: false },
  );

const checkPath = tufCheck((v) => checkTargetPath(v, "path"));

const artifact = (maxCustomBytes: number) =>
  Type.Object(
    {
      path: extend(targetPath("path"), {
        // Unique within one request: two entries for one path would make the published one depend on order.
        check: (v: unknown, loc, ctx: ValidationContext) => {
          const path = checkPath(v, loc);
          const seen = ctx.memo("artifact paths", () => new Set<string>());
          if (seen.has(path)) throw ValidationError.at(loc, `duplicate path ${JSON.stringify(path)} in one request`);
          seen.add(path);
          return path;
        },
      }),
      info: targetInfo(maxCustomBytes),
    },
    { additionalProperties: false },
  );

export function addArtifactsBody(maxArtifacts: number, maxCustomBytes = CUSTOM_MAX_BYTES_DEFAULT) {
  return Type.Object(
    {
      artifacts: artifactList(
        Type.Array(artifact(maxCustomBytes), { minItems: 1, maxItems: maxArtifacts }),
        maxArtifacts,
      ),
      add_task_id_to_custom: Type.Optional(
        Type.Boolean({ default: false, description: "add custom.added_by_task_id to each artifact" }),
      ),
      publish_artifacts: Type.Optional(
        Type.Boolean({ default: true, description: "false: keep the changes until POST /api/v1/artifacts/publish" }),
      ),
    },
    { additionalProperties: false },
  );
}

export function removeArtifactsBody(maxArtifacts: number) {
  return Type.Object(
    {
      artifacts: artifactList(Type.Array(targetPath(""), { minItems: 1, maxItems: maxArtifacts }), maxArtifacts),
      publish_artifacts: Type.Optional(Type.Boolean({ default: true })),
    },
    { additionalProperties: false },
  );
}

export type AddArtifactsBody = Static<ReturnType<typeof addArtifactsBody>>;
export type RemoveArtifactsBody = Static<ReturnType<typeof removeArtifactsBody>>;

export function toAddArtifacts(body: AddArtifactsBody): AddArtifactsPayload {
  return {
    artifacts: body.artifacts.map((a) => ({ path: a.path, info: a.info as TargetFile })),
    addTaskIdToCustom: body.add_task_id_to_custom ?? false,
    publish: body.publish_artifacts ?? true,
  };
}

export function toRemoveArtifacts(body: RemoveArtifactsBody): RemoveArtifactsPayload {
  return { paths: [...new Set(body.artifacts)], publish: body.publish_artifacts ?? true };
}
