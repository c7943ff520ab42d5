/**
 * Every bound on what reaches signed metadata, in one place (issue 10).
 *
 * Why bounds at all: one artifact's `custom` nested a few thousand levels deep
 * was accepted, signed into a bin, and made that whole bin unreadable for
 * python-tuf (RecursionError) and tuf-js (stack overflow while
 * canonicalizing) — every other artifact in the bin with it. A published
 * document is shared by many inputs, so each input must be small and shallow
 * enough that the document it lands in stays readable by every client.
 *
 * Two kinds of numbers live here:
 * - input bounds, checked when a request arrives (422 naming the field and
 *   the limit): depth and size of `custom`, target paths, hashes, names,
 *   expirations, delegation counts;
 * - client limits, checked on every document before it is published: the
 *   download caps TUF clients apply when the referring metadata gives no
 *   length (tuf-js and python-tuf defaults, DESIGN.md "Client limits") and a
 *   nesting depth far below what their recursive parsers survive.
 *
 * The one configurable input bound (`custom` bytes per artifact) is a config
 * key (`limits.max_custom_bytes`); its default and range are here. Pure: no
 * I/O, nothing above the TUF layer.
 */
import { TufError, joinField } from "./errors.ts";

/** Nesting of an artifact's `custom` object (the object itself is level 1). */
export const CUSTOM_MAX_DEPTH = 32;
/** Default and allowed range of `limits.max_custom_bytes` (canonical JSON bytes of one artifact's `custom`). */
export const CUSTOM_MAX_BYTES_DEFAULT = 16 * 1024;
export const CUSTOM_MAX_BYTES_RANGE = [256, 1024 * 1024] as const;

/** Target paths (spec 4.5 TARGETPATH): characters, and '/'-separated segments. */
export const TARGET_PATH_MAX_LENGTH = 1024;
export const TARGET_PATH_MAX_SEGMENTS = 64;

/** Hashes listed for one target (or one METAFILE). */
export const HASHES_MAX = 8;
export const HASH_NAME_MAX_LENGTH = 32;
/** Digest length in hex characters for the algorithms clients know; others: even length in HASH_HEX_RANGE. */
export const HASH_HEX_LENGTHS: Readonly<Record<string, number>> = {
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
  "sha512-224": 56,
  "sha512-256": 64,
  "sha3-224": 56,
  "sha3-256": 64,
  "sha3-384": 96,
  "sha3-512": 128,
  blake2b: 128,
  "blake2b-256": 64,
  "blake2b-512": 128,
  blake2s: 64,
  "blake2s-256": 64,
};
export const HASH_HEX_RANGE = [32, 128] as const;

/** Delegated role names (they become file names `N.<name>.json`). */
export const ROLE_NAME_MAX_LENGTH = 64;
/** `x-rstuf-key-name` and any other string a key carries besides its material. */
export const KEY_NAME_MAX_LENGTH = 256;
/** A whole key object, as canonical JSON (an RSA-4096 PEM is ~800 bytes). */
export const KEY_MAX_BYTES = 16 * 1024;
/** Keys in a root or in a targets `delegations.keys`. */
export const KEYS_MAX = 128;
/** Signatures on one document; a hex signature (RSA-4096: 1024 hex characters). */
export const SIGNATURES_MAX = 128;
export const SIGNATURE_MAX_HEX = 2048;

/** Custom delegations (RSTUF `delegations`). */
export const DELEGATED_ROLES_MAX = 1024;
export const DELEGATION_KEYIDS_MAX = 64;
export const DELEGATION_PATHS_MAX = 256;
/** sha256 is 64 hex characters: a longer prefix can match nothing. */
export const PATH_HASH_PREFIX_MAX_LENGTH = 64;

/** Expirations in days (settings, bootstrap, PUT /config, x-rstuf-expire-policy): up to 100 years. */
export const EXPIRATION_DAYS_MIN = 1;
export const EXPIRATION_DAYS_MAX = 36_500;

