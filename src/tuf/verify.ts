/**
 * Threshold verification that reports instead of throwing (as python-tuf's
 * `get_verification_result`): which keys signed, which did not, whether the
 * threshold is met. Signing sessions show this as "k of n signed".
 */
import { canonicalJson, utf8 } from "./canonical.ts";
import { PublicKey, type KeyJSON } from "./keys.ts";
import type { RoleKeys, Signature, Metadata, RootSigned, SignedBase } from "./metadata.ts";

export interface VerificationResult {
  verified: boolean;
  threshold: number;
  /** keyids of the role whose signature verified */
  signed: string[];
  /** keyids of the role with no valid signature */
  unsigned: string[];
  /** keyids whose signature is present but does not verify */
  invalid: string[];
}

export type KeyLookup = Record<string, KeyJSON | PublicKey>;

const parsedKeys = new WeakMap<object, PublicKey>();

function toPublicKey(key: KeyJSON | PublicKey, keyid: string): PublicKey | undefined {
  if (key instanceof PublicKey) return key;
  const cached = parsedKeys.get(key);
  if (cached && cached.keyid === keyid) return cached;
  try {
    const pk = PublicKey.fromJSON(key, "key", keyid);
    parsedKeys.set(key, pk);
    return pk;
  } catch {
    return undefined;
  }
}

export function verifyRole(
  signedBytes: Uint8Array,
  signatures: Signature[],
  keys: KeyLookup,
  role: RoleKeys,
): VerificationResult {
  const byKeyid = new Map<string, string>();
  for (const s of signatures) if (!byKeyid.has(s.keyid)) byKeyid.set(s.keyid, s.sig);
  const signed: string[] = [];
  const unsigned: string[] = [];
  const invalid: string[] = [];
  for (const keyid of role.keyids) {
    const sig = byKeyid.get(keyid);
    const keyJSON = keys[keyid];
    const key = keyJSON ? toPublicKey(keyJSON, keyid) : undefined;
    if (sig === undefined || !key) {
      unsigned.push(keyid);
    } else if (key.verify(signedBytes, sig)) {
      signed.push(keyid);
    } else {
      invalid.push(keyid);
      unsigned.push(keyid);
    }
  }
  return { verified: signed.length >= role.threshold, threshold: role.threshold, signed, unsigned, invalid };
}

export function signedBytesOf(meta: Metadata<SignedBase>): Uint8Array {
  return utf8(canonicalJson(meta.signed));
}

/** Verify `meta` as role `roleName` of `root` (root itself, or any top-level role). */
export function verifyWithRoot(
  meta: Metadata<SignedBase>,
  root: RootSigned,
  roleName: keyof RootSigned["roles"],
): VerificationResult {
  return verifyRole(signedBytesOf(meta), meta.signatures, root.keys, root.roles[roleName]);
}
