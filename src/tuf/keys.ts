/**
 * TUF public keys (spec 4.3 "keys"): parsing, keyid computation, signature
 * verification for the three schemes clients support:
 *  - ed25519 / ed25519: keyval.public is 64 hex chars (raw public key);
 *  - ecdsa | ecdsa-sha2-nistp256 / ecdsa-sha2-nistp256: PEM SPKI, DER-encoded
 *    signatures (as securesystemslib writes them, not WebCrypto's raw r‖s);
 *  - rsa / rsassa-pss-sha256: PEM SPKI, PSS with MGF1-SHA256.
 * Unknown fields (`x-rstuf-key-name`, `x-rstuf-online-key-uri`, …) are kept.
 */
import { createHash, createPublicKey, verify as nodeVerify, constants, type KeyObject } from "node:crypto";
import { canonicalJson, assertCanonicalSafe } from "./canonical.ts";
import { checkKeySize } from "./limits.ts";
import { TufError, joinField } from "./errors.ts";

export interface KeyJSON {
  keytype: string;
  scheme: string;
  keyval: { public: string; [extra: string]: unknown };
  [extra: string]: unknown;
}

export type KeyScheme = "ed25519" | "ecdsa-sha2-nistp256" | "rsassa-pss-sha256";

const HEX64 = /^[0-9a-f]{64}$/;
const PEM_PUBLIC = /^-----BEGIN PUBLIC KEY-----\r?\n[\s\S]+-----END PUBLIC KEY-----\s*$/;

/** keyid = hex sha256 of the canonical JSON of {keytype, scheme, keyval} (spec 4.2). */
export function computeKeyId(key: Pick<KeyJSON, "keytype" | "scheme" | "keyval">): string {
  const material = { keytype: key.keytype, scheme: key.scheme, keyval: key.keyval };
  return createHash("sha256").update(canonicalJson(material)).digest("hex");
}

/**
 * The keyid securesystemslib < 1.0 computed (its legacy key format added
 * `keyid_hash_algorithms`); RSTUF ceremonies made with it carry such keyids
 * (see test/fixtures/rstuf). Keyids are lookup names for clients, so we accept
 * either form as given and match private keys to public keys by material.
 */
export function computeLegacyKeyId(key: Pick<KeyJSON, "keytype" | "scheme" | "keyval">): string {
  const material = {
    keytype: key.keytype,
    scheme: key.scheme,
    keyid_hash_algorithms: ["sha256", "sha512"],
    keyval: key.keyval,
  };
  return createHash("sha256").update(canonicalJson(material)).digest("hex");
}

/** Raw 32-byte ed25519 public key → SPKI DER (RFC 8410 prefix + key). */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** The key material as SPKI DER; undefined when it cannot be read. */
export function keySpki(key: KeyJSON): Buffer | undefined {
  try {
    if (key.keytype === "ed25519") return Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(key.keyval.public, "hex")]);
    return createPublicKey(key.keyval.public).export({ format: "der", type: "spki" });
  } catch {
    return undefined;
  }
}

/**
 * True when two published keys hold the same key material, whatever their
 * keyids (legacy securesystemslib keyids differ) or PEM line endings.
 */
export function sameKeyMaterial(a: KeyJSON, b: KeyJSON): boolean {
  const x = keySpki(a);
  const y = keySpki(b);
  return x !== undefined && y !== undefined && Buffer.compare(x, y) === 0;
}

export class PublicKey {
  readonly keyid: string;
  readonly scheme: KeyScheme;
  readonly json: KeyJSON;
  private readonly keyObject: KeyObject;

  private constructor(keyid: string, scheme: KeyScheme, json: KeyJSON, keyObject: KeyObject) {
    this.keyid = keyid;
    this.scheme = scheme;
    this.json = json;
    this.keyObject = keyObject;
  }

  get keytype(): string {
    return this.json.keytype;
  }

