/**
 * How many hash bins (TAP 15 succinct delegation) a repository should have,
 * for the clients that read it (issue 17, "Choose the bin count for the
 * clients"). Pure: numbers in, advice out; the server, `tufbox bins advise`
 * and `tufbox status` all call `adviseBins`.
 *
 * The count pulls two ways:
 * - More bins: each bin holds fewer target entries, so the bin a client
 *   downloads to look up one target is smaller; a bin over the 5,000,000-byte
 *   download cap (tuf/limits.ts) cannot be loaded by tuf-js or python-tuf at
 *   all, so every artifact in it is lost to clients.
 * - Fewer bins: the snapshot lists one entry per role (spec 4.4: every
 *   targets role in `meta`), downloaded whenever it changes and loaded on
 *   every refresh. tuf-js (@tufjs/models 5: an object spread inside a reduce,
 *   in both `Snapshot.fromJSON` and `toJSON`, which signature verification
 *   calls) spends time growing at least with the SQUARE of the roles in the
 *   snapshot, on every refresh, even from its cache. Measured with
 *   scripts/bench/clients.ts (README "Choosing the number of bins"); the
 *   issue measured python-tuf flat (0.2–0.3 s from 1024 to 16384 bins).
 *
 * The advice: enough bins that the bins stay under the download target and
 * far from the cap, but no more than tuf-js loads within its budget — unless
 * the cap needs more, because a bin over the cap is worse than a slow client.
 */
import { MAX_BINS, MIN_BINS } from "./bins.ts";
import { CLIENT_MAX_BYTES } from "./limits.ts";

/**
 * Download target for one bin: 64 KiB (about 400 entries of ~160 bytes).
 * Why 64 KiB: a lookup downloads the snapshot and one bin, and at the most
 * bins tuf-js loads within its budget (2048) the snapshot is itself ~64 KB;
 * a bin of the same order keeps a lookup near 128 KB (about a tenth of a
 * second on a slow 8 Mbit/s link). The sum of the two is smallest when they
 * are about equal, which for 1M artifacts is at ~2048 bins.
 */
export const BIN_TARGET_BYTES = 64 * 1024;
/** Bins should stay under half the client cap: room for the repository to double before a resize is urgent. */
export const BIN_CAP_HEADROOM_BYTES = CLIENT_MAX_BYTES.targets / 2;
/** What a fresh tuf-js client's refresh may cost (TUFJS_REFRESH_MEASURED) before the advice stops adding bins. */
export const TUFJS_BUDGET_SECONDS = 1;
/**
 * A fresh tuf-js 6.0.2 client's first refresh, in seconds, by roles in the
 * snapshot (bins + targets), measured with scripts/bench/clients.ts on this
 * project's shared 2-core machine (2026-11-30, 10,000 artifacts, median of 3
 * runs; 1 run at 16384). Growth is worse than quadratic at the top (memory
 * and garbage collection on top of the quadratic parse), so estimates
 * interpolate this table rather than a formula. The issue measured 1.5–3.5×
 * these figures on a busier day: hence a budget of one second.
 */
export const TUFJS_REFRESH_MEASURED: readonly (readonly [roles: number, seconds: number])[] = [
  [257, 0.085],
  [1025, 0.148],
  [2049, 0.416],
  [4097, 1.327],
  [8193, 8.693],
  [16385, 57.824],
];
/** A fresh repository gets this many bins when fewer would do: room to grow to ~100k artifacts, ~8 KB of snapshot. */
export const SMALL_REPOSITORY_BINS = 256;
/** Warn when the current count is this factor (or more) away from the advice. */
export const FAR_FACTOR = 4;

/**
 * Bytes one target entry adds to a bin when nothing measured says better:
 * canonical `"<path>":{"hashes":{"sha256":"…64…"},"length":N}` is ~105 bytes
 * plus the path: 133–135 bytes with 28-character paths in scripts/bench/clients.ts,
 * and test/server/api/bins-advice.test.ts checks ~160 for a 50-character path
 * in a bin a real server publishes.
 */
