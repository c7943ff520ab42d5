/**
 * The snapshot's `meta` object as canonical text, rebuilt on every
 * publication without re-sorting and re-serializing every entry: with 16384
 * bins a single-artifact publication changes two or three of ~16,400 entries,
 * and copying, sorting and escaping all of them was ~10 ms of each
 * publication (issue 15: add → visible latency). The sorted entry texts are
 * kept per meta map and only the changed ones are rebuilt.
 */
import { canonicalObjectFromEntries, canonicalString } from "../tuf/canonical.ts";

/** Entries per block whose joined text is kept (16384 bins: 128 blocks). */
const BLOCK = 128;

interface Assembled {
  /** sorted keys (UTF-16 code unit order, as canonical JSON sorts) */
  keys: string[];
  /** `"<key>":<value>` for each key, in the same order */
  pieces: string[];
  index: Map<string, number>;
  /**
   * `pieces` joined by commas, BLOCK at a time: joining 16384 pieces for
   * every publication was ~3 ms of a single-artifact publication; now only
   * the blocks a publication changes are joined again.
   */
  blocks: string[];
}

const cache = new WeakMap<Map<string, string>, Assembled>();

function joinBlock(pieces: string[], b: number): string {
  return pieces.slice(b * BLOCK, (b + 1) * BLOCK).join(",");
}

function assemble(meta: Map<string, string>): Assembled {
  let a = cache.get(meta);
  if (a && a.keys.length === meta.size) return a;
  const keys = [...meta.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const pieces = keys.map((k) => `${canonicalString(k)}:${meta.get(k)}`);
  const blocks: string[] = [];
  for (let b = 0; b * BLOCK < pieces.length; b++) blocks.push(joinBlock(pieces, b));
  a = { keys, pieces, index: new Map(keys.map((k, i) => [k, i])), blocks };
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
  if (changes.size === 0) return `{${a.blocks.join(",")}}`;
  // Few changes (a small publication): re-join only their blocks.
  const changed = new Map<number, string[]>();
  for (const [name, value] of changes) {
    const i = a.index.get(name)!;
    const b = Math.floor(i / BLOCK);
    const block = changed.get(b) ?? a.pieces.slice(b * BLOCK, (b + 1) * BLOCK);
    changed.set(b, block);
    block[i - b * BLOCK] = `${canonicalString(name)}:${value}`;
  }
  const blocks = a.blocks.slice();
  for (const [b, block] of changed) blocks[b] = block.join(",");
  return `{${blocks.join(",")}}`;
}

/** Apply `changes` to `meta` in place (after they were published), keeping its cached text in step. */
export function applySnapshotMeta(meta: Map<string, string>, changes: Map<string, string>): void {
  const a = cache.get(meta);
  const stale = new Set<number>();
  for (const [name, value] of changes) {
    const known = meta.has(name);
    meta.set(name, value);
    if (!a || !cache.has(meta)) continue;
    // A new name changes the order: assembled again on next use.
    if (!known) {
      cache.delete(meta);
      continue;
    }
    const i = a.index.get(name)!;
    a.pieces[i] = `${canonicalString(name)}:${value}`;
    stale.add(Math.floor(i / BLOCK));
  }
  if (a && cache.has(meta)) for (const b of stale) a.blocks[b] = joinBlock(a.pieces, b);
}
