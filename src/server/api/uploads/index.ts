/**
 * Artifact uploads (tufbox's own routes, same envelope as RSTUF's):
 * - PUT /api/v1/artifacts/content/<target path>: the raw bytes;
 * - POST /api/v1/artifacts/upload: multipart/form-data, `file` parts (their
 *   filenames are the target paths) and an optional `path_prefix` field.
 * Bytes are streamed into storage and hashed on the way (storage/content.ts),
 * then added exactly like POST /api/v1/artifacts (same task, same path rules,
 * `?publish=false` as `publish_artifacts: false`). Everything that can be
 * checked before the body is read is (auth, bootstrapped, path, custom,
 * declared size), so a refused request changes nothing and reads nothing.
 * A 202 means the bytes are durable (fsync'd / acknowledged by S3) and the
 * change is committed.
 */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { assertCanonicalSafe } from "../../../tuf/canonical.ts";
import { checkTargetPath } from "../../../tuf/metadata.ts";
import { TufError } from "../../../tuf/errors.ts";
import { StateError, ValidationError } from "../../../repository/errors.ts";
import type { AddArtifactsPayload } from "../../../repository/payloads.ts";
import {
  StorageError,
  UploadError,
  type ContentHash,
  type Digest,
  type StagedContent,
} from "../../../storage/storage.ts";
import { targetInfoOf, type ArtifactContent } from "../../../storage/content.ts";
import { MultipartError, multipartBoundary, readMultipart } from "../../../ingest/multipart.ts";
import { HttpError } from "../../errors.ts";
import { ErrorDetail, errorResponses } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, route } from "../route.ts";
import { ContentAccepted, FormAccepted, formSchema, putQuery, uploadQuery } from "./model.ts";

const CONTENT_PREFIX = "/api/v1/artifacts/content/";
const SKIPPED = " Publishing will be skipped.";
const MAX_FIELD_BYTES = 4096;
const TAG = "artifacts";

type Loc = (string | number)[];

export function uploadRoutes(app: App): ApiRoute[] {
  const refusals = {
    ...errorResponses({ body: true, query: true }),
    400: { description: "a header is malformed (Content-Length) or the body ended early", schema: ErrorDetail },
    413: { description: "the upload is larger than limits.max_upload_bytes", schema: ErrorDetail },
  };
  return [
    route({
      method: "PUT",
      path: "/api/v1/artifacts/content/*",
      tag: TAG,
      summary:
        "Upload an artifact's bytes to the target path after /content/ (optional headers: Content-Digest, X-Tufbox-Custom)",
      query: putQuery,
      streamed: {
        contentType: "application/octet-stream",
        schema: Type.String({ format: "binary" }),
        description: "the artifact's bytes; hashed on the way, durable before the 202",
      },
      responses: { 202: { description: "stored and accepted", schema: ContentAccepted }, ...refusals },
      handle: ({ query, request }) => putContent(app, request, query),
    }),
    route({
      method: "POST",
      path: "/api/v1/artifacts/upload",
      tag: TAG,
      summary: "Upload artifacts as a multipart form: `file` parts (filenames are target paths), optional path_prefix",
      query: uploadQuery,
      streamed: {
        contentType: "multipart/form-data",
        schema: formSchema,
        description: "file parts named `file`, their filenames the target paths; optional `path_prefix`",
      },
      responses: { 202: { description: "stored and accepted", schema: FormAccepted }, ...refusals },
      handle: ({ query, request }) => uploadForm(app, request, query),
    }),
  ];
}

function content(app: App): ArtifactContent {
  return app.content;
}

function requireBootstrapped(app: App): void {
  if (!app.repo.bootstrapped) throw new StateError("System has not a Repository Metadata");
}

