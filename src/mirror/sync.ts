/**
 * One update of a mirror's metadata: the TUF client workflow (spec 5.1–5.6)
 * over a Source, starting from the state the mirror already trusts, checking
 * every step with src/tuf/trusted-set.ts. Unlike a client, which fetches
 * only the delegated roles on its search path, a mirror takes every targets
 * role reachable from the top-level targets role (all hash bins, every
 * delegation), so that devices behind it can take any path.
 *
 * All or nothing: the result is a complete new state plus the documents to
 * store, or a SyncFailure saying why; the caller commits it in one
 * transaction, so the mirror never serves a mix of old and new, and never
 * replaces verified data with anything that failed a check.
 *
 * What a mirror does where a client would do something else, and why:
 * - A delegated role that the snapshot does not list, or whose name cannot be
 *   a file name, is skipped with a warning: a client would fail only for the
 *   paths that lead there, so the mirror keeps serving the rest.
 * - A role listed under several delegators is verified with the first one
 *   found in delegation order (the one a client's pre-order search reaches
 *   first, 5.6.7).
 * - A role whose version did not change is not downloaded again; it is
 *   verified again (from the stored bytes) when its delegator changed, since
 *   its keys come from there (as ngclient re-verifies its cached files).
 */
import { canonicalJson } from "../tuf/canonical.ts";
import { formatExpires } from "../tuf/dates.ts";
import type { KeyLookup } from "../tuf/verify.ts";
import { lengthAndHashesMismatch } from "../tuf/file-hashes.ts";
import type {
  Delegations,
  MetaFile,
  Metadata,
  RoleKeys,
  RootSigned,
  SnapshotSigned,
  TimestampSigned,
} from "../tuf/metadata.ts";
import {
  CLIENT_LIMITS,
  MAX_ROOT_ROTATIONS,
  delegatedRoleKeys,
  delegatedRoleNames,
  finalRoot,
  newSnapshot,
  newTargets,
  newTimestamp,
  nextRoot,
  snapshotName,
  stillTrusted,
  targetsRoleName,
  type TrustReason,
  type Verdict,
} from "../tuf/trusted-set.ts";
import { parseMetadataFileName } from "../tuf/file-names.ts";
import { SourceError, type Source, type SourceFailure } from "./source.ts";
import type { MirrorDocument, RoleHead } from "./store.ts";

export type FailureReason = TrustReason | SourceFailure;

export const FAILURE_REASONS: readonly FailureReason[] = ["unreachable", "tampered", "rollback", "expired", "invalid"];

export class SyncFailure extends Error {
  readonly reason: FailureReason;
  constructor(reason: FailureReason, message: string) {
    super(message);
    this.name = "SyncFailure";
    this.reason = reason;
  }
}

/** What a mirror trusts: the newest verified root, timestamp, snapshot and every reachable targets role. */
export interface TrustedState {
  anchorVersion: number;
  root: Metadata<RootSigned>;
  rootBytes: Uint8Array;
  timestamp?: { doc: Metadata<TimestampSigned>; bytes: Uint8Array };
  snapshot?: { doc: Metadata<SnapshotSigned>; bytes: Uint8Array };
  heads: Map<string, RoleHead>;
}

export interface SyncProgress {
  phase: "root" | "timestamp" | "snapshot" | "targets";
  /** targets roles handled so far / listed in the snapshot */
  done: number;
  total: number;
  /** documents and bytes downloaded so far */
  documents: number;
  bytes: number;
}

export interface SyncOptions {
  source: Source;
  /** the fixed update start time (5.1) */
  now: Date;
  /** bytes of a document this mirror stored earlier, if any */
  stored: (role: string, version: number) => Uint8Array | undefined;
  /** parallel downloads of targets roles (default 16) */
  concurrency?: number;
  progress?: (p: SyncProgress) => void;
}

