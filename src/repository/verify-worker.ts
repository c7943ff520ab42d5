/**
 * Worker side of VerifyPool: checks signatures with the PUBLIC key only, so
 * no private key material ever crosses a thread boundary.
 */
import { PublicKey, type KeyJSON } from "../tuf/keys.ts";

declare const self: Worker;

interface VerifyRequest {
  id: number;
  keyid: string;
  key: KeyJSON;
  items: { data: Uint8Array; sig: string; name: string }[];
}

const keys = new Map<string, PublicKey>();

self.onmessage = (event: MessageEvent<VerifyRequest>) => {
  const { id, keyid, key, items } = event.data;
  let pk = keys.get(keyid);
  if (!pk) keys.set(keyid, (pk = PublicKey.fromJSON(key, "key", keyid)));
  const failed: string[] = [];
  for (const item of items) if (!pk.verify(item.data, item.sig)) failed.push(item.name);
  self.postMessage({ id, failed });
};
