/**
 * Key files as operators keep them on an offline machine: a PKCS#8 PEM
 * private key (optionally passphrase-encrypted) and beside it `NAME.pub`, the
 * TUF public key object as JSON (spec 4.2 KEY), with `x-rstuf-key-name`.
 *
 * Private keys are matched to published public keys by key material, never
 * by keyid: RSTUF ceremonies made with securesystemslib < 1.0 carry legacy
 * keyids (see tuf/keys.ts computeLegacyKeyId).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { PublicKey, computeKeyId, keySpki, type KeyJSON } from "../tuf/keys.ts";
import { publicKeyJSONFor, NativeSigner } from "../tuf/signer.ts";
import { TufError } from "../tuf/errors.ts";
import { OfflineError } from "./errors.ts";
import { privateKeyPem } from "./pkcs8.ts";
import { KEY_NAME } from "../tuf/rstuf.ts";

export const KEY_TYPES = ["ed25519", "ecdsa", "rsa"] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** A public key with the keyid it is (or will be) listed under. */
export interface NamedKey {
  keyid: string;
  key: KeyJSON;
  /** where it came from (a file path), for messages */
  source: string;
}

/** ecdsa = NIST P-256 (ecdsa-sha2-nistp256); rsa = 3072 bits, used with rsassa-pss-sha256. */
export function generatePrivateKey(type: KeyType): KeyObject {
  switch (type) {
    case "ed25519":
      return generateKeyPairSync("ed25519").privateKey;
    case "ecdsa":
      return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    case "rsa":
      return generateKeyPairSync("rsa", { modulusLength: 3072, publicExponent: 0x10001 }).privateKey;
  }
}

/** The `.pub` file beside a private key file. */
export function publicKeyPath(privatePath: string): string {
  return `${privatePath}.pub`;
}

export function publicKeyText(key: KeyJSON): string {
  return JSON.stringify(key, null, 2) + "\n";
}

/**
 * Write `path` (PKCS#8 PEM, mode 0600) and `path.pub` (TUF key JSON). Refuses
 * to replace either file unless `force`: an overwritten root key is gone.
 */
export function writeKeyPair(
  path: string,
  privateKey: KeyObject,
  opts: { name: string; passphrase?: string; force?: boolean },
): NamedKey {
  const pubPath = publicKeyPath(path);
  if (!opts.force) {
    for (const p of [path, pubPath]) {
      if (existsSync(p))
        throw new OfflineError(
          `${p} already exists`,
          "choose another --out, or pass --force to replace it (the old key is lost)",
        );
    }
  }
  const key = publicKeyJSONFor(privateKey, { [KEY_NAME]: opts.name });
  const pemText = privateKeyPem(privateKey, opts.passphrase);
  // A replaced file keeps its old mode with writeFileSync: remove it first so 0600 applies.
  for (const p of [path, pubPath]) if (opts.force && existsSync(p)) unlinkSync(p);
  writeFileSync(path, pemText, { mode: 0o600, flag: "wx" });
  writeFileSync(pubPath, publicKeyText(key), { mode: 0o644, flag: "wx" });
  return { keyid: computeKeyId(key), key, source: pubPath };
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new OfflineError(`${path}: no such file`, `check the path of the ${what}`);
    if (code === "EACCES")
      throw new OfflineError(`${path}: permission denied`, `make the ${what} readable by this user`);
    if (code === "EISDIR") throw new OfflineError(`${path} is a directory`, `give the path of the ${what} file`);
    throw new OfflineError(`${path}: cannot read (${code ?? "error"})`, `check the path of the ${what}`);
  }
}

const PRIVATE_PEM = /-----BEGIN (?:ENCRYPTED |RSA |EC |OPENSSH )?PRIVATE KEY-----/;

/**
 * Read a `.pub` file: a TUF key object. An explicit `keyid` field (as some
 * tools write) is used as the keyid and dropped from the key object;
 * otherwise the keyid is computed (spec 4.2). Unnamed keys are named after
 * the file so a ceremony's root lists who holds what.
 */
