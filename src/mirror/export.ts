/**
 * `tufbox export`: a static copy of a published repository that any static
 * web server (`python3 -m http.server`, nginx, a USB stick on a device) serves
 * to TUF clients as they are: `metadata/` (every root from the trusted one,
 * `timestamp.json`, `root.json`, the current snapshot and every targets role;
 * with `--all-versions`, every older version too) and `targets/` (files
 * matching `--targets`, under `<hash>.<name>` for every listed hash).
 *
 * Verified before written: the repository is read with the client workflow
 * (sync.ts) from a trusted root, target files are checked against their
 * signed length and hashes as they stream, and everything is written to a
 * temporary name that becomes the output only when all of it verified.
 */
import { mkdirSync, readdirSync, statSync, type Stats } from "node:fs";
import { link, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FileDigests } from "../tuf/file-hashes.ts";
import {
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type Delegations,
  type Metadata,
  type RootSigned,
  type SignedBase,
  type TargetFile,
  type TargetsSigned,
} from "../tuf/metadata.ts";
import { searchTarget } from "../tuf/target-search.ts";
import { CLIENT_LIMITS, delegatedRoleKeys, readDocument } from "../tuf/trusted-set.ts";
import { signedBytesOf, verifyRole } from "../tuf/verify.ts";
import { parseMetadataFileName } from "../tuf/file-names.ts";
import { SourceError, type Source, type TargetStream } from "./source.ts";
import { TarWriter } from "./tar.ts";
import {
  SyncFailure,
  syncMetadata,
  type SyncResult,
  type FailureReason,
  type SyncProgress,
  type TrustedState,
} from "./sync.ts";
import { storedNames } from "./targets.ts";
import { expiringWithin } from "./import.ts";
import type { Anchor } from "./state.ts";

export class ExportRefused extends Error {
  readonly reason: FailureReason | "mismatch" | "unavailable";
  constructor(reason: FailureReason | "mismatch" | "unavailable", message: string) {
    super(message);
    this.name = "ExportRefused";
    this.reason = reason;
  }
}

export interface ExportProgress {
  sync?(p: SyncProgress): void;
  history?(done: number, total: number): void;
  targets?(done: number, total: number, bytes: number): void;
}

export interface ExportOptions {
  source: Source;
  anchor: Anchor;
  /** a directory (created) or a file ending in .tar */
  out: string;
  /** target paths to include (Bun.Glob syntax); none = metadata only */
  targets: string[];
  allVersions: boolean;
  now?: Date;
  validForDays?: number;
  progress?: ExportProgress;
}

export interface ExportSummary {
  out: string;
  format: "directory" | "tar";
  source: string;
  trusted_root_version: number;
  versions: { root: number; timestamp: number | null; snapshot: number | null };
  metadata_files: number;
  older_versions: number;
  targets: { files: number; bytes: number; missing: number };
  expires: Record<string, string>;
  warnings: string[];
}

/** Where an export writes; `commit` makes it appear under its final name. */
interface BundleWriter {
  metadata(name: string, bytes: Uint8Array): Promise<void>;
  /** streams a target in, verifying it; throws ExportRefused on a mismatch */
  target(path: string, file: TargetFile, body: ReadableStream<Uint8Array>): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

function verifying(file: TargetFile, path: string, body: ReadableStream<Uint8Array>) {
  const digests = new FileDigests(Object.keys(file.hashes));
  const stream = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        digests.update(chunk);
        if (digests.length > file.length)
          controller.error(new ExportRefused("mismatch", `${path}: more than the ${file.length} bytes signed`));
        else controller.enqueue(chunk);
      },
    }),
  );
  return {
    stream,
    check: () => {
      const mismatch = digests.mismatch(file);
      if (mismatch) throw new ExportRefused("mismatch", `${path}: ${mismatch}`);
    },
  };
}

