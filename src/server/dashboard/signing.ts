/**
 * GET /api/v1/signing-sessions: each document waiting for offline signatures,
 * explained for the people who must sign it — k of n per threshold that
 * applies (root N+1 needs root N's threshold and its own, spec 5.3.4), which
 * keyids are missing, what changed from the trusted version, and the exact
 * `tufbox sign` command to run where the key is.
 */
import type { App } from "../../core.ts";
import { summarizeRoot } from "../../offline/root-summary.ts";
import { canonicalJson } from "../../tuf/canonical.ts";
import { parseRoot, parseTargets, type TargetsSigned } from "../../tuf/metadata.ts";
import { signedBytesOf, verifyRole, type VerificationResult } from "../../tuf/verify.ts";

export interface ThresholdView {
  /** whose threshold: "root v3 (this document)", "root v2 (trusted)", "delegation release" */
  of: string;
  threshold: number;
  total: number;
  signed: string[];
  missing: string[];
  invalid: string[];
  met: boolean;
}

export interface SessionView {
  role: string;
  kind: "bootstrap" | "root_update" | "delegation";
  version: number;
  expires: string;
  thresholds: ThresholdView[];
  /** k of n for the headline: the least satisfied threshold */
  signed: number;
  needed: number;
  changes: string[];
  problems: string[];
  command: string;
}

function view(of: string, r: VerificationResult): ThresholdView {
  return {
    of,
    threshold: r.threshold,
    total: r.signed.length + r.unsigned.length,
    signed: r.signed,
    missing: r.unsigned.filter((id) => !r.invalid.includes(id)),
    invalid: r.invalid,
    met: r.verified,
  };
}

/** What a new version of a delegated targets role changes, one line each (at most 50). */
function targetsChanges(pending: TargetsSigned, published: TargetsSigned | undefined): string[] {
  if (!published) return [`new role: v${pending.version} with ${Object.keys(pending.targets).length} target(s)`];
  const out: string[] = [`version ${published.version} → ${pending.version}`];
  if (published.expires !== pending.expires) out.push(`expires ${published.expires} → ${pending.expires}`);
  const lines: string[] = [];
  for (const [path, info] of Object.entries(pending.targets)) {
    const before = published.targets[path];
    if (!before) lines.push(`+ ${path} (${info.length} bytes)`);
    else if (canonicalJson(before) !== canonicalJson(info)) lines.push(`~ ${path}`);
  }
  for (const path of Object.keys(published.targets)) if (!(path in pending.targets)) lines.push(`- ${path}`);
  out.push(...lines.slice(0, 50));
  if (lines.length > 50) out.push(`… and ${lines.length - 50} more`);
  return out;
}

export async function signingSessions(app: App, origin: string): Promise<SessionView[]> {
  const pending = await app.repo.pendingSigning();
  if (!pending) return [];
  const now = new Date(app.clock.now());
  const out: SessionView[] = [];
  const trustedTargets =
    pending.trusted_targets !== undefined ? parseTargets(pending.trusted_targets).signed : undefined;
  for (const [role, value] of Object.entries(pending)) {
    if (role === "trusted_root" || role === "trusted_targets") continue;
    if (role === "root") {
      const doc = parseRoot(value);
      const trusted = pending.trusted_root !== undefined ? parseRoot(pending.trusted_root) : undefined;
      const summary = summarizeRoot(doc, { kind: trusted ? "update" : "bootstrap", trusted, now });
      const thresholds = summary.status.map((s) =>
        view(s.of === "document" ? `root v${s.version} (this document)` : `root v${s.version} (trusted)`, s.result),
      );
      out.push({
        role,
        kind: trusted ? "root_update" : "bootstrap",
        version: doc.signed.version,
        expires: doc.signed.expires,
        thresholds,
        ...headline(thresholds),
        changes: summary.changes,
        problems: summary.problems,
        command: `tufbox sign --key YOUR_KEY --server ${origin}`,
      });
      continue;
    }
    const doc = parseTargets(value);
    const def = trustedTargets?.delegations?.roles?.find((r) => r.name === role);
    const thresholds = def
      ? [
          view(
            `delegation ${role}`,
            verifyRole(signedBytesOf(doc), doc.signatures, trustedTargets!.delegations!.keys, def),
          ),
        ]
      : [];
    const published = await app.store.getLatestDocument(role);
    const before = published ? parseTargets(JSON.parse(new TextDecoder().decode(published.bytes))).signed : undefined;
    out.push({
      role,
      kind: "delegation",
      version: doc.signed.version,
      expires: doc.signed.expires,
      thresholds,
      ...headline(thresholds),
      changes: targetsChanges(doc.signed, before),
      problems: def ? [] : [`${role} is no longer delegated by the trusted targets`],
      command: `tufbox sign --key YOUR_KEY --role ${role} --server ${origin}`,
    });
  }
  return out;
}

function headline(thresholds: ThresholdView[]): { signed: number; needed: number } {
  // The threshold furthest from being met is what the signers still face.
  let worst: ThresholdView | undefined;
  for (const t of thresholds)
    if (!worst || t.threshold - t.signed.length > worst.threshold - worst.signed.length) worst = t;
  return { signed: worst?.signed.length ?? 0, needed: worst?.threshold ?? 0 };
}
