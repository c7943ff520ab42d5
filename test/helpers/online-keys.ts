/**
 * Online keys per role for tests (issue 17): fresh keys of each type written
 * as PKCS#8 PEM files into an online-key directory (fn:<keyid>), and RSTUF
 * bootstrap payloads / root updates whose root names a different online key
 * for timestamp, snapshot and targets (and the bins one of their own), signed
 * by the fixtures' root keys.
 */
import { generateKeyPairSync } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { computeKeyId, type KeyJSON } from "../../src/tuf/keys.ts";
import { KEY_NAME, ONLINE_KEY_URI } from "../../src/tuf/rstuf.ts";
import { publicKeyJSONFor, signerFromPem } from "../../src/tuf/signer.ts";
import { fixture, fixtureKey, ONLINE_KEY_DIR } from "./fixtures.ts";
import { tempDir } from "./temp.ts";

export type KeyType = "ed25519" | "ecdsa" | "rsa";
export const KEY_TYPES: KeyType[] = ["ed25519", "ecdsa", "rsa"];

export interface OnlineKey {
  keyid: string;
  key: KeyJSON;
}

/** A fresh online-key directory holding the fixtures' online keys (their roots and updates keep working). */
export function onlineKeyDir(): string {
  const dir = tempDir("tufbox-online-keys-");
  for (const f of readdirSync(ONLINE_KEY_DIR)) copyFileSync(join(ONLINE_KEY_DIR, f), join(dir, f));
  return dir;
}

/** A new key of `type`, its private PEM written to `dir` under its keyid (fn:<keyid>). */
export function newOnlineKey(type: KeyType, dir: string, name = `online ${type}`): OnlineKey {
  const { privateKey } =
    type === "ed25519"
      ? generateKeyPairSync("ed25519")
      : type === "ecdsa"
        ? generateKeyPairSync("ec", { namedCurve: "P-256" })
        : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pub = publicKeyJSONFor(privateKey);
  const keyid = computeKeyId(pub);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, keyid), privateKey.export({ format: "pem", type: "pkcs8" }).toString(), { mode: 0o600 });
  return { keyid, key: { ...pub, [KEY_NAME]: name, [ONLINE_KEY_URI]: `fn:${keyid}` } };
}

export interface RoleKeys {
  timestamp: OnlineKey;
  snapshot: OnlineKey;
  targets: OnlineKey;
  /** the bins' own key (settings.roles.bins.online_key); absent: the targets key signs the bins */
  bins?: OnlineKey;
}

/** Sign `signed` with the fixtures' two root keys (root v1's threshold 2). */
export function rootSignatures(signed: Record<string, any>): { keyid: string; sig: string }[] {
  const data = utf8(canonicalJson(signed));
  return ["root-ed25519", "root-ecdsa"].map((name) => {
    const { pem, keyid } = fixtureKey(name);
    return { keyid, sig: signerFromPem(pem, { keyJSON: signed.keys[keyid], keyid }).sign(data) };
  });
}

/** Root `signed` with `keys` as the online keys (the root keys kept), no other key listed. */
export function withOnlineKeys(signed: Record<string, any>, keys: RoleKeys, version: number): Record<string, any> {
  const out = structuredClone(signed);
  out.version = version;
  const rootIds: string[] = out.roles.root.keyids;
  out.keys = Object.fromEntries(rootIds.map((id) => [id, out.keys[id]]));
  for (const role of ["timestamp", "snapshot", "targets"] as const) {
    out.keys[keys[role].keyid] = keys[role].key;
    out.roles[role] = { keyids: [keys[role].keyid], threshold: 1 };
  }
  return out;
}

/** The fixture's bins bootstrap payload with an online key per role. */
export function perRolePayload(keys: RoleKeys, bins = 4): any {
  const p = fixture("bootstrap-bins.json");
  p.settings.roles.bins.number_of_delegated_bins = bins;
  if (keys.bins) p.settings.roles.bins.online_key = { [keys.bins.keyid]: keys.bins.key };
  const signed = withOnlineKeys(p.metadata.root.signed, keys, 1);
  p.metadata.root = { signed, signatures: rootSignatures(signed) };
  return p;
}

/** Root N+1 from `current` (signed) with new online keys, signed by the root keys. */
export function rootUpdate(current: Record<string, any>, keys: RoleKeys): { signed: any; signatures: any[] } {
  const signed = withOnlineKeys(current, keys, current.version + 1);
  return { signed, signatures: rootSignatures(signed) };
}