export const ASSUMED_ENTRY_BYTES = 160;
/** An empty bin: signed envelope, `_type`, `expires`, `spec_version`, `version`, one ed25519 signature (measured). */
export const BIN_ENVELOPE_BYTES = 341;
/** The snapshot without its `meta` entries (measured), and one entry without its name's hex digits and version. */
export const SNAPSHOT_ENVELOPE_BYTES = 330;
const SNAPSHOT_ENTRY_FIXED_BYTES = 26; // `"bins-` + `.json":{"version":` + `},` around hex digits and version
const SNAPSHOT_VERSION_DIGITS = 4;

export interface BinEstimate {
  bins: number;
  /** a bin with the average number of entries */
  mean_bin_bytes: number;
  /** the fullest bin to expect (sha256 spreads paths like balls into bins) */
  largest_bin_bytes: number;
  snapshot_bytes: number;
  /** tuf-js first refresh, estimated from the role count */
  tufjs_refresh_seconds: number;
}

export interface BinAdviceInput {
  artifacts: number;
  /** mean bytes one target entry adds to a bin, measured from published bins; default ASSUMED_ENTRY_BYTES */
  entryBytes?: number;
  /** the repository's bin count now, if it has bins */
  currentBins?: number;
  /** roles in the snapshot besides the bins (targets itself, custom delegations) */
  otherRoles?: number;
}

export type BinWarningCode =
  | "bins-over-cap"
  | "bins-near-cap"
  | "tufjs-slow"
  | "far-from-recommended"
  | "cap-needs-slow-tufjs";

export interface BinWarning {
  severity: "critical" | "warning";
  code: BinWarningCode;
  message: string;
}

export interface BinAdvice {
  artifacts: number;
  entry_bytes: number;
  entry_bytes_source: "measured" | "assumed";
  /** roles in the snapshot besides the bins */
  other_roles: number;
  recommended: BinEstimate;
  current: BinEstimate | null;
  /** the recommended count keeps bins under the download target up to this many artifacts, under the cap headroom up to the second */
  holds_artifacts: { within_target: number; within_cap_headroom: number };
  /** the trade-off, in two lines */
  trade_off: [string, string];
  warnings: BinWarning[];
  limits: {
    bin_target_bytes: number;
    bin_cap_bytes: number;
    bin_cap_headroom_bytes: number;
    tufjs_budget_seconds: number;
    far_factor: number;
  };
}

const POWERS: readonly number[] = Array.from(
  { length: Math.log2(MAX_BINS) - Math.log2(MIN_BINS) + 1 },
  (_, i) => MIN_BINS * 2 ** i,
);

/** Entries in the fullest of `bins` bins holding `artifacts` paths spread by sha256 (a high estimate). */
export function largestBinEntries(artifacts: number, bins: number): number {
  if (artifacts <= 0) return 0;
  const mean = artifacts / bins;
  const ln = Math.log(bins);
  // Max load of balls into bins: mean + sqrt(2·mean·ln n), plus ln n for sparse bins.
  return Math.min(artifacts, Math.ceil(mean + Math.sqrt(2 * mean * ln) + ln));
}

export function snapshotBytes(bins: number, otherRoles = 1): number {
  const hex = (bins - 1).toString(16).length;
  const perEntry = SNAPSHOT_ENTRY_FIXED_BYTES + hex + SNAPSHOT_VERSION_DIGITS;
  return SNAPSHOT_ENVELOPE_BYTES + (bins + otherRoles) * perEntry;
}

/**
 * tuf-js refresh seconds for a snapshot listing `roles` roles: log-log
 * interpolation of TUFJS_REFRESH_MEASURED; its first figure below its first
 * point (a refresh's fixed cost — four requests, signature checks — is most
 * of it there), the last segment's slope beyond its last.
 */
export function tufjsRefreshSeconds(roles: number): number {
  const table = TUFJS_REFRESH_MEASURED;
  const [r0, s0] = table[0]!;
  if (roles <= r0) return s0;
  let i = 1;
  while (i < table.length - 1 && table[i]![0] < roles) i++;
  const [ra, sa] = table[i - 1]!;
  const [rb, sb] = table[i]!;
  const slope = Math.log(sb / sa) / Math.log(rb / ra);
  return sa * (roles / ra) ** slope;
}

