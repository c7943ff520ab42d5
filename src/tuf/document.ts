/**
 * Building signed metadata files. A published file is
 * `{"signatures":[…],"signed":<canonical signed>}` (control characters
 * escaped, see canonical.ts), so the bytes are reproducible and what clients
 * re-canonicalize is exactly what was signed.
 */
import { canonicalJson, canonicalObjectFromEntries, jsonTextOf, utf8 } from "./canonical.ts";
import type { Signature, SignedBase } from "./metadata.ts";
import type { Signer } from "./signer.ts";

export interface SignedDocument {
  /** canonical JSON of `signed` */
  signedText: string;
  signatures: Signature[];
  bytes: Uint8Array;
}

/**
 * Canonical text of a targets `signed` whose `targets` map is given as
 * pre-serialized `[path, canonicalTargetFileJSON]` fragments. Equal to
 * `canonicalJson(signed)` with the full map (tests prove it), but avoids
 * re-serializing thousands of target entries per bin on every publish.
 */
export function canonicalTargetsText(
  signedWithoutTargets: Omit<SignedBase, never>,
  fragments: [string, string][],
): string {
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(signedWithoutTargets)) {
    if (k === "targets" || v === undefined) continue;
    entries.push([k, canonicalJson(v)]);
  }
  entries.push(["targets", canonicalObjectFromEntries(fragments)]);
  return canonicalObjectFromEntries(entries);
}

export function serializeEnvelope(signedText: string, signatures: Signature[]): Uint8Array {
  return utf8(`{"signatures":${canonicalJson(signatures)},"signed":${jsonTextOf(signedText)}}`);
}

export function signText(signedText: string, signers: Signer[], existing: Signature[] = []): SignedDocument {
  const data = utf8(signedText);
  const signatures: Signature[] = existing.filter((s) => !signers.some((k) => k.keyid === s.keyid));
  for (const signer of signers) signatures.push({ keyid: signer.keyid, sig: signer.sign(data) });
  return { signedText, signatures, bytes: serializeEnvelope(signedText, signatures) };
}

export function signSigned(signed: SignedBase, signers: Signer[]): SignedDocument {
  return signText(canonicalJson(signed), signers);
}
