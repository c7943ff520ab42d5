/**
 * The checks of the TUF client workflow (spec 5.2–5.6), one function per
 * step, for anything that follows a repository like a client: the mirror,
 * export and bundle import. No I/O: callers download, these decide.
 *
 * Each check reports instead of throwing (as `verifyRole` does): a verdict
 * says whether the document is accepted and, if not, why, with a reason an
 * operator can alert on:
 * - `invalid`: not a TUF document of the expected role, or numbered wrongly;
 * - `tampered`: signatures below threshold, length or hashes that do not
 *   match what the referring metadata signed (the bytes were changed);
 * - `rollback`: a version lower than one already trusted;
 * - `expired`: expired metadata (a freeze attack, or a repository that
 *   stopped re-signing).
 *
 * Where the specification leaves a choice, this follows python-tuf's
 * ngclient (`TrustedMetadataSet`); each such place says so.
 */
import { lengthAndHashesMismatch } from "./file-hashes.ts";
import { parseExpires } from "./dates.ts";
import { SuccinctBins } from "./bins.ts";
import { TufError } from "./errors.ts";
import {
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type DelegatedRole,
  type Delegations,
  type MetaFile,
  type Metadata,
  type RoleKeys,
  type RootSigned,
  type SignedBase,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
} from "./metadata.ts";
import { signedBytesOf, verifyRole, type KeyLookup } from "./verify.ts";

export type TrustReason = "invalid" | "tampered" | "rollback" | "expired";

export type Verdict<T> = { ok: true; value: T } | { ok: false; reason: TrustReason; message: string };

export function accept<T>(value: T): Verdict<T> {
  return { ok: true, value };
}

export function refuse<T = never>(reason: TrustReason, message: string): Verdict<T> {
  return { ok: false, reason, message };
}

/** Client download caps when the referring metadata gives no length (python-tuf ngclient and tuf-js defaults). */
export const CLIENT_LIMITS = {
  root: 512_000,
  timestamp: 16_384,
  snapshot: 2_000_000,
  targets: 5_000_000,
} as const;

/** ngclient's `max_root_rotations`: how many new roots one update may walk (spec 5.3.3 "Y"). */
export const MAX_ROOT_ROTATIONS = 256;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes → a parsed document of the expected type; `name` is the file name, for messages. */
export function readDocument<T extends SignedBase>(
  bytes: Uint8Array,
  parse: (value: unknown, field: string) => Metadata<T>,
  name: string,
): Verdict<Metadata<T>> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return refuse("invalid", `${name} is not UTF-8 JSON`);
  }
  try {
    return accept(parse(value, name));
  } catch (err) {
    if (err instanceof TufError) return refuse("invalid", `${name} is not valid TUF metadata: ${err.message}`);
    throw err;
  }
}

function isExpired(signed: SignedBase, now: Date): boolean {
  // Spec 4.2 / ngclient `is_expired`: expired when the expiry is before the reference time.
  return parseExpires(signed.expires).getTime() <= now.getTime();
}

function thresholdMessage(name: string, by: string, r: { signed: string[]; threshold: number }): string {
  return `${name} has ${r.signed.length} valid signature(s) from ${by}; the threshold is ${r.threshold}`;
}

/**
 * 5.2: the root a client ships with. Its expiry does not matter (5.2), but it
 * must carry a threshold of its own root keys' signatures, as ngclient's
 * `_load_trusted_root` requires.
 */
export function trustedRoot(bytes: Uint8Array, name = "trusted root"): Verdict<Metadata<RootSigned>> {
  const doc = readDocument(bytes, parseRoot, name);
  if (!doc.ok) return doc;
  const root = doc.value;
  const own = verifyRole(signedBytesOf(root), root.signatures, root.signed.keys, root.signed.roles.root);
  if (!own.verified) return refuse("tampered", thresholdMessage(name, "its own root keys", own));
  return doc;
}

/**
 * 5.3.4–5.3.5: root N+1 must be signed by a threshold of root N's root keys
 * and of its own, and be exactly version N+1. Its expiry is not checked
 * (5.3.6); 5.3.10 checks the final root. ngclient checks the signatures of
 * root N before the version, so a forged file is reported as tampered.
 */