export function estimateBins(bins: number, artifacts: number, entryBytes: number, otherRoles = 1): BinEstimate {
  return {
    bins,
    mean_bin_bytes: Math.round(BIN_ENVELOPE_BYTES + (artifacts / bins) * entryBytes),
    largest_bin_bytes: Math.round(BIN_ENVELOPE_BYTES + largestBinEntries(artifacts, bins) * entryBytes),
    snapshot_bytes: snapshotBytes(bins, otherRoles),
    tufjs_refresh_seconds: Math.round(tufjsRefreshSeconds(bins + otherRoles) * 1000) / 1000,
  };
}

/** Artifacts `bins` bins hold while `limit(estimate)` stays true (binary search; the estimates grow with artifacts). */
function capacity(bins: number, entryBytes: number, fits: (e: BinEstimate) => boolean): number {
  let lo = 0;
  let hi = 1;
  while (fits(estimateBins(bins, hi, entryBytes)) && hi < 2 ** 40) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(estimateBins(bins, mid, entryBytes))) lo = mid;
    else hi = mid;
  }
  return lo;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} KB`;
  return `${(n / 1_000_000).toFixed(n < 10_000_000 ? 2 : n < 100_000_000 ? 1 : 0)} MB`;
}

export function formatSeconds(s: number): string {
  return s < 0.1 ? `${Math.round(s * 1000)} ms` : `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
}

