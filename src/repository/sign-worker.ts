/**
 * Worker side of SignPool (sign-pool.ts): signs targets documents with their
 * role's online key on another core while the publisher assembles the next
 * ones, and puts each document's envelope together and hashes it. The key
 * arrives once per worker as PKCS#8 DER (a worker shares the process's
 * memory: this moves no secret anywhere it was not already); signatures are
 * still verified, with the public key only, by the verification worker.
 */
import { createPrivateKey } from "node:crypto";
import { signedEnvelope } from "../tuf/document.ts";
import { type KeyJSON, PublicKey } from "../tuf/keys.ts";
import { NativeSigner } from "../tuf/signer.ts";

declare const self: Worker;

export type SignWorkerRequest =
  | { kind: "key"; keyid: string; key: KeyJSON; pkcs8: Uint8Array }
  | { kind: "sign"; id: number; keyid: string; items: Uint8Array[] };

export interface SignWorkerResult {
  id: number;
  /** per item, in order: the signature, the envelope bytes and their sha256; the signed bytes come back too */
  sigs: string[];
  envelopes: Uint8Array[];
  sha256s: string[];
  items: Uint8Array[];
  error?: string;
}

const signers = new Map<string, NativeSigner>();

self.onmessage = (event: MessageEvent<SignWorkerRequest>) => {
  const m = event.data;
  if (m.kind === "key") {
    const der = Buffer.from(m.pkcs8.buffer, m.pkcs8.byteOffset, m.pkcs8.byteLength);
    const privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
    der.fill(0);
    signers.set(m.keyid, new NativeSigner(privateKey, PublicKey.fromJSON(m.key, "key", m.keyid)));
    return;
  }
  const signer = signers.get(m.keyid);
  const result: SignWorkerResult = { id: m.id, sigs: [], envelopes: [], sha256s: [], items: m.items };
  if (!signer) {
    self.postMessage({ ...result, error: `no key ${m.keyid} was given to the signing worker` });
    return;
  }
  for (const data of m.items) {
    const { sig, envelope, sha256 } = signedEnvelope(signer, data);
    result.sigs.push(sig);
    result.envelopes.push(envelope);
    result.sha256s.push(sha256);
  }
  self.postMessage(
    result,
    [...result.envelopes, ...result.items].map((b) => b.buffer as ArrayBuffer),
  );
};
