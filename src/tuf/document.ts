/**
 * Building signed metadata files. A published file is
 * `{"signatures":[…],"signed":<canonical signed>}` (control characters
 * escaped, see canonical.ts), so the bytes are reproducible and what clients
 * re-canonicalize is exactly what was signed.
 */
import { createHash } from "node:crypto";
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

/**
 * The same bytes as serializeEnvelope(signedText, signatures), given the
 * UTF-8 of `signedText` already encoded for signing: the envelope is put
 * together from bytes instead of encoding a second, larger string (a bin at
 * 1M artifacts is ~12 KB, 16384 of them per batch).
 */
export function envelopeFromSignedBytes(
  signedText: string,
  signedBytes: Uint8Array,
  signatures: Signature[],
): Uint8Array {
  // Raw control characters must become JSON escapes: the slow path re-encodes.
  if (!envelopesAsIs(signedText)) return serializeEnvelope(signedText, signatures);
  return envelopeOfBytes(signedBytes, signatures);
}

/** Whether the envelope of `signedText` holds its UTF-8 bytes unchanged (no raw control character to escape). */
export function envelopesAsIs(signedText: string): boolean {
  return jsonTextOf(signedText) === signedText;
}

/** envelopeFromSignedBytes for a text `envelopesAsIs` accepted: the signed bytes go in unchanged. */
export function envelopeOfBytes(signedBytes: Uint8Array, signatures: Signature[]): Uint8Array {
  const head = utf8(`{"signatures":${canonicalJson(signatures)},"signed":`);
  const out = new Uint8Array(head.length + signedBytes.length + 1);
  out.set(head, 0);
  out.set(signedBytes, head.length);
  out[out.length - 1] = 0x7d; // "}"
  return out;
}

/** `data` (a text `envelopesAsIs` accepted) signed by `signer`: the signature, the envelope and its sha256. */
export function signedEnvelope(
  signer: Signer,
  data: Uint8Array,
): { sig: string; envelope: Uint8Array; sha256: string } {
  const sig = signer.sign(data);
  const envelope = envelopeOfBytes(data, [{ keyid: signer.keyid, sig }]);
  return { sig, envelope, sha256: createHash("sha256").update(envelope).digest("hex") };
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
