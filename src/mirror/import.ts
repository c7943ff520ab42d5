/**
 * `tufbox mirror --from BUNDLE`: brings a bundle (`tufbox export` output, a
 * directory or a tar file carried to an air-gapped site) into a mirror's data
 * directory with exactly the verification of a sync (sync.ts: root chain
 * from the trusted root, rollback and freeze checks, lengths, hashes,
 * signatures), and every target file in it checked against the metadata.
 * Nothing is committed unless all of it verifies; a mirror serving the same
 * directory picks the new state up by itself (mirror.ts watches the store).
 */
import { mkdirSync } from "node:fs";
import { stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";
import { parseExpires } from "../tuf/dates.ts";
import { DirectorySource, type Source } from "./source.ts";
import { TarSource } from "./tar.ts";
import { MirrorStore, MirrorStoreConflict, type Commit, type MirrorDocument } from "./store.ts";
import {
  SyncFailure,
  syncMetadata,
  type SyncResult,
  type FailureReason,
  type SyncProgress,
  type TrustedState,
} from "./sync.ts";
import { TargetFailure, TargetStore, streamMismatch } from "./targets.ts";
import { startingState, type Anchor } from "./state.ts";

export class BundleRefused extends Error {
  readonly reason: FailureReason | "mismatch";
  constructor(reason: FailureReason | "mismatch", message: string) {
    super(message);
    this.name = "BundleRefused";
    this.reason = reason;
  }
}

export interface ImportProgress {
  sync?(p: SyncProgress): void;
  targets?(done: number, total: number, bytes: number): void;
}

export interface ImportOptions {
  dataDir: string;
  targetsDir?: string;
  anchor: Anchor;
  bundle: string;
  now?: Date;
  /** warn about roles expiring within this many days */
  validForDays?: number;
  progress?: ImportProgress;
}

export interface ImportSummary {
  bundle: string;
  /** the bundle holds nothing newer than the mirror had */
  unchanged: boolean;
  versions: { root: number; timestamp: number | null; snapshot: number | null };
  documents: number;
  targets: { imported: number; present: number; bytes: number; skipped: number };
  expires: Record<string, string>;
  warnings: string[];
}

function commitOrRefuse(store: MirrorStore, commit: Commit): void {
  try {
    store.commit(commit);
  } catch (err) {
    if (!(err instanceof MirrorStoreConflict)) throw err;
    if (err.kind === "document") throw new BundleRefused("invalid", err.message);
    throw new BundleRefused("invalid", `${err.message}: another process changed the mirror meanwhile; import again`);
  }
}

/** Opens a bundle: a directory (with metadata/) or a tar file. */
export async function openBundle(path: string): Promise<Source & { listTargets(): Promise<string[]> }> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch {
    throw new BundleRefused("invalid", `${path} does not exist`);
  }
  if (st.isDirectory()) return new DirectorySource(path);
  try {
    return await TarSource.open(path);
  } catch (err) {
    throw new BundleRefused(
      "invalid",
      `${path} is neither a directory nor a readable tar file: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Roles of `state` (and their expiry) that expire before `days` from `now`. */
export function expiringWithin(state: TrustedState, now: Date, days: number): string[] {
  const limit = now.getTime() + days * 86_400_000;
  const out: string[] = [];
  const check = (role: string, expires: string) => {
    if (parseExpires(expires).getTime() < limit) out.push(`${role} expires ${expires}`);
  };
  if (state.timestamp) check("timestamp", state.timestamp.doc.signed.expires);
  if (state.snapshot) check("snapshot", state.snapshot.doc.signed.expires);
  check("root", state.root.signed.expires);
  let delegated = 0;
  let first: string | undefined;
  for (const h of state.heads.values()) {
    if (parseExpires(h.expires).getTime() >= limit) continue;
    if (h.role === "targets") check("targets", h.expires);
    else {
      delegated++;
      if (first === undefined || h.expires < first) first = h.expires;
    }
  }
  if (delegated > 0) out.push(`${delegated} delegated role(s)/bin(s), the first at ${first}`);
  return out;
}

function expiresOf(state: TrustedState): Record<string, string> {
  const e: Record<string, string> = { root: state.root.signed.expires };
  if (state.timestamp) e.timestamp = state.timestamp.doc.signed.expires;
  if (state.snapshot) e.snapshot = state.snapshot.doc.signed.expires;
  const t = state.heads.get("targets");
  if (t) e.targets = t.expires;
  return e;
}

export async function importBundle(opts: ImportOptions): Promise<ImportSummary> {
  const now = opts.now ?? new Date();
  const bundle = await openBundle(opts.bundle);
  mkdirSync(opts.dataDir, { recursive: true });
  const store = MirrorStore.open(join(opts.dataDir, "mirror.db"));
  try {
    const start = startingState(store, opts.anchor);
    const expected = start.stored?.generation ?? store.generation();
    let result: SyncResult;
    try {
      result = await syncMetadata(start.state, {
        source: bundle,
        now,
        stored: (role, version) => store.document(role, version)?.bytes,
        progress: opts.progress?.sync,
      });
    } catch (err) {
      if (err instanceof SyncFailure) throw new BundleRefused(err.reason, err.message);
      throw err;
    }
    const fresh = new Map(result.documents.map((d) => [`${d.version}.${d.role}`, d.bytes]));
    const targets = new TargetStore({
      dir: opts.targetsDir ?? join(opts.dataDir, "targets"),
      tmpDir: join(opts.dataDir, "tmp"),
      state: () => result.state,
      roleBytes: (role, version) => fresh.get(`${version}.${role}`) ?? store.document(role, version)?.bytes,
    });

    // Every target file in the bundle must verify against the metadata before anything is committed.
    const summary = { imported: 0, present: 0, bytes: 0, skipped: 0 };
    const warnings: string[] = [...result.warnings];
    const entries = await bundle.listTargets();
    let done = 0;
    for (const entry of entries) {
      done++;
      const slash = entry.lastIndexOf("/");
      const m = /^([0-9a-f]{16,})\.(.+)$/.exec(entry.slice(slash + 1));
      const path = m ? entry.slice(0, slash + 1) + m[2] : entry;
      const found = await targets.resolve(path);
      if (!found || (m && !Object.values(found.file.hashes).includes(m[1]!))) {
        summary.skipped++;
        if (summary.skipped <= 10) warnings.push(`targets/${entry} is not a target of the bundle's metadata: skipped`);
        continue;
      }
      const stream = await bundle.target(entry);
      if (!stream) continue;
      if (await targets.has(path, found.file)) {
        const mismatch = await streamMismatch(found.file, stream.body);
        if (mismatch) throw new BundleRefused("mismatch", `targets/${entry}: ${mismatch} (the bundle was altered)`);
        summary.present++;
      } else {
        try {
          await targets.storeFrom(path, found.file, stream.body, bundle.label);
        } catch (err) {
          if (err instanceof TargetFailure)
            throw new BundleRefused("mismatch", `targets/${entry}: ${err.message} (the bundle was altered)`);
          throw err;
        }
        summary.imported++;
        summary.bytes += found.file.length;
      }
      opts.progress?.targets?.(done, entries.length, summary.bytes);
    }
    if (summary.skipped > 10) warnings.push(`… ${summary.skipped - 10} more files skipped`);

    const documents: MirrorDocument[] = [...result.documents];
    const a = opts.anchor.root.signed.version;
    if (!store.document("root", a) && !documents.some((d) => d.role === "root" && d.version === a))
      documents.push({ role: "root", version: a, bytes: opts.anchor.bytes, sha256: opts.anchor.sha256 });
    const s = result.state;
    if (!result.unchanged || documents.length > 0)
      commitOrRefuse(store, {
        expected,
        documents,
        anchorVersion: s.anchorVersion,
        rootVersion: s.root.signed.version,
        timestampVersion: s.timestamp?.doc.signed.version ?? null,
        snapshotVersion: s.snapshot?.doc.signed.version ?? null,
        upsertHeads: result.upsertHeads,
        removeHeads: result.removeHeads,
      });
    if (opts.validForDays !== undefined) {
      for (const w of expiringWithin(s, now, opts.validForDays))
        warnings.push(`${w}, within the ${opts.validForDays} day(s) of --valid-for: devices will refuse it then`);
    }
    return {
      bundle: opts.bundle,
      unchanged: result.unchanged,
      versions: {
        root: s.root.signed.version,
        timestamp: s.timestamp?.doc.signed.version ?? null,
        snapshot: s.snapshot?.doc.signed.version ?? null,
      },
      documents: documents.length,
      targets: summary,
      expires: expiresOf(s),
      warnings,
    };
  } finally {
    store.close();
    await bundle.close?.();
  }
}
