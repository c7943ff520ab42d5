/**
 * RSTUF API 1.0.1 declares some request fields Optional (`X | None = None` in
 * its pydantic models) and hands its worker `payload.dict(exclude_none=True)`,
 * so an explicit `null` there means exactly what leaving the field out means.
 * Its own CLI relies on that: `rstuf artifact add` sends `"custom": null`.
 *
 * The parsers in payloads.ts drop those nulls before checking, so a null never
 * reaches metadata (a target with `"custom": null` would differ from what RSTUF
 * publishes for the same request). Only the fields RSTUF declares Optional are
 * listed: a null anywhere else stays a 422, as it is in RSTUF.
 * test/contract/optional-fields.test.ts holds the table of every such field.
 */

/** Optional fields of RSTUF's `TUFKeys` (delegation keys). */
export const OPTIONAL_KEY_FIELDS = ["name", "x-rstuf-key-name", "x-rstuf-online-key-uri"] as const;

/** `value` without the listed keys whose value is null; anything else is returned as it is. */
export function dropNull(value: unknown, keys: readonly string[]): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  if (!keys.some((k) => obj[k] === null)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!(v === null && keys.includes(k))) out[k] = v;
  return out;
}

/** A metadata envelope whose `signatures[].bundle: null` (RSTUF's `TUFSignatures`) are dropped. */
export function dropNullSignatureBundles(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  if (!Array.isArray(obj.signatures)) return value;
  return { ...obj, signatures: obj.signatures.map((s) => dropNull(s, ["bundle"])) };
}