async function putContent(
  app: App,
  request: Request,
  query: { publish?: boolean; add_task_id_to_custom?: boolean },
): Promise<Response> {
  requireBootstrapped(app);
  const url = new URL(request.url);
  const path = targetPathOf(url.pathname.slice(url.pathname.indexOf(CONTENT_PREFIX) + CONTENT_PREFIX.length));
  const publish = query.publish ?? true;
  const addTaskId = query.add_task_id_to_custom ?? false;
  const custom = customHeader(request.headers.get("x-tufbox-custom"));
  const expectedDigest = contentDigest(request.headers.get("content-digest"));
  const declared = declaredLength(request, app);
  if (!request.body && declared === undefined) throw ValidationError.at(["body"], "Field required", "missing");
  const digest = await receive(
    () =>
      content(app).receive(request.body ?? [], {
        expectedLength: declared ?? (request.body ? undefined : 0),
        expectedDigest,
      }),
    app,
  );
  const info = targetInfoOf(digest, custom);
  const payload: AddArtifactsPayload = { artifacts: [{ path, info }], addTaskIdToCustom: addTaskId, publish };
  const { taskId } = await app.repo.acceptAdd(payload, actorOf(app, request));
  return accepted("New Artifact(s) successfully submitted." + (publish ? "" : SKIPPED), {
    artifacts: [path],
    task_id: taskId,
    last_update: new Date().toISOString(),
    length: digest.length,
    hashes: info.hashes,
  });
}

interface FormFile {
  filename: string;
  staged: StagedContent;
}

async function uploadForm(app: App, request: Request, query: { publish?: boolean }): Promise<Response> {
  requireBootstrapped(app);
  const publish = query.publish ?? true;
  const boundary = multipartBoundary(request.headers.get("content-type"));
  if (boundary === undefined)
    throw ValidationError.at(
      ["header", "content-type"],
      "expected multipart/form-data with a boundary (file parts, optional path_prefix)",
      "value_error",
    );
  // Checked up front; a body shorter than declared ends the form early (readMultipart refuses it).
  declaredLength(request, app);
  if (!request.body) throw ValidationError.at(["body", "file"], "Field required", "missing");
  const limit = app.config.limits;
  const files: FormFile[] = [];
  let prefix: string | undefined;
  let budget = content(app).maxUploadBytes;
  try {
    await receive(async () => {
      for await (const part of readMultipart(request.body!, boundary)) {
        if (part.name === "path_prefix") {
          if (prefix !== undefined) throw ValidationError.at(["body", "path_prefix"], "given twice");
          prefix = await fieldText(part.body, ["body", "path_prefix"]);
          // Files already received are checked at the end; later ones before their bytes are read.
          checkPrefix(prefix);
          continue;
        }
        if (part.name !== "file")
          throw ValidationError.at(
            ["body", part.name],
            "Extra inputs are not permitted (allowed: file, path_prefix)",
            "extra_forbidden",
          );
        const index = files.length;
        if (part.filename === undefined || part.filename === "")
          throw ValidationError.at(["body", "file", index, "filename"], "a file part needs a filename", "missing");
        if (index >= limit.max_artifacts_per_request)
          throw ValidationError.at(
            ["body", "file"],
            `at most ${limit.max_artifacts_per_request} files per request; split the upload`,
            "too_long",
          );
        if (prefix !== undefined) formPath(prefix, part.filename, index);
        const staged = await content(app).stage(part.body, { maxBytes: budget });
        budget -= staged.length;
        files.push({ filename: part.filename, staged });
      }
    }, app);
    if (files.length === 0) throw ValidationError.at(["body", "file"], "Field required", "missing");
    const paths = files.map((f, i) => formPath(prefix ?? "", f.filename, i));
    const seen = new Map<string, number>();
    paths.forEach((p, i) => {
      if (seen.has(p))
        throw ValidationError.at(["body", "file", i, "filename"], `duplicate path ${JSON.stringify(p)} in one request`);
      seen.set(p, i);
    });
    const digests: Digest[] = await receive(() => content(app).keepAll(files.map((f) => f.staged)), app);
    const payload: AddArtifactsPayload = {
      artifacts: paths.map((path, i) => ({ path, info: targetInfoOf(digests[i]!, undefined) })),
      addTaskIdToCustom: false,
      publish,
    };
    const { taskId } = await app.repo.acceptAdd(payload, actorOf(app, request));
    return accepted("New Artifact(s) successfully submitted." + (publish ? "" : SKIPPED), {
      artifacts: paths,
      task_id: taskId,
      last_update: new Date().toISOString(),
      files: paths.map((path, i) => ({
        path,
        length: digests[i]!.length,
        hashes: payload.artifacts[i]!.info.hashes,
      })),
    });
  } finally {
    // Staged files that were not kept (refused form, disconnect) go now.
    for (const f of files) await f.staged.discard();
  }
}