export function nextRoot(
  trusted: Metadata<RootSigned>,
  bytes: Uint8Array,
  name: string,
): Verdict<Metadata<RootSigned>> {
  const doc = readDocument(bytes, parseRoot, name);
  if (!doc.ok) return doc;
  const next = doc.value;
  const signedBytes = signedBytesOf(next);
  const n = trusted.signed.version;
  const byTrusted = verifyRole(signedBytes, next.signatures, trusted.signed.keys, trusted.signed.roles.root);
  if (!byTrusted.verified) return refuse("tampered", thresholdMessage(name, `root v${n}'s root keys`, byTrusted));
  if (next.signed.version !== n + 1)
    return refuse(
      next.signed.version <= n ? "rollback" : "invalid",
      `${name} holds version ${next.signed.version}; expected exactly ${n + 1}`,
    );
  const byOwn = verifyRole(signedBytes, next.signatures, next.signed.keys, next.signed.roles.root);
  if (!byOwn.verified) return refuse("tampered", thresholdMessage(name, "its own root keys", byOwn));
  return doc;
}

/** 5.3.10: the final root must not be expired. */
export function finalRoot(root: Metadata<RootSigned>, now: Date): Verdict<void> {
  if (isExpired(root.signed, now))
    return refuse("expired", `root v${root.signed.version} expired at ${root.signed.expires} (freeze attack?)`);
  return accept(undefined);
}

/**
 * 5.3.11: whether the new root changed the timestamp or snapshot keys; if so
 * the trusted timestamp and snapshot no longer count for rollback checks
 * (fast-forward attack recovery). ngclient gets the same effect by re-verifying
 * its stored timestamp and snapshot with the new root and ignoring them when
 * they do not verify; `stillTrusted` does that.
 */
export function stillTrusted(root: Metadata<RootSigned>, doc: Metadata<SignedBase>, role: "timestamp" | "snapshot") {
  return verifyRole(signedBytesOf(doc), doc.signatures, root.signed.keys, root.signed.roles[role]).verified;
}

export interface TimestampUpdate {
  timestamp: Metadata<TimestampSigned>;
  /** same version as the trusted one: nothing changed upstream (5.4.3.1) */
  unchanged: boolean;
}

/**
 * 5.4.2–5.4.4. `trusted` is the timestamp already trusted, if any (and only if
 * it still verifies with `root`, see 5.3.11). An equal version is not an error
 * (5.4.3.1: "discard the new timestamp metadata and abort the update cycle.
 * This is normal"); ngclient keeps the trusted one, and still refuses to go on
 * when that one has expired, which is what `unchanged` + the expiry check here do.
 */
export function newTimestamp(
  root: Metadata<RootSigned>,
  trusted: Metadata<TimestampSigned> | undefined,
  bytes: Uint8Array,
  now: Date,
): Verdict<TimestampUpdate> {
  const doc = readDocument(bytes, parseTimestamp, "timestamp.json");
  if (!doc.ok) return doc;
  const ts = doc.value;
  const sig = verifyRole(signedBytesOf(ts), ts.signatures, root.signed.keys, root.signed.roles.timestamp);
  if (!sig.verified) return refuse("tampered", thresholdMessage("timestamp.json", "the timestamp keys", sig));
  if (trusted) {
    const was = trusted.signed.version;
    const is = ts.signed.version;
    if (is < was) return refuse("rollback", `timestamp.json version ${is} is older than the trusted version ${was}`);
    if (is === was) {
      if (isExpired(trusted.signed, now))
        return refuse("expired", `timestamp.json v${was} expired at ${trusted.signed.expires} (freeze attack?)`);
      return accept({ timestamp: trusted, unchanged: true });
    }
    const oldSnap = trusted.signed.meta["snapshot.json"].version;
    const newSnap = ts.signed.meta["snapshot.json"].version;
    if (newSnap < oldSnap)
      return refuse(
        "rollback",
        `timestamp.json v${is} lists snapshot version ${newSnap}, older than the trusted ${oldSnap}`,
      );
  }
  if (isExpired(ts.signed, now))
    return refuse("expired", `timestamp.json v${ts.signed.version} expired at ${ts.signed.expires} (freeze attack?)`);
  return accept({ timestamp: ts, unchanged: false });
}

/** The snapshot file name a client downloads (5.5.1). */
export function snapshotName(root: RootSigned, ts: TimestampSigned): string {
  return root.consistent_snapshot ? `${ts.meta["snapshot.json"].version}.snapshot.json` : "snapshot.json";
}

/** The file name of a targets role a client downloads (5.6.1). */
export function targetsRoleName(root: RootSigned, role: string, version: number): string {
  return root.consistent_snapshot ? `${version}.${role}.json` : `${role}.json`;
}