/**
 * Nesting of a request's JSON body. Deeper bodies are refused before
 * anything walks them (JSON.stringify overflows at ~100,000 levels, our own
 * encoder much earlier). Leaves room for `custom` (5 levels down) and for a
 * root document (3 levels down) to reach their own, named, limits first.
 */
export const REQUEST_MAX_DEPTH = 64;

/**
 * Nesting of a published document. A target with `custom` at its limit sits
 * at depth 4 + 32 = 36; python-tuf fails near 1,000 levels, tuf-js near 3,500.
 */
export const DOCUMENT_MAX_DEPTH = 48;

/**
 * Default maximum download sizes of tuf-js and python-tuf (ngclient config),
 * used when the referring metadata gives no length: a document over its cap
 * can never be loaded, so it is never published.
 */
export const CLIENT_MAX_BYTES = {
  timestamp: 16_384,
  root: 512_000,
  snapshot: 2_000_000,
  /** targets and every delegated targets role (bins included) */
  targets: 5_000_000,
} as const;

/** The client download cap that applies to a role's documents. */
export function clientMaxBytes(role: string): number {
  if (role === "timestamp" || role === "root" || role === "snapshot") return CLIENT_MAX_BYTES[role];
  return CLIENT_MAX_BYTES.targets;
}

/**
 * Whether a JSON-shaped value nests deeper than `max` (objects and arrays
 * count one level each; scalars none). Iterative, so a value nested a
 * million levels deep is answered without touching the call stack.
 */