  /**
   * Parse and check a key object. `keyid` (when given, e.g. the key's name in
   * root.keys) is kept as is: TUF allows keyids that are not the sha256 of the
   * key (older tooling computed them differently), clients only look them up.
   */
  static fromJSON(value: unknown, field = "key", keyid?: string): PublicKey {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new TufError(field, "expected a key object");
    const obj = value as Record<string, unknown>;
    assertCanonicalSafe(obj, field);
    checkKeySize(obj, field, () => Buffer.byteLength(canonicalJson(obj)));
    const { keytype, scheme, keyval } = obj;
    if (typeof keytype !== "string") throw new TufError(joinField(field, "keytype"), "expected a string");
    if (typeof scheme !== "string") throw new TufError(joinField(field, "scheme"), "expected a string");
    if (typeof keyval !== "object" || keyval === null || Array.isArray(keyval))
      throw new TufError(joinField(field, "keyval"), "expected an object");
    const pub = (keyval as Record<string, unknown>).public;
    const pubField = joinField(joinField(field, "keyval"), "public");
    if (typeof pub !== "string") throw new TufError(pubField, "expected a string");
    const json = obj as KeyJSON;
    let keyObject: KeyObject;
    let kind: KeyScheme;
    try {
      if (keytype === "ed25519") {
        if (scheme !== "ed25519")
          throw new TufError(joinField(field, "scheme"), `ed25519 keys use scheme "ed25519", got "${scheme}"`);
        if (!HEX64.test(pub))
          throw new TufError(pubField, "expected 64 lower-case hex characters (raw ed25519 public key)");
        keyObject = createPublicKey({
          key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(pub, "hex")]),
          format: "der",
          type: "spki",
        });
        kind = "ed25519";
      } else if (keytype === "ecdsa" || keytype === "ecdsa-sha2-nistp256") {
        if (scheme !== "ecdsa-sha2-nistp256")
          throw new TufError(
            joinField(field, "scheme"),
            `ecdsa keys use scheme "ecdsa-sha2-nistp256", got "${scheme}"`,
          );
        if (!PEM_PUBLIC.test(pub))
          throw new TufError(pubField, "expected a PEM public key (-----BEGIN PUBLIC KEY-----)");
        keyObject = createPublicKey(pub);
        if (keyObject.asymmetricKeyType !== "ec" || keyObject.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
          throw new TufError(pubField, "expected a NIST P-256 public key");
        }
        kind = "ecdsa-sha2-nistp256";
      } else if (keytype === "rsa") {
        if (scheme !== "rsassa-pss-sha256")
          throw new TufError(joinField(field, "scheme"), `rsa keys use scheme "rsassa-pss-sha256", got "${scheme}"`);
        if (!PEM_PUBLIC.test(pub))
          throw new TufError(pubField, "expected a PEM public key (-----BEGIN PUBLIC KEY-----)");
        keyObject = createPublicKey(pub);
        if (keyObject.asymmetricKeyType !== "rsa") throw new TufError(pubField, "expected an RSA public key");
        if ((keyObject.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
          throw new TufError(pubField, "RSA keys must have at least 2048 bits");
        kind = "rsassa-pss-sha256";
      } else {
        throw new TufError(
          joinField(field, "keytype"),
          `unsupported key type "${keytype}" (supported: ed25519, ecdsa, ecdsa-sha2-nistp256, rsa)`,
        );
      }
    } catch (err) {
      if (err instanceof TufError) throw err;
      throw new TufError(pubField, "public key could not be parsed");
    }
    return new PublicKey(keyid ?? computeKeyId(json), kind, json, keyObject);
  }

  /** True when `sigHex` is a valid signature of `data` by this key. Never throws. */
  verify(data: Uint8Array, sigHex: string): boolean {
    if (typeof sigHex !== "string" || sigHex.length === 0 || sigHex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(sigHex))
      return false;
    const sig = Buffer.from(sigHex, "hex");
    try {
      switch (this.scheme) {
        case "ed25519":
          return nodeVerify(null, data, this.keyObject, sig);
        case "ecdsa-sha2-nistp256":
          return nodeVerify("sha256", data, { key: this.keyObject, dsaEncoding: "der" }, sig);
        case "rsassa-pss-sha256":
          // Verify with automatic salt length: securesystemslib versions
          // differ (digest length vs maximum); both are valid PSS.
          return nodeVerify(
            "sha256",
            data,
            {
              key: this.keyObject,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: constants.RSA_PSS_SALTLEN_AUTO,
            },
            sig,
          );
      }
    } catch {
      return false;
    }
  }
}
