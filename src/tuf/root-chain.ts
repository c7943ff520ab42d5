/**
 * Root rotation (spec 5.3.4-5.3.5): root N+1 is trusted only if it verifies
 * with the root role (keys and threshold) of root N *and* with its own; a
 * client that trusts root N walks N+1, N+2, … one at a time. The one home of
 * that rule: the engine (a pending root update), the offline signer's
 * summary, `tufbox status` and the CLI's walk from a trusted root all ask here.
 *
 * Reports rather than throws (like verifyRole): callers say why in their words.
 */
import { canonicalJson } from "./canonical.ts";
import { metadataFileName } from "./file-names.ts";
import type { Metadata, RootSigned } from "./metadata.ts";
import { signedBytesOf, type VerificationResult, verifyRole } from "./verify.ts";

export interface RootUpdateVerification {
  /** both thresholds met (only its own when there is no trusted root) */
  verified: boolean;
  /** signatures counted against the document's own root role */
  own: VerificationResult;
  /** signatures counted against the trusted root N's root role, when given */
  trusted?: VerificationResult;
}

/** Check root N+1 (`next`) against its own root role and, when given, that of root N (`trusted`). */
export function verifyRootUpdate(next: Metadata<RootSigned>, trusted?: Metadata<RootSigned>): RootUpdateVerification {
  const bytes = signedBytesOf(next);
  const own = verifyRole(bytes, next.signatures, next.signed.keys, next.signed.roles.root);
  if (!trusted) return { verified: own.verified, own };
  const byTrusted = verifyRole(bytes, next.signatures, trusted.signed.keys, trusted.signed.roles.root);
  return { verified: own.verified && byTrusted.verified, own, trusted: byTrusted };
}

export type RootChainResult =
  | { ok: true; root: Metadata<RootSigned>; walked: number[] }
  | { ok: false; reason: string };

/**
 * Walk from a trusted root to `latest` (the repository's current root) the way
 * a client does: every version in between, loaded with `load`, must follow
 * its predecessor and pass verifyRootUpdate. `walked` lists the versions
 * after the trusted one. `load` returns undefined for a missing file and
 * throws for a file that is not root metadata (the caller names the source).
 */
export async function walkRootChain(
  trusted: Metadata<RootSigned>,
  latest: Metadata<RootSigned>,
  load: (version: number) => Promise<Metadata<RootSigned> | undefined>,
  opts: { trustedSource?: string } = {},
): Promise<RootChainResult> {
  const t = trusted.signed.version;
  const trustedRoot = `the trusted root v${t}${opts.trustedSource ? ` (${opts.trustedSource})` : ""}`;
  const n = latest.signed.version;
  if (n < t) return { ok: false, reason: `it is older than ${trustedRoot}` };
  if (n === t) {
    if (!sameSigned(latest, trusted))
      return { ok: false, reason: `it is not ${trustedRoot}, though it has the same version` };
    return { ok: true, root: latest, walked: [] };
  }
  let prev = trusted;
  const walked: number[] = [];
  for (let v = t + 1; v <= n; v++) {
    const name = metadataFileName("root", v);
    const next = await load(v);
    if (next === undefined)
      return { ok: false, reason: `${name} is missing, so the chain from root v${t} cannot be checked` };
    if (next.signed.version !== v) return { ok: false, reason: `${name} holds version ${next.signed.version}` };
    const check = verifyRootUpdate(next, prev);
    const byPrev = check.trusted!;
    if (!byPrev.verified)
      return {
        ok: false,
        reason: `root v${v} has ${byPrev.signed.length} valid signature(s) of root v${v - 1}'s keys; its threshold is ${byPrev.threshold}`,
      };
    if (!check.own.verified)
      return {
        ok: false,
        reason: `root v${v} has ${check.own.signed.length} valid signature(s) of its own root keys; its threshold is ${check.own.threshold}`,
      };
    walked.push(v);
    prev = next;
  }
  if (!sameSigned(prev, latest)) return { ok: false, reason: `root.json differs from ${metadataFileName("root", n)}` };
  return { ok: true, root: prev, walked };
}

function sameSigned(a: Metadata<RootSigned>, b: Metadata<RootSigned>): boolean {
  return canonicalJson(a.signed) === canonicalJson(b.signed);
}
