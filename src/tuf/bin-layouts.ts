/**
 * Hash-bin layouts over a repository's life (TAP 15 succinct roles, re-binned
 * online): which bin names the current layout delegates to, and which names
 * only earlier layouts used. Pure: no I/O.
 *
 * Every layout keeps the name prefix (`bins`), so names of different bit
 * lengths coincide when their hex width is the same (`bins-0` is a bin of 2,
 * 4, 8 and 16 bins). A coinciding name is not a new role to clients: it
 * continues the old role's version numbers (one higher than the last version
 * of that name ever published), which is all the spec asks of it —
 * snapshot rollback check (spec 5.5.5: a role's version in the new snapshot
 * is ≥ its version in the trusted one) and the delegated targets check
 * against snapshot (5.6.2 / 5.6.7.x: the fetched version equals the one the
 * snapshot lists). See src/repository/rebin.ts for why this and not a new
 * prefix per layout.
 */
import { SuccinctBins } from "./bins.ts";

/** The bit lengths of earlier layouts, without the current one (deduplicated, ascending). */
export function retiredBitLengths(previous: readonly number[], oldBitLength: number, newBitLength: number): number[] {
  const all = new Set([...previous, oldBitLength]);
  all.delete(newBitLength);
  return [...all].sort((a, b) => a - b);
}

/**
 * A role name only an earlier layout delegated to: still listed in snapshot
 * with its last version (spec 5.5.5, clients reject a snapshot that drops a
 * role), never delegated, so never re-signed and never expected unexpired.
 */
export function isRetiredBin(role: string, current: SuccinctBins, retired: readonly SuccinctBins[]): boolean {
  if (current.isBin(role)) return false;
  return retired.some((layout) => layout.isBin(role));
}

/** The layouts named by `bitLengths` under `prefix`. */
export function layoutsOf(bitLengths: readonly number[], prefix: string): SuccinctBins[] {
  return bitLengths.map((b) => new SuccinctBins(b, prefix));
}

/**
 * The bins of layout `toBits` whose paths all come from bin `index` of layout
 * `fromBits` (growing), or the one bin they all go to (shrinking): a path's
 * bin is the first bits of sha256(path), so one is a prefix of the other.
 * Returned as the half-open index range [first, end).
 */
export function binsFedBy(index: number, fromBits: number, toBits: number): [number, number] {
  if (toBits >= fromBits) {
    const span = 2 ** (toBits - fromBits);
    return [index * span, (index + 1) * span];
  }
  const first = Math.floor(index / 2 ** (fromBits - toBits));
  return [first, first + 1];
}