export function readPublicKeyFile(path: string): NamedKey {
  const text = readText(path, "public key (.pub)");
  if (PRIVATE_PEM.test(text)) {
    throw new OfflineError(
      `${path} is a private key`,
      `give its public key file instead (${path}.pub, written by 'tufbox key generate'); private keys are only for --sign / --key`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OfflineError(
      `${path} is not a TUF public key file (not JSON)`,
      "give the NAME.pub file written by 'tufbox key generate'",
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OfflineError(
      `${path} is not a TUF public key object`,
      'expected {"keytype", "scheme", "keyval": {"public"}} as written by \'tufbox key generate\'',
    );
  }
  const { keyid: givenKeyid, ...key } = value as Record<string, unknown>;
  const keyval = key.keyval as Record<string, unknown> | undefined;
  if (keyval && typeof keyval === "object" && "private" in keyval) {
    throw new OfflineError(
      `${path} contains a private key (keyval.private)`,
      "export the public part only; never put private keys into metadata",
    );
  }
  let parsed: PublicKey;
  try {
    parsed = PublicKey.fromJSON(key, "key");
  } catch (err) {
    if (err instanceof TufError)
      throw new OfflineError(`${path}: ${err.message}`, "give the NAME.pub file written by 'tufbox key generate'");
    throw err;
  }
  if (givenKeyid !== undefined && (typeof givenKeyid !== "string" || !/^[0-9a-f]{64}$/.test(givenKeyid))) {
    throw new OfflineError(
      `${path}: keyid must be 64 lower-case hex characters`,
      "remove the keyid field to have it computed",
    );
  }
  const json = parsed.json;
  if (json[KEY_NAME] === undefined) json[KEY_NAME] = basename(path).replace(/\.pub$/, "");
  return { keyid: (givenKeyid as string | undefined) ?? computeKeyId(json), key: json, source: path };
}

export interface PrivateKeyFile {
  path: string;
  pem: string;
  encrypted: boolean;
}

export function readPrivateKeyFile(path: string): PrivateKeyFile {
  const pem = readText(path, "private key");
  if (!PRIVATE_PEM.test(pem)) {
    if (pem.trimStart().startsWith("{"))
      throw new OfflineError(
        `${path} is a public key file`,
        "signing needs the private key file (the one without .pub)",
      );
    throw new OfflineError(
      `${path} is not a PEM private key`,
      "give a PKCS#8 PEM file as written by 'tufbox key generate'",
    );
  }
  if (pem.includes("-----BEGIN OPENSSH PRIVATE KEY-----")) {
    throw new OfflineError(
      `${path} is an OpenSSH key`,
      "convert it to PKCS#8 PEM (ssh-keygen -p -m PKCS8 -f FILE), or generate one with 'tufbox key generate'",
    );
  }
  // PKCS#8 encrypted, or OpenSSL's legacy "Proc-Type: 4,ENCRYPTED" header.
  const encrypted = pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
  return { path, pem, encrypted };
}

/** Decrypt / parse a private key file. A failure on an encrypted file is reported as a wrong passphrase. */
export function openPrivateKey(file: PrivateKeyFile, passphrase?: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(
      passphrase !== undefined ? { key: file.pem, format: "pem", passphrase } : { key: file.pem, format: "pem" },
    );
  } catch {
    if (file.encrypted) {
      throw new OfflineError(
        `${file.path}: wrong passphrase (cannot decrypt the private key)`,
        "check --passphrase-file or TUFBOX_KEY_PASSPHRASE",
        "wrong-passphrase",
      );
    }
    throw new OfflineError(
      `${file.path}: cannot parse the private key`,
      "give a PKCS#8 PEM file as written by 'tufbox key generate'",
    );
  }
  try {
    publicKeyJSONFor(key);
  } catch (err) {
    throw new OfflineError(
      `${file.path}: ${err instanceof Error ? err.message : String(err)}`,
      "supported key types: ed25519, ecdsa (P-256), rsa",
    );
  }
  return key;
}

/** True when `privateKey` is the private half of the published `key` (compared as SPKI DER). */
export function isKeyOf(privateKey: KeyObject, key: KeyJSON): boolean {
  const mine = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const theirs = keySpki(key);
  return theirs !== undefined && Buffer.compare(mine, theirs) === 0;
}

/** A signer for `privateKey` that signs as `keyid` (which must list the same key material). */
export function signerAs(privateKey: KeyObject, keyid: string, key: KeyJSON): NativeSigner {
  return new NativeSigner(privateKey, PublicKey.fromJSON(key, "key", keyid));
}

/** The public key of a private key, as `key generate` would publish it. */
export function publicKeyOf(privateKey: KeyObject): KeyJSON {
  return publicKeyJSONFor(privateKey);
}