/** Run a storage step, turning its errors into HTTP answers. */
async function receive<T>(fn: () => Promise<T>, app: App): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UploadError) {
      const status = err.kind === "too_large" ? 413 : 400;
      const message = err.kind === "too_large" ? "Request body too large" : "Bad request";
      throw new HttpError(status, message, err.message);
    }
    if (err instanceof MultipartError) throw ValidationError.at(["body"], `malformed multipart form: ${err.message}`);
    if (err instanceof StorageError) {
      app.log.error("artifact storage failed", { error: err.message, hint: err.hint });
      throw new HttpError(503, "Service Unavailable", `${err.message}; nothing was added. Hint: ${err.hint}`, {
        "retry-after": "5",
      });
    }
    throw err;
  }
}

function declaredLength(request: Request, app: App): number | undefined {
  const header = request.headers.get("content-length");
  if (header === null) return undefined;
  if (!/^\d+$/.test(header.trim()))
    throw new HttpError(400, "Bad request", `Content-Length ${JSON.stringify(header)} is not a byte count`);
  const n = Number(header);
  const max = app.content.maxUploadBytes;
  // Refused before a byte of the body is read.
  if (n > max)
    throw new HttpError(
      413,
      "Request body too large",
      `the upload is ${n} bytes; the limit is ${max} (limits.max_upload_bytes)`,
    );
  return n;
}

/** The target path from the URL: each segment percent-decoded; an encoded '/' is refused as ambiguous. */
function targetPathOf(encoded: string): string {
  if (encoded === "") throw ValidationError.at(["path"], "give the target path after /api/v1/artifacts/content/");
  if (/%2f/i.test(encoded))
    throw ValidationError.at(["path"], "an encoded '/' (%2F) in the target path is ambiguous; use '/'");
  let path: string;
  try {
    path = encoded
      .split("/")
      .map((s) => decodeURIComponent(s))
      .join("/");
  } catch {
    throw ValidationError.at(["path"], "the target path is not valid percent-encoded UTF-8");
  }
  return checkPath(path, ["path"]);
}

function checkPath(path: string, loc: Loc): string {
  try {
    return checkTargetPath(path, "");
  } catch (err) {
    if (err instanceof TufError)
      throw ValidationError.at(loc, `target path ${JSON.stringify(path)} ${err.message.replace(/^: /, "")}`);
    throw err;
  }
}

function checkPrefix(prefix: string): void {
  if (prefix === "") return;
  checkPath(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix, ["body", "path_prefix"]);
}

function formPath(prefix: string, filename: string, index: number): string {
  const dir = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  return checkPath(dir + filename, ["body", "file", index, "filename"]);
}

function customHeader(value: string | null): Record<string, unknown> | undefined {
  if (value === null) return undefined;
  const loc: Loc = ["header", "x-tufbox-custom"];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw ValidationError.at(loc, "expected a JSON object", "json_invalid");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw ValidationError.at(loc, "Input should be a valid dictionary", "dict_type");
  try {
    assertCanonicalSafe(parsed, "custom");
  } catch (err) {
    if (err instanceof TufError) throw ValidationError.at(loc, err.message);
    throw err;
  }
  return parsed as Record<string, unknown>;
}

/** RFC 9530 Content-Digest: `sha-256=:<base64>:, sha-512=:<base64>:`; unknown algorithms are ignored. */
function contentDigest(value: string | null): Partial<Record<ContentHash, string>> | undefined {
  if (value === null) return undefined;
  const out: Partial<Record<ContentHash, string>> = {};
  for (const item of value.split(",")) {
    const m = /^\s*([A-Za-z0-9-]+)\s*=\s*:([A-Za-z0-9+/=]*):\s*$/.exec(item);
    if (!m) throw ValidationError.at(["header", "content-digest"], "expected sha-256=:BASE64: (RFC 9530)");
    const alg = m[1]!.toLowerCase();
    const hex = Buffer.from(m[2]!, "base64").toString("hex");
    if (alg === "sha-256") out.sha256 = hex;
    else if (alg === "sha-512") out.sha512 = hex;
  }
  return out;
}

async function fieldText(body: AsyncIterable<Uint8Array>, loc: Loc): Promise<string> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.byteLength;
    if (n > MAX_FIELD_BYTES) throw ValidationError.at(loc, `at most ${MAX_FIELD_BYTES} bytes`);
    parts.push(chunk);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(parts));
  } catch {
    throw ValidationError.at(loc, "not valid UTF-8");
  }
}