export function adviseBins(input: BinAdviceInput): BinAdvice {
  const artifacts = Math.max(0, Math.floor(input.artifacts));
  const measured = input.entryBytes !== undefined && Number.isFinite(input.entryBytes) && input.entryBytes > 0;
  const entryBytes = measured ? Math.round(input.entryBytes!) : ASSUMED_ENTRY_BYTES;
  const other = Math.max(0, Math.floor(input.otherRoles ?? 1));
  const at = (n: number) => estimateBins(n, artifacts, entryBytes, other);

  // The smallest count whose bins meet the target, and the smallest that keeps them clear of the cap.
  const forTarget = POWERS.find((n) => at(n).mean_bin_bytes <= BIN_TARGET_BYTES) ?? MAX_BINS;
  const forCap = POWERS.find((n) => at(n).largest_bin_bytes <= BIN_CAP_HEADROOM_BYTES) ?? MAX_BINS;
  // The largest count tuf-js loads within its budget.
  const forTufjs = [...POWERS].reverse().find((n) => at(n).tufjs_refresh_seconds <= TUFJS_BUDGET_SECONDS) ?? MIN_BINS;
  const bins = Math.max(forCap, Math.min(Math.max(forTarget, SMALL_REPOSITORY_BINS), forTufjs));
  const recommended = at(bins);

  const current = input.currentBins !== undefined && POWERS.includes(input.currentBins) ? at(input.currentBins) : null;
  const warnings: BinWarning[] = [];
  // No count holds the artifacts clear of the cap: only a split helps (several delegated roles, each with its bins).
  const noCountFits = recommended.largest_bin_bytes > BIN_CAP_HEADROOM_BYTES;
  if (current) {
    const n = current.bins;
    const fix =
      bins > n
        ? `resize to ${bins} bins${noCountFits ? " (the most there can be) and split the repository" : ""}`
        : "split the repository: no bin count holds this many artifacts clear of the limit";
    if (current.largest_bin_bytes > CLIENT_MAX_BYTES.targets)
      warnings.push({
        severity: "critical",
        code: "bins-over-cap",
        message: `with ${n} bins the fullest bins reach ~${formatBytes(current.largest_bin_bytes)}, over the ${CLIENT_MAX_BYTES.targets.toLocaleString("en-US")}-byte limit clients download: artifacts there cannot be published; ${fix}`,
      });
    else if (current.largest_bin_bytes > BIN_CAP_HEADROOM_BYTES)
      warnings.push({
        severity: "warning",
        code: "bins-near-cap",
        message: `with ${n} bins the fullest bins reach ~${formatBytes(current.largest_bin_bytes)}, over half the ${CLIENT_MAX_BYTES.targets.toLocaleString("en-US")}-byte client limit; ${fix}`,
      });
    if (current.tufjs_refresh_seconds > TUFJS_BUDGET_SECONDS)
      warnings.push({
        severity: "warning",
        code: "tufjs-slow",
        message: `with ${n} bins a tuf-js client spends ~${formatSeconds(current.tufjs_refresh_seconds)} loading the snapshot on every refresh (budget ${TUFJS_BUDGET_SECONDS} s)${bins < n ? `; ${bins} bins would take ~${formatSeconds(recommended.tufjs_refresh_seconds)}` : ""}`,
      });
    if (n >= bins * FAR_FACTOR || n * FAR_FACTOR <= bins)
      warnings.push({
        severity: "warning",
        code: "far-from-recommended",
        message: `${n} bins is ${n > bins ? `${n / bins}× more` : `${bins / n}× fewer`} than the ${bins} recommended for ${artifacts.toLocaleString("en-US")} artifacts`,
      });
  }
  if (recommended.tufjs_refresh_seconds > TUFJS_BUDGET_SECONDS)
    warnings.push({
      severity: "warning",
      code: "cap-needs-slow-tufjs",
      message: `${artifacts.toLocaleString("en-US")} artifacts need ${bins} bins${noCountFits ? ` (and even then the fullest bins reach ~${formatBytes(recommended.largest_bin_bytes)})` : ""} to keep bins clear of the client limit, and tuf-js clients then spend ~${formatSeconds(recommended.tufjs_refresh_seconds)} per refresh: consider splitting the repository (custom delegations with their own bins)`,
    });

  const bigger = at(Math.min(MAX_BINS, bins * 4));
  const tradeOff: [string, string] = [
    `More bins, smaller bins: ~${formatBytes(recommended.mean_bin_bytes)} per bin download at ${bins} bins for ${artifacts.toLocaleString("en-US")} artifacts (target ≤ ${BIN_TARGET_BYTES / 1024} KiB; clients refuse a bin over ${CLIENT_MAX_BYTES.targets.toLocaleString("en-US")} bytes).`,
    `Fewer bins, a smaller snapshot: ${formatBytes(recommended.snapshot_bytes)} at ${bins} bins, loaded on every refresh, which tuf-js parses in time growing faster than the square of the bin count (~${formatSeconds(recommended.tufjs_refresh_seconds)} at ${bins}, ~${formatSeconds(bigger.tufjs_refresh_seconds)} at ${bigger.bins}).`,
  ];

  return {
    artifacts,
    entry_bytes: entryBytes,
    entry_bytes_source: measured ? "measured" : "assumed",
    other_roles: other,
    recommended,
    current,
    holds_artifacts: {
      within_target: capacity(bins, entryBytes, (e) => e.mean_bin_bytes <= BIN_TARGET_BYTES),
      within_cap_headroom: capacity(bins, entryBytes, (e) => e.largest_bin_bytes <= BIN_CAP_HEADROOM_BYTES),
    },
    trade_off: tradeOff,
    warnings,
    limits: {
      bin_target_bytes: BIN_TARGET_BYTES,
      bin_cap_bytes: CLIENT_MAX_BYTES.targets,
      bin_cap_headroom_bytes: BIN_CAP_HEADROOM_BYTES,
      tufjs_budget_seconds: TUFJS_BUDGET_SECONDS,
      far_factor: FAR_FACTOR,
    },
  };
}

/**
 * What a bin count alone costs tuf-js, when that is over its budget (a
 * ceremony or quickstart choosing the count before any artifact exists);
 * null when the count is fine for both client families.
 */
export function binCountConcern(bins: number): string | null {
  const t = tufjsRefreshSeconds(bins + 1);
  if (t <= TUFJS_BUDGET_SECONDS) return null;
  return `with ${bins} hash bins tuf-js clients spend ~${formatSeconds(t)} loading the snapshot on every refresh (budget ${TUFJS_BUDGET_SECONDS} s); fewer bins suit all but the largest repositories: tufbox bins advise --artifacts N`;
}

/**
 * Mean bytes one target entry adds to a bin, from what is published: the
 * bins' total bytes less one envelope each, over the artifacts in them.
 * Undefined when there is nothing to measure.
 */
export function measuredEntryBytes(binsTotalBytes: number, bins: number, artifacts: number): number | undefined {
  if (artifacts <= 0 || bins <= 0) return undefined;
  const bytes = (binsTotalBytes - bins * BIN_ENVELOPE_BYTES) / artifacts;
  return bytes > 0 ? Math.round(bytes * 10) / 10 : undefined;
}
