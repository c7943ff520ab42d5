/**
 * A targets document's entries read straight out of its bytes: path → the
 * canonical JSON of its target info, exactly the fragment the document was
 * assembled from (document.ts canonicalTargetsText).
 *
 * The embedded store keeps no second copy of every entry (issue 15): the
 * bins' head documents are the record, and the publisher reads a bin's
 * entries back from them. Parsing 16384 documents with JSON.parse and
 * serializing every entry again would cost several times what this costs:
 * canonical text is sliced, not rebuilt. A string holding an escape other
 * than the two canonical ones (`\"`, `\\`: a raw control character in the
 * canonical text, which the envelope writes as a JSON escape) takes the slow
 * path through JSON.parse and canonicalJson, so the fragment is still the
 * canonical text.
 */
import { canonicalJson } from "./canonical.ts";
import { TufError } from "./errors.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const decoder = new TextDecoder("utf-8", { fatal: true });

function malformed(where: string): never {
  throw new TufError("targets", `not a targets document: ${where}`);
}

/** Index just past the string that opens at `i` (s[i] is `"`). */
function skipString(s: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = s.indexOf('"', from);
    if (q < 0) malformed("unterminated string");
    let slashes = 0;
    for (let b = q - 1; s.charCodeAt(b) === BACKSLASH; b--) slashes++;
    if ((slashes & 1) === 0) return q + 1;
    from = q + 1;
  }
}

/** Index just past the JSON value that starts at `i`. */
function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return skipString(s, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    for (let j = i; j < s.length; ) {
      const ch = s.charCodeAt(j);
      if (ch === QUOTE) {
        j = skipString(s, j);
        continue;
      }
      if (ch === LBRACE || ch === LBRACKET) depth++;
      else if ((ch === RBRACE || ch === RBRACKET) && --depth === 0) return j + 1;
      j++;
    }
    malformed("unterminated object or array");
  }
  // number, true, false, null: up to the next separator
  let j = i;
  while (j < s.length) {
    const ch = s.charCodeAt(j);
    if (ch === COMMA || ch === RBRACE || ch === RBRACKET) break;
    j++;
  }
  if (j === i) malformed(`no value at offset ${i}`);
  return j;
}

/** A member key as a string: sliced when it holds no escape. */
function keyText(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  return inner.includes("\\") ? (JSON.parse(s.slice(start, end)) as string) : inner;
}

/**
 * Walks the members of the object that opens at `i`. `member(key, from)` is
 * called with where each value starts and returns where it ends, or -1 to
 * stop there (without reading the rest).
 */
function eachMember(s: string, i: number, member: (key: string, from: number) => number): void {
  if (s.charCodeAt(i) !== LBRACE) malformed(`expected an object at offset ${i}`);
  let j = i + 1;
  if (s.charCodeAt(j) === RBRACE) return;
  for (;;) {
    if (s.charCodeAt(j) !== QUOTE) malformed(`expected a key at offset ${j}`);
    const keyEnd = skipString(s, j);
    if (s.charCodeAt(keyEnd) !== COLON) malformed(`expected ':' at offset ${keyEnd}`);
    const valueEnd = member(keyText(s, j, keyEnd), keyEnd + 1);
    if (valueEnd < 0) return;
    const next = s.charCodeAt(valueEnd);
    if (next === RBRACE) return;
    if (next !== COMMA) malformed(`expected ',' or '}' at offset ${valueEnd}`);
    j = valueEnd + 1;
  }
}

/** Where the value of member `name` of the object at `i` starts, or -1. */
function memberStart(s: string, i: number, name: string): number {
  let found = -1;
  eachMember(s, i, (key, from) => {
    if (key !== name) return skipValue(s, from);
    found = from;
    return -1;
  });
  return found;
}

/**
 * `[path, fragment]` for every entry of a serialized targets document (the
 * envelope with `signatures` and `signed`), in the document's order (code
 * unit order, as canonical JSON sorts keys). Throws TufError on anything
 * that is not a targets document in the compact form tufbox writes.
 */
export function targetsEntriesOf(bytes: Uint8Array): [string, string][] {
  const s = decoder.decode(bytes);
  const signed = memberStart(s, 0, "signed");
  if (signed < 0) malformed("no signed part");
  const targets = memberStart(s, signed, "targets");
  if (targets < 0) malformed("no targets");
  const out: [string, string][] = [];
  eachMember(s, targets, (path, from) => {
    const to = skipValue(s, from);
    const text = s.slice(from, to);
    // Rare (a quote, backslash or control character in a value): parsed and written canonically again.
    out.push([path, text.includes("\\") ? canonicalJson(JSON.parse(text)) : text]);
    return to;
  });
  return out;
}
