/**
 * Worker side of VerifyPool: checks signatures with the PUBLIC key only, so
 * no private key material ever crosses a thread boundary. Also checks how
 * deep each document nests (client-limits.ts), off the publisher's thread.
 */
import { PublicKey, type KeyJSON } from "../tuf/keys.ts";
import { tooDeep } from "./client-limits.ts";

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
  const deep: string[] = [];
  for (const item of items) {
    if (tooDeep(item.data)) deep.push(item.name);
    if (!pk.verify(item.data, item.sig)) failed.push(item.name);
  }
  self.postMessage({ id, failed, deep });
};
