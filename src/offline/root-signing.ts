/**
 * Adding root-key signatures to a root document. A private key is matched to
 * the root's keys by key material (keyids may be legacy securesystemslib
 * ones), in the document's root role and — for root N+1 — in the trusted
 * root N's root role too: a key that N+1 removes must still sign N+1 so that
 * it verifies with N's threshold (spec 5.3.4).
 *
 * `reviewRoot` (the summary shown before signing) and `signRoot` (the
 * signatures and the summary after) take the document and the trusted root
 * wherever they came from: files today; with `--server` later, the pending
 * root and `trusted_root` of GET /api/v1/metadata/sign, each new signature
 * then POSTed to /api/v1/metadata/sign.
 */
import type { KeyObject } from "node:crypto";
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import { computeKeyId, computeLegacyKeyId } from "../tuf/keys.ts";
import type { Metadata, RootSigned, Signature } from "../tuf/metadata.ts";
import type { NativeSigner } from "../tuf/signer.ts";
import { OfflineError } from "./errors.ts";
import { isKeyOf, publicKeyOf, signerAs } from "./key-files.ts";
import type { RootFileKind } from "./root-files.ts";
import { summarizeRoot, type RootSummary } from "./root-summary.ts";

export interface SigningKey {
  privateKey: KeyObject;
  /** the file it was read from, for messages */
  source: string;
}

/** keyids (of the root role of `roots`, in order, without duplicates) whose key is `privateKey`. */
function matchingRootKeyids(privateKey: KeyObject, roots: RootSigned[]): { keyid: string; root: RootSigned }[] {
  const found: { keyid: string; root: RootSigned }[] = [];
  for (const root of roots) {
    for (const keyid of root.roles.root.keyids) {
      const key = root.keys[keyid];
      if (key && !found.some((f) => f.keyid === keyid) && isKeyOf(privateKey, key)) found.push({ keyid, root });
    }
  }
  return found;
}

/**
 * Signers for `key` as every keyid it has in the root role of `doc` (and of
 * `trusted`). Usually one; two when old and new root list the same key
 * under different keyids. Refuses keys that are not root keys, naming the key.
 */
export function rootSignersFor(key: SigningKey, doc: RootSigned, trusted?: RootSigned): NativeSigner[] {
  const matches = matchingRootKeyids(key.privateKey, trusted ? [doc, trusted] : [doc]);
  if (matches.length > 0) return matches.map((m) => signerAs(key.privateKey, m.keyid, m.root.keys[m.keyid]!));
  const pub = publicKeyOf(key.privateKey);
  const keyid = computeKeyId(pub);
  const isOnline = [doc, trusted].some((r) =>
    r?.roles.timestamp.keyids.some((id) => r.keys[id] && isKeyOf(key.privateKey, r.keys[id]!)),
  );
  if (isOnline) {
    throw new OfflineError(
      `key ${keyid} (${key.source}) is the online key, not a root key of root v${doc.version}`,
      "root metadata is signed by root keys; give a root key's private key file",
    );
  }
  const rootIds = doc.roles.root.keyids.join(", ");
  const hint =
    trusted || doc.version === 1
      ? `root v${doc.version} root keys: ${rootIds}`
      : `root v${doc.version} root keys: ${rootIds}; if this key is a root key of the previous root (removed by this update), pass --trusted with that root`;
  throw new OfflineError(
    `key ${keyid} (${key.source}; legacy keyid ${computeLegacyKeyId(pub)}) is not a root key of root v${doc.version}`,
    hint,
  );
}

/** `root` with one signature per signer added; an older signature of the same keyid is replaced. */
export function addRootSignatures(root: Metadata<RootSigned>, signers: NativeSigner[]): Metadata<RootSigned> {
  const data = utf8(canonicalJson(root.signed));
  const fresh = new Map(signers.map((s) => [s.keyid, { keyid: s.keyid, sig: s.sign(data) } as Signature]));
  // A replaced signature keeps its place (a re-signed file diffs as one line); new ones are appended.
  const signatures = root.signatures.map((s) => fresh.get(s.keyid) ?? s);
  for (const [keyid, sig] of fresh) if (!root.signatures.some((s) => s.keyid === keyid)) signatures.push(sig);
  return { ...root, signatures };
}

/** A root document to sign, wherever it came from (a file, or a server's signing session). */
export interface RootToSign {
  root: Metadata<RootSigned>;
  /** root N, for root N+1: its threshold applies too, and changes are shown against it */
  trusted?: Metadata<RootSigned>;
  kind: RootFileKind;
}

/** What the signer is shown first. Refuses documents that must not be signed (wrong version, expired, …). */
export function reviewRoot(doc: RootToSign, now = new Date()): RootSummary {
  const summary = summarizeRoot(doc.root, { kind: doc.kind, trusted: doc.trusted, now });
  if (summary.problems.length > 0) {
    throw new OfflineError(
      `refusing to sign root v${doc.root.signed.version}: ${summary.problems.join("; ")}`,
      "check that you are signing the document you mean to (and --trusted is the root it follows)",
    );
  }
  return summary;
}

export interface RootSignature {
  /** keyids signed as (usually one) */
  keyids: string[];
  /** keyids whose earlier signature was replaced */
  replaced: string[];
  /** the new signatures only: what a server's POST /api/v1/metadata/sign takes, one by one */
  signatures: Signature[];
  /** the document with them added */
  root: Metadata<RootSigned>;
  /** the summary after signing (k of n counts) */
  after: RootSummary;
}

/** Add `key`'s signature(s) to the document (after `reviewRoot` and the signer's confirmation). */
export function signRoot(doc: RootToSign, key: SigningKey, now = new Date()): RootSignature {
  const signers = rootSignersFor(key, doc.root.signed, doc.trusted?.signed);
  const keyids = signers.map((s) => s.keyid);
  const replaced = doc.root.signatures.filter((s) => keyids.includes(s.keyid)).map((s) => s.keyid);
  const root = addRootSignatures(doc.root, signers);
  const signatures = root.signatures.filter((s) => keyids.includes(s.keyid));
  const after = summarizeRoot(root, { kind: doc.kind, trusted: doc.trusted, now });
  return { keyids, replaced, signatures, root, after };
}
