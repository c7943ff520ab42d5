/**
 * `tufbox validate`: walk a published repository the way a client does and
 * report everything a client (or an operator) would trip over, instead of
 * stopping at the first refusal as the client workflow must:
 *
 * - the root chain from the root the devices trust (spec 5.3.4–5.3.5, through
 *   src/tuf/root-chain.ts), every version in between;
 * - timestamp → snapshot → targets → every delegated role and hash bin, each
 *   checked with the client workflow's own checks (src/tuf/trusted-set.ts:
 *   signatures and thresholds against the delegator's keys, the version the
 *   referring metadata lists, its length and hashes);
 * - expiry, including anything that expires within a horizon (a repository
 *   that stops re-signing fails its clients within a day);
 * - the download caps clients apply (src/tuf/limits.ts), so an oversize bin
 *   is found before a client refuses it;
 * - every listed artifact present where clients will fetch it (an injected
 *   check: HTTP for a served repository, the content index and storage for a
 *   data directory).
 *
 * The checks run with the reference time set before any expiry, so that an
 * expired document is still checked for everything else; expiry is then
 * judged here, against the real time plus the horizon. Nothing is written.
 */
import { parseExpires } from "../tuf/dates.ts";
import { lengthAndHashesMismatch } from "../tuf/file-hashes.ts";
import { metadataFileName, parseMetadataFileName } from "../tuf/file-names.ts";
import { clientLimitViolation } from "../tuf/limits.ts";
import {
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type Delegations,
  type MetaFile,
  type Metadata,
  type RoleKeys,
  type RootSigned,
  type SignedBase,
  type SnapshotSigned,
  type TargetFile,
  type TargetsSigned,
  type TimestampSigned,
} from "../tuf/metadata.ts";
import {
  delegatedRoleKeys,
  delegatedRoleNames,
  newSnapshot,
  newTargets,
  newTimestamp,
  readDocument,
  snapshotName,
  targetsRoleName,
  type Verdict,
} from "../tuf/trusted-set.ts";
import type { KeyLookup } from "../tuf/verify.ts";
import { SourceError, type Source } from "../mirror/source.ts";
import { rootChain, type FetchDoc } from "./validate-root.ts";

/** What kind of defect a problem is (stable names: scripts match on them). */
export type ProblemKind =
  | "root_chain"
  | "signature"
  | "version"
  | "hash"
  | "expiry"
  | "size"
  | "missing"
  | "invalid"
  | "artifact"
  | "unreachable";

export interface Problem {
  kind: ProblemKind;
  /** the metadata file (or target path) at fault */
  file: string;
  message: string;
}

export interface ValidateProgress {
  phase: "root" | "metadata" | "artifacts";
  done: number;
  total: number;
}

/**
 * Whether a target's bytes are where clients fetch them: undefined when they
 * are, else why not. Throws SourceError when the storage cannot say.
 */
export type ArtifactCheck = (path: string, file: TargetFile, consistent: boolean) => Promise<string | undefined>;

export interface ValidateOptions {
  source: Source;
  /** the root the devices trust, and its bytes */
  trusted: { root: Metadata<RootSigned>; bytes: Uint8Array };
  /** problems for anything that expires within this many days (0: only what has expired) */
  horizonDays: number;
  /** undefined: artifacts are not checked */
  artifacts?: ArtifactCheck;
  now?: Date;
  /** parallel downloads (default 32) */
  concurrency?: number;
  progress?: (p: ValidateProgress) => void;
}

export interface RoleSummary {
  version: number;
  expires: string;
  length: number;
}

export interface ValidateReport {
  ok: boolean;
  source: string;
  checked_at: string;
  horizon_days: number;
  trusted_root_version: number;
  /** root versions walked after the trusted one */
  root_chain: number[];
  root?: RoleSummary;
  timestamp?: RoleSummary;
  snapshot?: RoleSummary;
  targets?: RoleSummary;
  delegated_roles: {
    verified: number;
    /** listed in the snapshot but delegated to by no role (e.g. bins kept after re-binning) */
    not_delegated: number;
    earliest_expiry: string | null;
    largest: { role: string; length: number } | null;
  };
  artifacts: { checked: boolean; listed: number; present: number; missing: number };
  /** count of problems by kind */
  problem_counts: Partial<Record<ProblemKind, number>>;
  /** the problems, at most MAX_LISTED_PROBLEMS of them (problem_counts has the totals) */
  problems: Problem[];
  seconds: number;
}

export const MAX_LISTED_PROBLEMS = 1000;

/** Downloads are capped far above the client caps, so an oversize document is measured and reported, not cut off. */
const FETCH_CAP = 64 * 1024 * 1024;
/** The checks of trusted-set.ts run at this instant, before any expiry; expiry is judged separately. */
const BEFORE_ANY_EXPIRY = new Date(0);

function kindOf(v: { reason: string; message: string }): ProblemKind {
  if (v.reason === "tampered") return /valid signature/.test(v.message) ? "signature" : "hash";
  if (/holds version|expected exactly/.test(v.message)) return "version";
  return "invalid";
}

async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

