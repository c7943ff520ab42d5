/**
 * Canonical JSON as TUF clients compute it before verifying a signature: OLPC
 * canonical JSON, as securesystemslib and @tufjs/canonical-json write it —
 * keys sorted, no whitespace, only `"` and `\` escaped in strings, integers only.
 *
 * Why not the `canonicalize` package (RFC 8785): RFC 8785 escapes control
 * characters, OLPC writes them raw. PEM public keys (ecdsa and rsa keys in every
 * real root, see test/fixtures/rstuf) contain newlines, so rejecting control
 * characters is not an option and RFC 8785 output would not match the bytes
 * clients verify. So we encode OLPC directly; a differential test proves byte
 * equality with @tufjs/canonical-json on the whole corpus.
 *
 * Raw control characters are not valid JSON, so the bytes we *publish* are
 * `jsonTextOf(canonicalText)`: the same text with control characters escaped —
 * valid JSON that parses to the same value, whose canonical form is again the
 * signed text.
 *
 * What we still reject (`assertCanonicalSafe`), naming the field: non-integer
 * or unsafe numbers (OLPC has none; JS would print exponents), lone surrogates
 * (not encodable as UTF-8), and object keys with characters outside the BMP
 * (securesystemslib sorts by code point, JS clients by UTF-16 code unit: they
 * would disagree on the bytes).
 */
import { TufError, joinField } from "./errors.ts";
import { REQUEST_MAX_DEPTH } from "./limits.ts";

const CONTROL = /[\u0000-\u001f]/;
const CONTROL_G = /[\u0000-\u001f]/g;
const SURROGATE = /[\ud800-\udfff]/;
const NEEDS_ESCAPE = /["\\]/;
const NEEDS_ESCAPE_G = /["\\]/g;

/**
 * Iterative (an explicit stack, children visited in order): untrusted input
 * nested 20,000 levels deep overflowed the call stack here once. Values
 * nested deeper than REQUEST_MAX_DEPTH are refused, so the recursive
 * encoder below never descends further than that.
 */
export function assertCanonicalSafe(value: unknown, field = ""): void {
  const stack: [unknown, string, number][] = [[value, field, 0]];
  while (stack.length > 0) {
    const [v, f, depth] = stack.pop()!;
    switch (typeof v) {
      case "string":
        if (!v.isWellFormed()) throw new TufError(f, "string contains a lone surrogate (not valid Unicode)");
        continue;
      case "number":
        if (!Number.isSafeInteger(v))
          throw new TufError(f, `number ${v} is not allowed: signed metadata holds only integers in ±(2^53-1)`);
        continue;
      case "boolean":
        continue;
      case "object": {
        if (v === null) continue;
        if (depth >= REQUEST_MAX_DEPTH)
          throw new TufError(f, `nested deeper than ${REQUEST_MAX_DEPTH} levels (signed metadata must stay shallow)`);
        if (Array.isArray(v)) {
          for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], joinField(f, i), depth + 1]);
          continue;
        }
        const entries = Object.entries(v);
        for (let i = entries.length - 1; i >= 0; i--) {
          const [k, child] = entries[i]!;
          if (child === undefined) continue; // omitted by canonicalJson, as by JSON
          const sub = joinField(f, k);
          if (SURROGATE.test(k))
            throw new TufError(
              sub,
              "object keys must not contain characters outside the Basic Multilingual Plane (clients disagree on their sort order)",
            );
          stack.push([child, sub, depth + 1]);
        }
        continue;
      }
      default:
        throw new TufError(f, `${typeof v} values cannot be encoded`);
    }
  }
}

/** `"text"` as OLPC canonical JSON writes a string: only `"` and `\` escaped. */
export function canonicalString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? `"${text.replace(NEEDS_ESCAPE_G, "\\$&")}"` : `"${text}"`;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One value's canonical text; strings are concatenated (JavaScriptCore ropes), not joined from parts. */
function encode(value: unknown): string {
  switch (typeof value) {
    case "string":
      return canonicalString(value);
    case "number":
      if (!Number.isSafeInteger(value)) throw new TufError("", `cannot encode number ${value} in canonical JSON`);
      return Object.is(value, -0) ? "0" : String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let text = "[";
        for (let i = 0; i < value.length; i++) text += `${i > 0 ? "," : ""}${encode(value[i])}`;
        return `${text}]`;
      }
      const obj = value as Record<string, unknown>;
      // Keys whose value is undefined do not exist in JSON.
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort(byCodeUnit);
      let text = "{";
      for (let i = 0; i < keys.length; i++)
        text += `${i > 0 ? "," : ""}${canonicalString(keys[i]!)}:${encode(obj[keys[i]!])}`;
      return `${text}}`;
    }
    default:
      throw new TufError("", `cannot encode ${typeof value} in canonical JSON`);
  }
}

/** OLPC canonical JSON text. Callers must have checked untrusted input with assertCanonicalSafe. */
export function canonicalJson(value: unknown): string {
  return encode(value);
}

/** Checks and serializes in one step (for untrusted input). */
export function canonicalJsonChecked(value: unknown, field = ""): string {
  assertCanonicalSafe(value, field);
  return canonicalJson(value);
}

/**
 * Valid JSON for canonical text: raw control characters (which only occur
 * inside strings, canonical text has no whitespace) become JSON escapes.
 */
export function jsonTextOf(canonicalText: string): string {
  if (!CONTROL.test(canonicalText)) return canonicalText;
  return canonicalText.replace(CONTROL_G, (c) => {
    switch (c) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      case "\b":
        return "\\b";
      case "\f":
        return "\\f";
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    }
  });
}

const encoder = new TextEncoder();
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Canonical JSON of an object whose entries are already serialized, as
 * `[key, canonicalValueText]` pairs. Used to assemble large targets documents
 * from cached per-target fragments instead of re-serializing everything.
 * Keys must be unique; they are sorted here (UTF-16 code unit order).
 */
export function canonicalObjectFromEntries(entries: [string, string][]): string {
  const sorted = sortedEntries(entries);
  // Concatenated rather than joined from parts: a 16384-bin publication
  // assembles ~200 MB of these, and JavaScriptCore's string ropes make `+=`
  // about half the cost of an array join.
  let text = "{";
  for (let i = 0; i < sorted.length; i++) {
    const [k, v] = sorted[i]!;
    text += `${i > 0 ? "," : ""}${canonicalString(k)}:${v}`;
  }
  return `${text}}`;
}

const byKey = (a: [string, string], b: [string, string]) => byCodeUnit(a[0], b[0]);

/**
 * `entries` in key order. Usually they nearly are: a bin's entries as its
 * last document listed them, then the few paths this publication adds. The
 * sorted run is kept and the rest sorted and merged into it, instead of
 * sorting everything again.
 */
function sortedEntries(entries: [string, string][]): [string, string][] {
  let run = 1;
  while (run < entries.length && entries[run - 1]![0] < entries[run]![0]) run++;
  if (run >= entries.length) return entries;
  const rest = entries.slice(run).sort(byKey);
  const out: [string, string][] = new Array(entries.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < run && j < rest.length) out[o++] = byKey(entries[i]!, rest[j]!) <= 0 ? entries[i++]! : rest[j++]!;
  while (i < run) out[o++] = entries[i++]!;
  while (j < rest.length) out[o++] = rest[j++]!;
  return out;
}
