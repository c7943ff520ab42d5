/** `--custom JSON` of `tufbox artifact add` and `tufbox artifact upload`: a target's custom object. */
import { assertCanonicalSafe } from "../tuf/canonical.ts";
import { TufError } from "../tuf/errors.ts";
import { UsageError } from "./args.ts";

export function parseCustomFlag(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError("--custom is not JSON", `give a JSON object, e.g. --custom '{"build": "1234"}'`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UsageError("--custom must be a JSON object", `e.g. --custom '{"build": "1234"}'`);
  try {
    assertCanonicalSafe(value, "custom");
  } catch (err) {
    if (err instanceof TufError)
      throw new UsageError(
        `--custom: ${err.message}`,
        "TUF metadata is canonical JSON: integers, strings, booleans, null, lists and objects only",
      );
    throw err;
  }
  return value as Record<string, unknown>;
}