export function nestingExceeds(value: unknown, max: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Nesting depth of serialized JSON, by scanning its bytes: what a client's
 * parser will have to descend. Linear, no parse; strings (most of a
 * document: paths, digests, keys) are skipped with the native indexOf, so a
 * publish that writes thousands of bins pays about what hashing them costs.
 */
export function documentDepth(bytes: Uint8Array): number {
  let depth = 0;
  let max = 0;
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const c = bytes[i]!;
    if (c === 0x22) {
      // To the closing quote: one not preceded by an odd number of backslashes.
      let j = i + 1;
      for (;;) {
        j = bytes.indexOf(0x22, j);
        if (j < 0) return max;
        let backslashes = 0;
        for (let k = j - 1; k > i && bytes[k] === 0x5c; k--) backslashes++;
        if (backslashes % 2 === 0) break;
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
    i++;
  }
  return max;
}

/**
 * Why a document could not be loaded by TUF clients, or null when it can:
 * over the download cap for its role, or nested too deep.
 */
export function clientLimitViolation(role: string, bytes: Uint8Array): string | null {
  return sizeViolation(role, bytes.byteLength) ?? depthViolation(role, documentDepth(bytes));
}

/** Why a document of `size` bytes is too big for clients, or null. */
export function sizeViolation(role: string, size: number): string | null {
  const cap = clientMaxBytes(role);
  if (size <= cap) return null;
  const what = role === "timestamp" || role === "root" || role === "snapshot" ? role : "a targets role";
  return `${role} would be ${size} bytes, over the ${cap}-byte limit TUF clients download for ${what}; ${sizeFix(role)}`;
}

/** What an operator does about a document that outgrew its client limit (issue 15: the error names the fix). */
function sizeFix(role: string): string {
  if (role === "root") return "fix: fewer keys or signatures in root";
  if (role === "timestamp") return "fix: a shorter key (the timestamp lists one snapshot)";
  if (role === "snapshot") return "fix: fewer targets roles (fewer hash bins or delegated roles)";
  if (role === "targets") return "fix: delegate the artifacts to hash bins or delegated roles";
  return "fix: more hash bins (re-bin the repository with a larger number of bins) or split the delegated role";
}

/** Why a document nesting `depth` levels is too deep for clients, or null. */
export function depthViolation(role: string, depth: number): string | null {
  if (depth <= DOCUMENT_MAX_DEPTH) return null;
  return `${role} would nest ${depth} levels deep, over the limit of ${DOCUMENT_MAX_DEPTH} that every TUF client parses`;
}

/**
 * An expiration in days: an integer in 1..36,500 whose resulting date (from
 * `now`) is a valid `YYYY-MM-DDTHH:MM:SSZ` — a year before 10000.
 */
export function checkExpirationDays(days: unknown, field: string, now: Date = new Date()): number {
  if (typeof days !== "number" || !Number.isSafeInteger(days)) throw new TufError(field, "expected an integer");
  if (days < EXPIRATION_DAYS_MIN || days > EXPIRATION_DAYS_MAX)
    throw new TufError(
      field,
      `expiration must be between ${EXPIRATION_DAYS_MIN} and ${EXPIRATION_DAYS_MAX} days (100 years), got ${days}`,
    );
  const end = now.getTime() + days * 86_400_000;
  if (!(end < YEAR_10000_MS)) throw new TufError(field, `${days} days from now is after the year 9999`);
  return days;
}

/** 10000-01-01T00:00:00Z: the first instant `YYYY-MM-DDTHH:MM:SSZ` cannot write. */
export const YEAR_10000_MS = Date.UTC(10000, 0, 1);

/** An artifact's `custom`: at most CUSTOM_MAX_DEPTH levels and `maxBytes` of canonical JSON. */
export function checkCustomShape(custom: unknown, field: string, canonicalBytes: () => number, maxBytes: number): void {
  if (nestingExceeds(custom, CUSTOM_MAX_DEPTH))
    throw new TufError(field, `custom must not nest deeper than ${CUSTOM_MAX_DEPTH} levels`);
  const size = canonicalBytes();
  if (size > maxBytes)
    throw new TufError(
      field,
      `custom is ${size} bytes as canonical JSON; the limit is ${maxBytes} bytes per artifact (limits.max_custom_bytes)`,
    );
}

/** A list no longer than `max`, named in the error. */
export function checkCount(list: { length: number }, max: number, field: string, what: string): void {
  if (list.length > max) throw new TufError(field, `at most ${max} ${what} (got ${list.length})`);
}

/** A string no longer than `max` characters. */
export function checkLength(value: string, max: number, field: string, what: string): void {
  if (value.length > max) throw new TufError(field, `${what} must be at most ${max} characters (got ${value.length})`);
}

/** A hash value for algorithm `name`: lower-case hex of the algorithm's digest length. */
export function checkHashValue(name: string, value: unknown, field: string): void {
  if (typeof value !== "string" || !/^[0-9a-f]+$/.test(value))
    throw new TufError(field, "expected a lower-case hex digest");
  const known = Object.hasOwn(HASH_HEX_LENGTHS, name) ? HASH_HEX_LENGTHS[name] : undefined;
  if (known !== undefined) {
    if (value.length !== known)
      throw new TufError(field, `a ${name} digest is ${known} hex characters (got ${value.length})`);
    return;
  }
  const [min, max] = HASH_HEX_RANGE;
  if (value.length % 2 !== 0 || value.length < min || value.length > max)
    throw new TufError(field, `expected an even number of hex characters between ${min} and ${max}`);
}

/** Strings in a key besides its material (`x-rstuf-key-name`, …) and the key as a whole. */
export function checkKeySize(key: Record<string, unknown>, field: string, canonicalBytes: () => number): void {
  for (const [name, value] of Object.entries(key)) {
    if (name === "keyval") continue;
    if (typeof value === "string") checkLength(value, KEY_NAME_MAX_LENGTH, joinField(field, name), name);
  }
  const size = canonicalBytes();
  if (size > KEY_MAX_BYTES)
    throw new TufError(field, `a key must be at most ${KEY_MAX_BYTES} bytes as canonical JSON (got ${size})`);
}
