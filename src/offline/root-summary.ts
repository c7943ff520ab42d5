/**
 * What a root signer is shown before signing: version, expiry, keys and
 * thresholds, what changed from the trusted root, and how many of the
 * required signatures are there (spec 5.3.4: root N+1 must verify with the
 * threshold of root N *and* its own). The same summary serves offline files
 * and (later) pending documents fetched from a server.
 */
import { parseExpires } from "../tuf/dates.ts";
import type { Metadata, RootSigned } from "../tuf/metadata.ts";
import type { VerificationResult } from "../tuf/verify.ts";
import { verifyRootUpdate } from "../tuf/root-chain.ts";
import { ONLINE_TOP_LEVEL_ROLES, onlineKeyId, onlineRoleProblem, type TopLevelRole } from "../tuf/roles.ts";
import { KEY_NAME, ONLINE_KEY_URI } from "../tuf/rstuf.ts";
import { sameKeyMaterial, type KeyJSON } from "../tuf/keys.ts";
import type { RootFileKind } from "./root-files.ts";

export interface ThresholdStatus {
  /** which root's root role: the document's own, or the trusted one */
  of: "document" | "trusted";
  version: number;
  result: VerificationResult;
}

export interface RootSummary {
  kind: RootFileKind;
  version: number;
  expires: string;
  trustedVersion?: number;
  keys: Record<string, KeyJSON>;
  roles: Record<TopLevelRole, { keyids: string[]; threshold: number }>;
  /** the timestamp role's key, which RSTUF uses for every online role */
  onlineKeyid: string | undefined;
  /** differences from the trusted root, one line each */
  changes: string[];
  /** reasons not to sign this document at all */
  problems: string[];
  warnings: string[];
  status: ThresholdStatus[];
}

/** `keyid "name" (keytype)`, as signers are shown keys everywhere. */
export function keyLabel(keys: Record<string, KeyJSON>, keyid: string): string {
  const key = keys[keyid];
  if (!key) return `${keyid} (not in keys)`;
  const name = typeof key[KEY_NAME] === "string" ? ` "${key[KEY_NAME]}"` : "";
  return `${keyid}${name} (${key.keytype})`;
}

function rootChanges(doc: RootSigned, trusted: RootSigned, problems: string[]): string[] {
  const changes: string[] = [];
  if (doc.expires !== trusted.expires) changes.push(`expires ${trusted.expires} → ${doc.expires}`);
  if (doc.consistent_snapshot !== trusted.consistent_snapshot)
    changes.push(`consistent_snapshot ${trusted.consistent_snapshot} → ${doc.consistent_snapshot}`);
  if (doc.spec_version !== trusted.spec_version)
    changes.push(`spec_version ${trusted.spec_version} → ${doc.spec_version}`);
  const oldRoot = trusted.roles.root;
  const newRoot = doc.roles.root;
  for (const id of newRoot.keyids)
    if (!oldRoot.keyids.includes(id)) changes.push(`+ root key ${keyLabel(doc.keys, id)}`);
  for (const id of oldRoot.keyids)
    if (!newRoot.keyids.includes(id)) changes.push(`- root key ${keyLabel(trusted.keys, id)}`);
  if (oldRoot.threshold !== newRoot.threshold)
    changes.push(`root threshold ${oldRoot.threshold} → ${newRoot.threshold}`);
  const oldOnline = trusted.roles.timestamp.keyids.join(", ");
  const newOnline = doc.roles.timestamp.keyids.join(", ");
  if (oldOnline !== newOnline) {
    changes.push(
      `online key ${trusted.roles.timestamp.keyids.map((id) => keyLabel(trusted.keys, id)).join(", ")} → ${doc.roles.timestamp.keyids.map((id) => keyLabel(doc.keys, id)).join(", ")}`,
    );
  }
  for (const role of ONLINE_TOP_LEVEL_ROLES) {
    const a = trusted.roles[role];
    const b = doc.roles[role];
    if (role !== "timestamp" && a.keyids.join(",") !== b.keyids.join(",") && b.keyids.join(", ") !== newOnline) {
      changes.push(`${role} keys ${a.keyids.join(", ")} → ${b.keyids.join(", ")}`);
    }
    if (a.threshold !== b.threshold) changes.push(`${role} threshold ${a.threshold} → ${b.threshold}`);
  }
  for (const [id, key] of Object.entries(doc.keys)) {
    const old = trusted.keys[id];
    if (!old) continue;
    if (!sameKeyMaterial(old, key) || old.keytype !== key.keytype || old.scheme !== key.scheme) {
      problems.push(`keyid ${id} names a different key than in the trusted root v${trusted.version}`);
      continue;
    }
    const oldUri = old[ONLINE_KEY_URI];
    const newUri = key[ONLINE_KEY_URI];
    if (oldUri !== newUri)
      changes.push(`online key uri of ${id}: ${String(oldUri ?? "none")} → ${String(newUri ?? "none")}`);
    if (old[KEY_NAME] !== key[KEY_NAME])
      changes.push(`name of ${id}: ${String(old[KEY_NAME] ?? "none")} → ${String(key[KEY_NAME] ?? "none")}`);
  }
  return changes;
}