async function directoryWriter(out: string): Promise<BundleWriter> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "metadata"), { recursive: true });
  mkdirSync(join(tmp, "targets"), { recursive: true });
  return {
    async metadata(name, bytes) {
      await writeFile(join(tmp, "metadata", name), bytes);
    },
    async target(path, file, body) {
      const names = storedNames(path, file);
      const first = join(tmp, "targets", names[0]!);
      await mkdir(dirname(first), { recursive: true });
      const v = verifying(file, path, body);
      await Bun.write(first, new Response(v.stream));
      v.check();
      for (const name of names.slice(1)) {
        const dest = join(tmp, "targets", name);
        await mkdir(dirname(dest), { recursive: true });
        await link(first, dest).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "EEXIST" && err.code !== "ENAMETOOLONG") throw err;
        });
      }
    },
    async commit() {
      await rename(tmp, out);
    },
    async abort() {
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

async function tarWriter(out: string): Promise<BundleWriter> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  const tar = await TarWriter.create(tmp);
  return {
    async metadata(name, bytes) {
      await tar.addBytes(`metadata/${name}`, bytes);
    },
    async target(path, file, body) {
      const names = storedNames(path, file);
      const v = verifying(file, path, body);
      try {
        await tar.addStream(`targets/${names[0]}`, file.length, v.stream);
      } catch (err) {
        if (err instanceof ExportRefused) throw err;
        throw new ExportRefused("mismatch", `${path}: ${err instanceof Error ? err.message : String(err)}`);
      }
      v.check();
      for (const name of names.slice(1)) await tar.addLink(`targets/${name}`, `targets/${names[0]}`);
    },
    async commit() {
      await tar.finish();
      await rename(tmp, out);
    },
    async abort() {
      await tar.abort();
      await rm(tmp, { force: true });
    },
  };
}

/** Checks the output name before any work is done. */
export function checkOutput(out: string): "directory" | "tar" {
  const format = out.endsWith(".tar") ? "tar" : "directory";
  let st: Stats;
  try {
    st = statSync(out);
  } catch {
    return format;
  }
  if (format === "directory" && st.isDirectory() && readdirSync(out).length === 0) return format;
  throw new ExportRefused("invalid", `${out} already exists${st.isDirectory() ? " and is not empty" : ""}`);
}

function maxLengthFor(role: string): number {
  if (role === "root") return CLIENT_LIMITS.root;
  if (role === "snapshot") return CLIENT_LIMITS.snapshot;
  if (role === "timestamp") return CLIENT_LIMITS.timestamp;
  return CLIENT_LIMITS.targets;
}

/**
 * --all-versions: older versions of snapshot and targets roles, each verified
 * against a root of the verified chain (top-level roles) or against some
 * verified version of a role that delegates to it (delegated roles). What
 * cannot be verified is left out, with a warning.
 */