export interface SyncResult {
  state: TrustedState;
  /** verified documents to store */
  documents: MirrorDocument[];
  upsertHeads: RoleHead[];
  removeHeads: string[];
  /** nothing new upstream: no documents, no head changes */
  unchanged: boolean;
  /** roles new in this state, by name (targets to prefetch) */
  changedRoles: string[];
  warnings: string[];
  downloaded: { documents: number; bytes: number };
}

function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

function check<T>(v: Verdict<T>): T {
  if (!v.ok) throw new SyncFailure(v.reason, v.message);
  return v.value;
}

/** `expires` strings (YYYY-MM-DDTHH:MM:SSZ) sort like the times they name: no parsing per role. */
function isExpired(expires: string, now: Date): boolean {
  return expires <= formatExpires(now);
}

function sameHead(a: RoleHead, b: RoleHead): boolean {
  return (
    a.version === b.version &&
    a.delegator === b.delegator &&
    a.delegations === b.delegations &&
    a.expires === b.expires &&
    a.sha256 === b.sha256 &&
    a.length === b.length
  );
}

/** Runs `work` over `items` with at most `limit` at a time, in order of start. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const runner = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await work(items[i]!);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  if (failed !== undefined) throw failed;
  return out;
}

interface Visit {
  role: string;
  delegator: string;
  keys: KeyLookup;
  roleKeys: RoleKeys;
}

/** One update from `prev`. Throws SyncFailure; never changes `prev`. */
export async function syncMetadata(prev: TrustedState, opts: SyncOptions): Promise<SyncResult> {
  const { source, now } = opts;
  const documents: MirrorDocument[] = [];
  const warnings: string[] = [];
  const downloaded = { documents: 0, bytes: 0 };
  const progress: SyncProgress = { phase: "root", done: 0, total: 0, documents: 0, bytes: 0 };
  const report = () => {
    progress.documents = downloaded.documents;
    progress.bytes = downloaded.bytes;
    opts.progress?.(progress);
  };

  const fetchDoc = async (name: string, maxLength: number): Promise<Uint8Array | undefined> => {
    try {
      const bytes = await source.metadata(name, maxLength);
      if (bytes) {
        downloaded.documents++;
        downloaded.bytes += bytes.byteLength;
      }
      return bytes;
    } catch (err) {
      if (err instanceof SourceError) throw new SyncFailure(err.reason, err.message);
      throw err;
    }
  };
  // A version stored earlier with other bytes is caught by the store when the result is committed.
  const keep = (role: string, version: number, bytes: Uint8Array): string => {
    const sha256 = sha256Hex(bytes);
    documents.push({ role, version, bytes, sha256 });
    return sha256;
  };

  // 5.3: walk N+1.root.json until the source has no newer one.
  let root = prev.root;
  let rootBytes = prev.rootBytes;
  for (let i = 0; i < MAX_ROOT_ROTATIONS; i++) {
    const name = `${root.signed.version + 1}.root.json`;
    const bytes = await fetchDoc(name, CLIENT_LIMITS.root);
    if (!bytes) break;
    root = check(nextRoot(root, bytes, name));
    rootBytes = bytes;
    keep("root", root.signed.version, bytes);
    report();
  }
  const rootChanged = root !== prev.root;
  check(finalRoot(root, now));

  // 5.3.11: a timestamp or snapshot that no longer verifies with the new root no longer counts.
  const trustedTs = prev.timestamp && stillTrusted(root, prev.timestamp.doc, "timestamp") ? prev.timestamp : undefined;
  const trustedSnap = prev.snapshot && stillTrusted(root, prev.snapshot.doc, "snapshot") ? prev.snapshot : undefined;

  // 5.4
  progress.phase = "timestamp";
  const tsBytes = await fetchDoc("timestamp.json", CLIENT_LIMITS.timestamp);
  if (!tsBytes) throw new SyncFailure("unreachable", `${source.label} has no timestamp.json`);
  const tsUpdate = check(newTimestamp(root, trustedTs?.doc, tsBytes, now));
  const timestamp = tsUpdate.unchanged ? trustedTs! : { doc: tsUpdate.timestamp, bytes: tsBytes };
  if (!tsUpdate.unchanged) keep("timestamp", timestamp.doc.signed.version, tsBytes);
  report();
  // 5.4.3.1: the same timestamp version means nothing changed upstream; "abort the update cycle".
  // What is trusted must still be fresh, though (a freeze shows as expiry).
  if (tsUpdate.unchanged && !rootChanged && trustedSnap) {
    if (isExpired(trustedSnap.doc.signed.expires, now))
      throw new SyncFailure(
        "expired",
        `snapshot v${trustedSnap.doc.signed.version} expired at ${trustedSnap.doc.signed.expires} (freeze attack?)`,
      );
    const targets = prev.heads.get("targets");
    if (targets && isExpired(targets.expires, now))
      throw new SyncFailure("expired", `targets v${targets.version} expired at ${targets.expires} (freeze attack?)`);
    return {
      state: prev,
      documents,
      upsertHeads: [],
      removeHeads: [],
      unchanged: true,
      changedRoles: [],
      warnings,
      downloaded,
    };
  }

  // 5.5: reuse the trusted snapshot when it is the one the timestamp lists (ngclient: "local snapshot is valid").
  progress.phase = "snapshot";
  let snapshot: { doc: Metadata<SnapshotSigned>; bytes: Uint8Array } | undefined;
  const snapMeta = timestamp.doc.signed.meta["snapshot.json"];
  if (trustedSnap && trustedSnap.doc.signed.version === snapMeta.version) {
    const again = newSnapshot(root, timestamp.doc, undefined, trustedSnap.bytes, now, true);
    if (again.ok) snapshot = trustedSnap;
    else if (again.reason === "expired") check(again);
  }
  if (!snapshot) {
    const name = snapshotName(root.signed, timestamp.doc.signed);
    const bytes = await fetchDoc(name, snapMeta.length ?? CLIENT_LIMITS.snapshot);
    if (!bytes)
      throw new SyncFailure("unreachable", `${source.label} does not serve ${name}, which timestamp.json lists`);
    const doc = check(newSnapshot(root, timestamp.doc, trustedSnap?.doc, bytes, now));
    keep("snapshot", doc.signed.version, bytes);
    snapshot = { doc, bytes };
  }
  report();

  // 5.6, for every targets role reachable from the top-level targets role.
  progress.phase = "targets";
  const snap = snapshot.doc.signed;
  progress.total = Object.keys(snap.meta).length;
  const heads = new Map<string, RoleHead>();
  /** roles whose bytes changed in this update: their delegations (keys) may have changed too */
  const changed = new Set<string>();
  if (rootChanged) changed.add("root");
  const visited = new Set<string>(["targets"]);
  let skipped = 0;

  const resolve = async (v: Visit): Promise<Delegations | null | undefined> => {
    const fileName = `${v.role}.json`;
    const meta: MetaFile | undefined = Object.hasOwn(snap.meta, fileName) ? snap.meta[fileName] : undefined;
    if (!meta) {
      if (v.role === "targets")
        throw new SyncFailure("invalid", `snapshot v${snap.version} does not list targets.json`);
      skipped++;
      warnings.push(`${v.delegator} delegates to ${v.role}, which snapshot v${snap.version} does not list: skipped`);
      return undefined;
    }
    const parsed = parseMetadataFileName(`${meta.version}.${v.role}.json`);
    if (!parsed || parsed.role !== v.role) {
      skipped++;
      warnings.push(`role name ${JSON.stringify(v.role)} cannot be served as a file name: skipped`);
      return undefined;
    }
    const old = prev.heads.get(v.role);
    if (old && old.version === meta.version && old.delegator === v.delegator && metaFits(old, meta, opts.stored)) {
      let head: RoleHead | undefined = old;
      if (changed.has(v.delegator)) {
        // The delegator changed: verify the stored bytes with its new keys (known good: no hash re-check).
        const bytes = opts.stored(v.role, old.version);
        const again = bytes
          ? newTargets(bytes, `${old.version}.${v.role}.json`, v.keys, v.roleKeys, meta, now, true)
          : undefined;
        head = again?.ok ? old : undefined;
        if (again && !again.ok && again.reason === "expired") head = old;
      }
      if (head) {
        if (isExpired(head.expires, now)) {
          if (v.role === "targets")
            throw new SyncFailure("expired", `targets v${head.version} expired at ${head.expires}`);
          warnings.push(`${v.role} v${head.version} expired at ${head.expires}; the repository has not re-signed it`);
        }
        heads.set(v.role, head);
        progress.done++;
        return head.delegations === null ? null : (JSON.parse(head.delegations) as Delegations);
      }
    }
    const name = targetsRoleName(root.signed, v.role, meta.version);
    const bytes = await fetchDoc(name, meta.length ?? CLIENT_LIMITS.targets);
    if (!bytes)
      throw new SyncFailure("unreachable", `${source.label} does not serve ${name}, which the snapshot lists`);
    const doc = check(newTargets(bytes, name, v.keys, v.roleKeys, meta, now));
    const sha256 = keep(v.role, doc.signed.version, bytes);
    const delegations = doc.signed.delegations ?? null;
    heads.set(v.role, {
      role: v.role,
      version: doc.signed.version,
      delegator: v.delegator,
      delegations: delegations === null ? null : canonicalJson(delegations),
      expires: doc.signed.expires,
      sha256,
      length: bytes.byteLength,
      targetsDone: false,
    });
    changed.add(v.role);
    progress.done++;
    report();
    return delegations;
  };

  const walk = async (visits: Visit[]): Promise<void> => {
    const results = await pool(visits, opts.concurrency ?? 16, resolve);
    for (let i = 0; i < visits.length; i++) {
      const delegations = results[i];
      if (!delegations) continue;
      const parent = visits[i]!.role;
      const children: Visit[] = [];
      for (const child of delegatedRoleNames(delegations)) {
        if (visited.has(child)) continue;
        visited.add(child);
        children.push({
          role: child,
          delegator: parent,
          keys: delegations.keys,
          roleKeys: delegatedRoleKeys(delegations, child)!,
        });
      }
      if (children.length > 0) await walk(children);
    }
  };
  await walk([{ role: "targets", delegator: "root", keys: root.signed.keys, roleKeys: root.signed.roles.targets }]);
  report();
  if (skipped > 20) warnings.splice(20, warnings.length, `… ${skipped - 20} more roles skipped`);

  const upsertHeads: RoleHead[] = [];
  for (const [role, head] of heads) {
    const old = prev.heads.get(role);
    if (!old || !sameHead(old, head)) upsertHeads.push(head);
  }
  const removeHeads = [...prev.heads.keys()].filter((role) => !heads.has(role));
  return {
    state: { anchorVersion: prev.anchorVersion, root, rootBytes, timestamp, snapshot, heads },
    documents,
    upsertHeads,
    removeHeads,
    unchanged: documents.length === 0 && upsertHeads.length === 0 && removeHeads.length === 0,
    changedRoles: [...changed].filter((r) => r !== "root"),
    warnings,
    downloaded,
  };
}

/** Whether the stored version of a role still matches its snapshot entry (length and hashes, when listed). */
function metaFits(
  head: RoleHead,
  meta: MetaFile,
  stored: (role: string, version: number) => Uint8Array | undefined,
): boolean {
  if (meta.length !== undefined && meta.length !== head.length) return false;
  if (!meta.hashes) return true;
  const names = Object.keys(meta.hashes);
  if (names.length === 1 && names[0] === "sha256") return meta.hashes.sha256 === head.sha256;
  const bytes = stored(head.role, head.version);
  return bytes !== undefined && lengthAndHashesMismatch(bytes, meta) === undefined;
}
