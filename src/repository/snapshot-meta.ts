/**
 * The snapshot's `meta` object as canonical text, rebuilt on every
 * publication without re-sorting and re-serializing every entry: with 16384
 * bins a single-artifact publication changes two or three of ~16,400 entries,
 * and copying, sorting and escaping all of them was ~10 ms of each
 * publication (issue 15: add → visible latency). The sorted entry texts are
 * kept per meta map and only the changed ones are rebuilt.
 */
import { canonicalObjectFromEntries, canonicalString } from "../tuf/canonical.ts";

interface Assembled {
  /** sorted keys (UTF-16 code unit order, as canonical JSON sorts) */
  keys: string[];
  /** `"<key>":<value>` for each key, in the same order */
  pieces: string[];
  index: Map<string, number>;
}

const cache = new WeakMap<Map<string, string>, Assembled>();

function assemble(meta: Map<string, string>): Assembled {
  let a = cache.get(meta);
  if (a && a.keys.length === meta.size) return a;
  const keys = [...meta.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  a = {
    keys,
    pieces: keys.map((k) => `${canonicalString(k)}:${meta.get(k)}`),
    index: new Map(keys.map((k, i) => [k, i])),
  };
  cache.set(meta, a);
  return a;
}

/**
 * Canonical JSON text of `meta` with `changes` applied (new values for
 * existing or new names), without modifying `meta`.
 */
export function snapshotMetaText(meta: Map<string, string>, changes: Map<string, string>): string {
  for (const name of changes.keys()) {
    if (!meta.has(name)) return canonicalObjectFromEntries([...new Map([...meta, ...changes])]);
  }
  const a = assemble(meta);
  if (changes.size === 0) return `{${a.pieces.join(",")}}`;
  const pieces = a.pieces.slice();
  for (const [name, value] of changes) pieces[a.index.get(name)!] = `${canonicalString(name)}:${value}`;
  return `{${pieces.join(",")}}`;
}

/** Apply `changes` to `meta` in place (after they were published), keeping its cached text in step. */
export function applySnapshotMeta(meta: Map<string, string>, changes: Map<string, string>): void {
  for (const [name, value] of changes) {
    const known = meta.has(name);
    meta.set(name, value);
    const a = cache.get(meta);
    if (!a) continue;
    // A new name changes the order: assembled again on next use.
    if (!known) cache.delete(meta);
    else a.pieces[a.index.get(name)!] = `${canonicalString(name)}:${value}`;
  }
}