async function olderVersions(
  source: Source,
  state: TrustedState,
  roots: Metadata<RootSigned>[],
  have: Set<string>,
  current: Map<string, Uint8Array>,
  progress?: ExportProgress,
): Promise<{ files: Map<string, Uint8Array>; warnings: string[] }> {
  const names = await source.listMetadata?.();
  if (!names)
    throw new ExportRefused(
      "unavailable",
      `${source.label} does not list its metadata files, which --all-versions needs`,
    );
  const wanted = names
    .map((name) => ({ name, parsed: parseMetadataFileName(name) }))
    .filter(
      (n): n is { name: string; parsed: { role: string; version: number } } =>
        n.parsed !== undefined && n.parsed.version !== null && !have.has(n.name) && n.parsed.role !== "timestamp",
    );
  const files = new Map<string, Uint8Array>();
  const warnings: string[] = [];
  const delegations: Delegations[] = [];
  for (const [name, bytes] of current) {
    const role = parseMetadataFileName(name)?.role;
    if (!role || role === "root" || role === "snapshot") continue;
    const doc = readDocument(bytes, parseTargets, name);
    if (doc.ok && doc.value.signed.delegations) delegations.push(doc.value.signed.delegations);
  }
  let pending = wanted.filter((w) => w.parsed.role !== "root" || w.parsed.version > state.anchorVersion);
  const skippedRoots = wanted.length - pending.length;
  const docs = new Map<string, { bytes: Uint8Array; signed: SignedBase; signatures: Metadata["signatures"] }>();
  let done = 0;
  for (const w of pending) {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await source.metadata(w.name, maxLengthFor(w.parsed.role));
    } catch (err) {
      if (err instanceof SourceError) throw new ExportRefused(err.reason, err.message);
      throw err;
    }
    done++;
    progress?.history?.(done, pending.length);
    if (!bytes) continue;
    const parse =
      w.parsed.role === "snapshot" ? parseSnapshot : w.parsed.role === "timestamp" ? parseTimestamp : parseTargets;
    const doc = readDocument(bytes, parse as typeof parseTargets, w.name);
    if (!doc.ok || doc.value.signed.version !== w.parsed.version) {
      warnings.push(`${w.name} is not a valid ${w.parsed.role} document of that version: left out`);
      continue;
    }
    docs.set(w.name, { bytes, signed: doc.value.signed, signatures: doc.value.signatures });
  }
  const topLevel = new Set(["snapshot", "targets"]);
  // Delegations can be several levels deep: repeat until a pass accepts nothing new.
  for (let progressMade = true; progressMade; ) {
    progressMade = false;
    for (const w of pending) {
      const d = docs.get(w.name);
      if (!d || files.has(w.name)) continue;
      const signedBytes = signedBytesOf({ signed: d.signed, signatures: d.signatures });
      const role = w.parsed.role;
      const ok = topLevel.has(role)
        ? roots.some(
            (r) => verifyRole(signedBytes, d.signatures, r.signed.keys, r.signed.roles[role as "snapshot"]).verified,
          )
        : delegations.some((del) => {
            const keys = delegatedRoleKeys(del, role);
            return keys !== undefined && verifyRole(signedBytes, d.signatures, del.keys, keys).verified;
          });
      if (!ok) continue;
      files.set(w.name, d.bytes);
      progressMade = true;
      const del = (d.signed as TargetsSigned).delegations;
      if (del) delegations.push(del);
    }
  }
  pending = pending.filter((w) => docs.has(w.name) && !files.has(w.name));
  if (pending.length > 0)
    warnings.push(
      `${pending.length} older document(s) do not verify against any trusted version of their delegator and were left out (e.g. ${pending[0]!.name})`,
    );
  if (skippedRoots > 0)
    warnings.push(
      `${skippedRoots} root version(s) older than the trusted root v${state.anchorVersion} were left out (give an older --root to include them)`,
    );
  return { files, warnings };
}