export function summarizeRoot(
  doc: Metadata<RootSigned>,
  opts: { kind: RootFileKind; trusted?: Metadata<RootSigned>; now?: Date },
): RootSummary {
  const now = opts.now ?? new Date();
  const signed = doc.signed;
  const problems: string[] = [];
  const warnings: string[] = [];
  let changes: string[] = [];
  const trusted = opts.trusted?.signed;
  if (trusted) {
    // Spec 5.3.5: a client only accepts root N+1 after root N.
    if (signed.version !== trusted.version + 1)
      problems.push(
        `root v${signed.version} does not follow the trusted root v${trusted.version} (expected v${trusted.version + 1})`,
      );
    changes = rootChanges(signed, trusted, problems);
  } else if (opts.kind === "bootstrap") {
    if (signed.version !== 1) problems.push(`a bootstrap root must be v1, this one is v${signed.version}`);
    changes = ["new repository: root v1 (bootstrap)"];
  } else if (signed.version > 1) {
    warnings.push(
      `no trusted root v${signed.version - 1} given (--trusted): changes cannot be shown and its threshold cannot be counted`,
    );
  }
  if (parseExpires(signed.expires).getTime() <= now.getTime())
    problems.push(`root v${signed.version} expired at ${signed.expires}`);
  const onlineKeyid = onlineKeyId(signed);
  for (const role of ONLINE_TOP_LEVEL_ROLES) {
    if (onlineRoleProblem(signed, role) !== null) {
      warnings.push(`${role} is not signed by one online key with threshold 1: RSTUF and tufbox servers expect that`);
      continue;
    }
    // One key per role is fine (tufbox); none of them may be a root key.
    const keyid = signed.roles[role].keyids[0]!;
    if (signed.roles.root.keyids.includes(keyid) && (role === "timestamp" || keyid !== onlineKeyid))
      problems.push(`the online key ${keyid} is also a root key`);
  }
  if (signed.roles.root.threshold === 1 && signed.roles.root.keyids.length > 1)
    warnings.push("root threshold is 1: any single root key can sign a new root");

  const check = verifyRootUpdate(doc, opts.trusted);
  const status: ThresholdStatus[] = [{ of: "document", version: signed.version, result: check.own }];
  if (trusted && check.trusted) status.push({ of: "trusted", version: trusted.version, result: check.trusted });
  return {
    kind: opts.kind,
    version: signed.version,
    expires: signed.expires,
    trustedVersion: trusted?.version,
    keys: signed.keys,
    roles: signed.roles,
    onlineKeyid,
    changes,
    problems,
    warnings,
    status,
  };
}

/** True when every root whose threshold applies is satisfied. */
export function thresholdsMet(summary: RootSummary): boolean {
  return summary.status.every((s) => s.result.verified);
}

export function formatStatus(s: ThresholdStatus, keys: Record<string, KeyJSON>): string {
  const r = s.result;
  const n = r.signed.length + r.unsigned.length;
  const whose = s.of === "document" ? `root v${s.version} (this root)` : `root v${s.version} (trusted)`;
  let line = `${whose}: ${r.signed.length} of ${n} signed, threshold ${r.threshold}${r.verified ? " — met" : ` — ${r.threshold - r.signed.length} more needed`}`;
  const missing = r.unsigned.filter((id) => !r.invalid.includes(id));
  if (!r.verified && missing.length > 0)
    line += `\n    unsigned: ${missing.map((id) => keyLabel(keys, id)).join(", ")}`;
  if (r.invalid.length > 0) line += `\n    INVALID signature from: ${r.invalid.join(", ")}`;
  return line;
}

const KIND_LABEL: Record<RootFileKind, string> = {
  bootstrap: "bootstrap payload",
  update: "metadata-update payload",
  metadata: "root metadata file",
};

export function formatRootSummary(s: RootSummary, trustedKeys: Record<string, KeyJSON> = {}): string {
  const lines: string[] = [];
  lines.push(
    `root v${s.version} — ${KIND_LABEL[s.kind]}${s.trustedVersion !== undefined ? ` (trusted: root v${s.trustedVersion})` : ""}`,
  );
  lines.push(`  expires      ${s.expires}`);
  lines.push(`  root         threshold ${s.roles.root.threshold} of ${s.roles.root.keyids.length}:`);
  for (const id of s.roles.root.keyids) lines.push(`                 ${keyLabel(s.keys, id)}`);
  const shared = s.onlineKeyid !== undefined && ONLINE_TOP_LEVEL_ROLES.every((r) => onlineRoleProblem(s, r) === null);
  if (shared) {
    const uri = s.keys[s.onlineKeyid!]?.[ONLINE_KEY_URI];
    lines.push(`  online key   ${keyLabel(s.keys, s.onlineKeyid!)}${typeof uri === "string" ? ` ${uri}` : ""}`);
    lines.push("               signs targets, snapshot, timestamp (threshold 1)");
  } else {
    for (const r of ONLINE_TOP_LEVEL_ROLES)
      lines.push(
        `  ${r.padEnd(12)} threshold ${s.roles[r].threshold}: ${s.roles[r].keyids.map((id) => keyLabel(s.keys, id)).join(", ")}`,
      );
  }
  if (s.changes.length > 0) {
    lines.push(s.trustedVersion !== undefined ? `changes from root v${s.trustedVersion}:` : "changes:");
    for (const c of s.changes) lines.push(`  ${c}`);
  }
  lines.push("signatures:");
  for (const st of s.status) lines.push(`  ${formatStatus(st, st.of === "document" ? s.keys : trustedKeys)}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  for (const p of s.problems) lines.push(`PROBLEM: ${p}`);
  return lines.join("\n");
}