interface Visit {
  role: string;
  delegator: string;
  keys: KeyLookup;
  roleKeys: RoleKeys;
}

export async function validateRepository(opts: ValidateOptions): Promise<ValidateReport> {
  const started = performance.now();
  const now = opts.now ?? new Date();
  const horizonMs = now.getTime() + opts.horizonDays * 86_400_000;
  const { source } = opts;
  const concurrency = opts.concurrency ?? 32;
  const problems: Problem[] = [];
  const counts: Partial<Record<ProblemKind, number>> = {};
  const problem = (kind: ProblemKind, file: string, message: string) => {
    counts[kind] = (counts[kind] ?? 0) + 1;
    if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ kind, file, message });
  };
  const report: ValidateReport = {
    ok: false,
    source: source.label,
    checked_at: now.toISOString(),
    horizon_days: opts.horizonDays,
    trusted_root_version: opts.trusted.root.signed.version,
    root_chain: [],
    delegated_roles: { verified: 0, not_delegated: 0, earliest_expiry: null, largest: null },
    artifacts: { checked: opts.artifacts !== undefined, listed: 0, present: 0, missing: 0 },
    problem_counts: counts,
    problems,
    seconds: 0,
  };
  const finish = () => {
    report.ok = problems.length === 0 && Object.keys(counts).length === 0;
    report.seconds = Math.round(performance.now() - started) / 1000;
    return report;
  };

  /** bytes of a metadata file; undefined (and a problem) when the source does not serve it */
  const fetchDoc: FetchDoc = async (name, how = {}) => {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await source.metadata(name, FETCH_CAP);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      problem(err.reason === "tampered" ? "size" : "unreachable", name, err.message);
      return undefined;
    }
    if (!bytes && !how.optional)
      problem(
        "missing",
        name,
        `${source.label} does not serve ${name}${how.listedBy ? `, which ${how.listedBy} lists` : ""}`,
      );
    return bytes;
  };
  const checkSize = (role: string, name: string, bytes: Uint8Array) => {
    const why = clientLimitViolation(role, bytes);
    if (why) problem("size", name, why.replace(`${role} would be`, `${name} is`).replace(" would nest", " nests"));
  };
  const checkExpiry = (name: string, signed: SignedBase) => {
    let at: number;
    try {
      at = parseExpires(signed.expires).getTime();
    } catch {
      return; // the parsers already refused a malformed date
    }
    if (at <= now.getTime()) problem("expiry", name, `${name} expired at ${signed.expires}`);
    else if (at <= horizonMs)
      problem("expiry", name, `${name} expires at ${signed.expires}, within the ${opts.horizonDays}-day horizon`);
  };
  /** The verdict's document, or (after recording why it was refused) the document as parsed, to keep walking. */
  const judged = <T extends SignedBase>(
    v: Verdict<Metadata<T>>,
    bytes: Uint8Array,
    parse: (value: unknown, field: string) => Metadata<T>,
    name: string,
  ): Metadata<T> | undefined => {
    if (v.ok) return v.value;
    problem(kindOf(v), name, v.message);
    const doc = readDocument(bytes, parse, name);
    return doc.ok ? doc.value : undefined;
  };
  const summary = (signed: SignedBase, bytes: Uint8Array): RoleSummary => ({
    version: signed.version,
    expires: signed.expires,
    length: bytes.byteLength,
  });

  // 5.3: the root chain.
  opts.progress?.({ phase: "root", done: 0, total: 0 });
  const root = await rootChain(opts.trusted, fetchDoc, problem, report, checkSize);
  if (!root) return finish();
  report.root = summary(root.doc.signed, root.bytes);
  checkExpiry(metadataFileName("root", root.doc.signed.version), root.doc.signed);

  // 5.4: timestamp.
  const tsBytes = await fetchDoc("timestamp.json");
  if (!tsBytes) return finish();
  checkSize("timestamp", "timestamp.json", tsBytes);
  const ts = judged<TimestampSigned>(
    mapVerdict(newTimestamp(root.doc, undefined, tsBytes, BEFORE_ANY_EXPIRY), (u) => u.timestamp),
    tsBytes,
    parseTimestamp,
    "timestamp.json",
  );
  if (!ts) return finish();
  report.timestamp = summary(ts.signed, tsBytes);
  checkExpiry("timestamp.json", ts.signed);

  // 5.5: the snapshot the timestamp lists (length, hashes, version, signatures).
  const snapName = snapshotName(root.doc.signed, ts.signed);
  const snapBytes = await fetchDoc(snapName, { listedBy: "timestamp.json" });
  if (!snapBytes) return finish();
  checkSize("snapshot", snapName, snapBytes);
  const snap = judged<SnapshotSigned>(
    newSnapshot(root.doc, ts, undefined, snapBytes, BEFORE_ANY_EXPIRY),
    snapBytes,
    parseSnapshot,
    snapName,
  );
  if (!snap) return finish();
  report.snapshot = summary(snap.signed, snapBytes);
  checkExpiry(snapName, snap.signed);

  // 5.6: targets and every role reachable from it, level by level.
  const meta = snap.signed.meta;
  const total = Object.keys(meta).length;
  let done = 0;
  const tick = () => opts.progress?.({ phase: "metadata", done, total });
  const visited = new Set<string>(["targets"]);
  const listings: { role: string; targets: Record<string, TargetFile> }[] = [];
  const consistent = root.doc.signed.consistent_snapshot;

  const visit = async (v: Visit): Promise<Delegations | undefined> => {
    const fileName = `${v.role}.json`;
    const m: MetaFile | undefined = Object.hasOwn(meta, fileName) ? meta[fileName] : undefined;
    if (!m) {
      problem("missing", fileName, `${v.delegator} delegates to ${v.role}, which ${snapName} does not list`);
      return undefined;
    }
    const name = targetsRoleName(root.doc.signed, v.role, m.version);
    if (!parseMetadataFileName(name)) {
      problem("invalid", name, `role name ${JSON.stringify(v.role)} cannot be served as a file name`);
      return undefined;
    }
    const bytes = await fetchDoc(name, { listedBy: snapName });
    done++;
    tick();
    if (!bytes) return undefined;
    checkSize(v.role, name, bytes);
    const doc = judged<TargetsSigned>(
      newTargets(bytes, name, v.keys, v.roleKeys, m, BEFORE_ANY_EXPIRY),
      bytes,
      parseTargets,
      name,
    );
    if (!doc) return undefined;
    checkExpiry(name, doc.signed);
    if (v.role === "targets") report.targets = summary(doc.signed, bytes);
    else {
      const d = report.delegated_roles;
      d.verified++;
      if (d.earliest_expiry === null || doc.signed.expires < d.earliest_expiry) d.earliest_expiry = doc.signed.expires;
      if (!d.largest || bytes.byteLength > d.largest.length) d.largest = { role: v.role, length: bytes.byteLength };
    }
    listings.push({ role: v.role, targets: doc.signed.targets });
    return doc.signed.delegations;
  };

  let level: Visit[] = [
    { role: "targets", delegator: "root", keys: root.doc.signed.keys, roleKeys: root.doc.signed.roles.targets },
  ];
  while (level.length > 0) {
    const found = new Array<Delegations | undefined>(level.length);
    const indexed = level.map((v, i) => ({ v, i }));
    await pool(indexed, concurrency, async ({ v, i }) => {
      found[i] = await visit(v);
    });
    const nextLevel: Visit[] = [];
    for (const [i, delegations] of found.entries()) {
      if (!delegations) continue;
      for (const child of delegatedRoleNames(delegations)) {
        if (visited.has(child)) continue;
        visited.add(child);
        nextLevel.push({
          role: child,
          delegator: level[i]!.role,
          keys: delegations.keys,
          roleKeys: delegatedRoleKeys(delegations, child)!,
        });
      }
    }
    level = nextLevel;
  }

  // Listed in the snapshot, delegated to by nobody (bins kept for returning clients after
  // re-binning): clients never fetch them, but the files must still be what the snapshot says.
  const orphans = Object.entries(meta).filter(([file]) => !visited.has(file.replace(/\.json$/, "")));
  report.delegated_roles.not_delegated = orphans.length;
  await pool(orphans, concurrency, async ([file, m]) => {
    const role = file.replace(/\.json$/, "");
    const name = targetsRoleName(root.doc.signed, role, m.version);
    const bytes = await fetchDoc(name, { listedBy: snapName });
    done++;
    tick();
    if (!bytes) return;
    const mismatch = lengthAndHashesMismatch(bytes, m);
    if (mismatch) return problem("hash", name, `${name}: ${mismatch} in the snapshot`);
    const doc = readDocument(bytes, parseTargets, name);
    if (!doc.ok) return problem("invalid", name, doc.message);
    if (doc.value.signed.version !== m.version)
      problem("version", name, `${name} holds version ${doc.value.signed.version}; the snapshot lists ${m.version}`);
  });

  // 5.7: every listed artifact, where clients fetch it.
  const check = opts.artifacts;
  if (check) {
    const seen = new Set<string>();
    const items: { path: string; file: TargetFile }[] = [];
    for (const l of listings)
      for (const [path, file] of Object.entries(l.targets)) {
        const key = `${path}\0${file.hashes.sha256 ?? Object.values(file.hashes)[0]}`;
        if (seen.has(key)) continue;
        seen.add(key);
        items.push({ path, file });
      }
    report.artifacts.listed = items.length;
    let checked = 0;
    await pool(items, concurrency, async ({ path, file }) => {
      let why: string | undefined;
      try {
        why = await check(path, file, consistent);
      } catch (err) {
        if (!(err instanceof SourceError)) throw err;
        problem("unreachable", path, err.message);
        return;
      } finally {
        checked++;
        opts.progress?.({ phase: "artifacts", done: checked, total: items.length });
      }
      if (why === undefined) report.artifacts.present++;
      else {
        report.artifacts.missing++;
        problem("artifact", path, why);
      }
    });
  }
  return finish();
}

function mapVerdict<A, B>(v: Verdict<A>, f: (a: A) => B): Verdict<B> {
  return v.ok ? { ok: true, value: f(v.value) } : v;
}