export async function exportRepository(opts: ExportOptions): Promise<ExportSummary> {
  const now = opts.now ?? new Date();
  const format = checkOutput(opts.out);
  const { source, anchor } = opts;
  const start: TrustedState = {
    anchorVersion: anchor.root.signed.version,
    root: anchor.root,
    rootBytes: anchor.bytes,
    heads: new Map(),
  };
  let result: SyncResult;
  try {
    result = await syncMetadata(start, { source, now, stored: () => undefined, progress: opts.progress?.sync });
  } catch (err) {
    if (err instanceof SyncFailure) throw new ExportRefused(err.reason, err.message);
    throw err;
  }
  const state = result.state;
  const consistent = state.root.signed.consistent_snapshot;
  const files = new Map<string, Uint8Array>();
  const roots: Metadata<RootSigned>[] = [anchor.root];
  files.set(`${anchor.root.signed.version}.root.json`, anchor.bytes);
  const byRole = new Map<string, Uint8Array>();
  for (const d of result.documents) {
    if (d.role === "timestamp") continue;
    files.set(`${d.version}.${d.role}.json`, d.bytes);
    byRole.set(`${d.version}.${d.role}`, d.bytes);
    if (!consistent && d.role !== "root") files.set(`${d.role}.json`, d.bytes);
  }
  // Every root of the verified chain: older snapshot/targets versions were signed by the keys of one of them.
  for (const d of result.documents.filter((x) => x.role === "root")) {
    const parsed = readDocument(d.bytes, parseRoot, `${d.version}.root.json`);
    if (parsed.ok) roots.push(parsed.value);
  }
  files.set("root.json", state.rootBytes);
  files.set("timestamp.json", state.timestamp!.bytes);
  const currentCount = files.size;

  const warnings = [...result.warnings];
  let older = 0;
  if (opts.allVersions) {
    const have = new Set(files.keys());
    const history = await olderVersions(
      source,
      state,
      roots,
      have,
      new Map([...files].filter(([n]) => /^\d/.test(n))),
      opts.progress,
    );
    for (const [name, bytes] of history.files) files.set(name, bytes);
    older = history.files.size;
    warnings.push(...history.warnings);
  }

  // Targets to include: the file info a client's search finds (5.6.7), for paths matching --targets.
  const globs = opts.targets.map((g) => new Bun.Glob(g));
  const parsed = new Map<string, TargetsSigned>();
  const roleSigned = (role: string): TargetsSigned | undefined => {
    const head = state.heads.get(role);
    if (!head) return undefined;
    let signed = parsed.get(role);
    if (!signed) {
      const bytes = byRole.get(`${head.version}.${role}`);
      const doc = bytes ? readDocument(bytes, parseTargets, role) : undefined;
      if (!doc?.ok) return undefined;
      signed = doc.value.signed;
      parsed.set(role, signed);
    }
    return signed;
  };
  const targets: { path: string; file: TargetFile }[] = [];
  if (globs.length > 0) {
    for (const role of state.heads.keys()) {
      const signed = roleSigned(role);
      if (!signed) continue;
      for (const path of Object.keys(signed.targets)) {
        if (!globs.some((g) => g.match(path))) continue;
        const found = await searchTarget(path, (r) => roleSigned(r));
        if (found && found.role === role) targets.push({ path, file: found.file });
      }
    }
  }

  const writer = format === "tar" ? await tarWriter(opts.out) : await directoryWriter(opts.out);
  let bytes = 0;
  let written = 0;
  const missing: string[] = [];
  try {
    for (const [name, data] of files) await writer.metadata(name, data);
    let done = 0;
    for (const t of targets) {
      const names = consistent ? storedNames(t.path, t.file) : [t.path];
      let stream: TargetStream | undefined;
      for (const name of [...names, t.path]) {
        try {
          stream = await source.target(name);
        } catch (err) {
          if (err instanceof SourceError) throw new ExportRefused(err.reason, err.message);
          throw err;
        }
        if (stream) break;
      }
      done++;
      if (!stream) {
        // Repositories often list artifacts whose bytes live elsewhere: leave them out, say so.
        missing.push(t.path);
        continue;
      }
      await writer.target(t.path, t.file, stream.body);
      written++;
      bytes += t.file.length;
      opts.progress?.targets?.(done, targets.length, bytes);
    }
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  if (missing.length > 0)
    warnings.push(
      `${missing.length} target file(s) matching --targets are not available from ${source.label} and were left out (e.g. ${missing[0]})`,
    );
  if (opts.validForDays !== undefined) {
    for (const w of expiringWithin(state, now, opts.validForDays))
      warnings.push(`${w}, within the ${opts.validForDays} day(s) of --valid-for: clients will refuse the bundle then`);
  }
  const expires: Record<string, string> = { root: state.root.signed.expires };
  if (state.timestamp) expires.timestamp = state.timestamp.doc.signed.expires;
  if (state.snapshot) expires.snapshot = state.snapshot.doc.signed.expires;
  const t = state.heads.get("targets");
  if (t) expires.targets = t.expires;
  return {
    out: opts.out,
    format,
    source: source.label,
    trusted_root_version: anchor.root.signed.version,
    versions: {
      root: state.root.signed.version,
      timestamp: state.timestamp?.doc.signed.version ?? null,
      snapshot: state.snapshot?.doc.signed.version ?? null,
    },
    metadata_files: currentCount,
    older_versions: older,
    targets: { files: written, bytes, missing: missing.length },
    expires,
    warnings,
  };
}
