/**
 * Reading a request body: size checked before parsing (413 naming the
 * limit), malformed JSON a 422 like FastAPI's `json_invalid`, never a 500.
 */
import { ValidationError } from "../../repository/errors.ts";
import { HttpError } from "../errors.ts";
import { REQUEST_MAX_DEPTH, nestingExceeds } from "../../tuf/limits.ts";

/** The JSON body of `request`, at most `maxBytes`; `emptyAs` is what an empty body means (else a 422). */
export async function readJson(request: Request, maxBytes: number, opts: { emptyAs?: unknown } = {}): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes)
    throw new HttpError(
      413,
      "Request body too large",
      `the body is ${declared} bytes; the limit is ${maxBytes} (limits.max_body_bytes)`,
    );
  const buf = await request.arrayBuffer();
  if (buf.byteLength > maxBytes)
    throw new HttpError(
      413,
      "Request body too large",
      `the body is larger than the limit of ${maxBytes} bytes (limits.max_body_bytes)`,
    );
  if (buf.byteLength === 0) {
    if ("emptyAs" in opts) return opts.emptyAs;
    throw ValidationError.at(["body"], "Field required", "missing");
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw ValidationError.at(["body"], "body is not valid UTF-8", "json_invalid");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw ValidationError.at(
      ["body"],
      `JSON decode error: ${err instanceof Error ? err.message : "invalid JSON"}`,
      "json_invalid",
    );
  }
  // Before anything walks it: deeper bodies overflow recursive code (and
  // never hold anything a TUF document may contain).
  if (nestingExceeds(value, REQUEST_MAX_DEPTH))
    throw ValidationError.at(["body"], `JSON nested deeper than ${REQUEST_MAX_DEPTH} levels`, "value_error");
  return value;
}