/**
 * 5.5.2–5.5.6. `trusted` is the snapshot already trusted (if it still
 * verifies with `root`, 5.3.11). `knownGood`: the bytes are ones this program
 * verified before (ngclient's `trusted=True` for its local snapshot), so the
 * timestamp's hashes are not required to match them again.
 */
export function newSnapshot(
  root: Metadata<RootSigned>,
  ts: Metadata<TimestampSigned>,
  trusted: Metadata<SnapshotSigned> | undefined,
  bytes: Uint8Array,
  now: Date,
  knownGood = false,
): Verdict<Metadata<SnapshotSigned>> {
  const meta = ts.signed.meta["snapshot.json"];
  const name = snapshotName(root.signed, ts.signed);
  if (!knownGood) {
    const mismatch = lengthAndHashesMismatch(bytes, meta);
    if (mismatch) return refuse("tampered", `${name}: ${mismatch} in timestamp.json`);
  }
  const doc = readDocument(bytes, parseSnapshot, name);
  if (!doc.ok) return doc;
  const snap = doc.value;
  const sig = verifyRole(signedBytesOf(snap), snap.signatures, root.signed.keys, root.signed.roles.snapshot);
  if (!sig.verified) return refuse("tampered", thresholdMessage(name, "the snapshot keys", sig));
  if (snap.signed.version !== meta.version)
    return refuse(
      snap.signed.version < meta.version ? "rollback" : "invalid",
      `${name} holds version ${snap.signed.version}; timestamp.json lists ${meta.version}`,
    );
  if (trusted) {
    for (const [file, old] of Object.entries(trusted.signed.meta)) {
      const now_ = snap.signed.meta[file];
      // 5.5.5; ngclient refuses a snapshot that drops a file the trusted one listed.
      if (!now_)
        return refuse("rollback", `${name} no longer lists ${file} (trusted snapshot v${trusted.signed.version} did)`);
      if (now_.version < old.version)
        return refuse(
          "rollback",
          `${name} lists ${file} version ${now_.version}, older than the trusted version ${old.version}`,
        );
    }
  }
  if (isExpired(snap.signed, now))
    return refuse("expired", `${name} expired at ${snap.signed.expires} (freeze attack?)`);
  return doc;
}

/**
 * 5.6.2–5.6.5 for the top-level targets role (keys from root) and, the same
 * way, for a delegated role (keys from its delegator's `delegations`).
 * `meta` is the role's entry in the trusted snapshot.
 */
export function newTargets(
  bytes: Uint8Array,
  name: string,
  keys: KeyLookup,
  role: RoleKeys,
  meta: MetaFile,
  now: Date,
  knownGood = false,
): Verdict<Metadata<TargetsSigned>> {
  if (!knownGood) {
    const mismatch = lengthAndHashesMismatch(bytes, meta);
    if (mismatch) return refuse("tampered", `${name}: ${mismatch} in the snapshot`);
  }
  const doc = readDocument(bytes, parseTargets, name);
  if (!doc.ok) return doc;
  const t = doc.value;
  const sig = verifyRole(signedBytesOf(t), t.signatures, keys, role);
  if (!sig.verified) return refuse("tampered", thresholdMessage(name, "its delegator's keys", sig));
  if (t.signed.version !== meta.version)
    return refuse(
      t.signed.version < meta.version ? "rollback" : "invalid",
      `${name} holds version ${t.signed.version}; the snapshot lists ${meta.version}`,
    );
  if (isExpired(t.signed, now)) return refuse("expired", `${name} expired at ${t.signed.expires} (freeze attack?)`);
  return doc;
}

/** The keys and threshold `delegations` give role `name`, or undefined when it does not delegate to it. */
export function delegatedRoleKeys(delegations: Delegations, name: string): RoleKeys | undefined {
  if (delegations.roles) return delegations.roles.find((r) => r.name === name);
  const s = delegations.succinct_roles;
  if (s && new SuccinctBins(s.bit_length, s.name_prefix).isBin(name)) return s;
  return undefined;
}

/** Every role `delegations` delegates to, in order of appearance (bins in index order). */
export function delegatedRoleNames(delegations: Delegations): string[] {
  if (delegations.roles) return delegations.roles.map((r: DelegatedRole) => r.name);
  const s = delegations.succinct_roles;
  return s ? new SuccinctBins(s.bit_length, s.name_prefix).names() : [];
}
