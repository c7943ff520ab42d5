/**
 * Private-key signers. The pure layer only needs the `Signer` contract; key
 * material is loaded from PEM (PKCS#8, optionally encrypted) by callers.
 *
 * ed25519 signing uses Bun's native crypto on hot paths (~50k signatures/s
 * per core); `NobleEd25519Signer` is the portable implementation. ed25519 is
 * deterministic (RFC 8032), so both produce identical signatures — a test
 * proves it.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  constants,
  createHash,
  type KeyObject,
} from "node:crypto";
import * as ed from "@noble/ed25519";
import { PublicKey, sameKeyMaterial, type KeyJSON, type KeyScheme } from "./keys.ts";
import { TufError } from "./errors.ts";

export interface Signer {
  readonly keyid: string;
  readonly publicKey: PublicKey;
  /** hex signature over `data` */
  sign(data: Uint8Array): string;
}

/** The TUF public key object for a private key (ed25519 raw hex, others PEM SPKI). */
export function publicKeyJSONFor(privateKey: KeyObject, extra: Record<string, unknown> = {}): KeyJSON {
  const pub = createPublicKey(privateKey);
  switch (privateKey.asymmetricKeyType) {
    case "ed25519": {
      const der = pub.export({ format: "der", type: "spki" });
      return {
        keytype: "ed25519",
        scheme: "ed25519",
        keyval: { public: Buffer.from(der.subarray(der.length - 32)).toString("hex") },
        ...extra,
      };
    }
    case "ec":
      if (pub.asymmetricKeyDetails?.namedCurve !== "prime256v1")
        throw new TufError("key", "only NIST P-256 ecdsa keys are supported");
      return {
        keytype: "ecdsa",
        scheme: "ecdsa-sha2-nistp256",
        keyval: { public: pub.export({ format: "pem", type: "spki" }).toString() },
        ...extra,
      };
    case "rsa":
      return {
        keytype: "rsa",
        scheme: "rsassa-pss-sha256",
        keyval: { public: pub.export({ format: "pem", type: "spki" }).toString() },
        ...extra,
      };
    default:
      throw new TufError(
        "key",
        `unsupported private key type ${privateKey.asymmetricKeyType ?? "unknown"} (supported: ed25519, ecdsa P-256, rsa)`,
      );
  }
}

/** Signs with a node:crypto KeyObject (Bun's native implementation). */
export class NativeSigner implements Signer {
  readonly keyid: string;
  readonly publicKey: PublicKey;
  readonly #key: KeyObject;
  readonly #scheme: KeyScheme;

  constructor(privateKey: KeyObject, publicKey: PublicKey) {
    this.#key = privateKey;
    this.publicKey = publicKey;
    this.keyid = publicKey.keyid;
    this.#scheme = publicKey.scheme;
  }

  sign(data: Uint8Array): string {
    switch (this.#scheme) {
      case "ed25519":
        return nodeSign(null, data, this.#key).toString("hex");
      case "ecdsa-sha2-nistp256":
        return nodeSign("sha256", data, { key: this.#key, dsaEncoding: "der" }).toString("hex");
      case "rsassa-pss-sha256":
        return nodeSign("sha256", data, {
          key: this.#key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }).toString("hex");
    }
  }

  /**
   * The private key as PKCS#8 DER, for one purpose only: handing it to a
   * signing worker of this same process (repository/sign-pool.ts), which
   * shares this process's memory anyway. Never written, logged or sent.
   */
  pkcs8ForWorker(): Uint8Array {
    return new Uint8Array(this.#key.export({ format: "der", type: "pkcs8" }));
  }

  /** Keeps key material out of logs and JSON dumps. */
  toJSON(): unknown {
    return { keyid: this.keyid, scheme: this.#scheme };
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Signer(${this.#scheme} ${this.keyid})`;
  }
}

/**
 * Load a PEM private key (PKCS#8, or PKCS#1/SEC1 as OpenSSL writes them) and
 * return its signer. `keyJSON` is the public key as published in metadata when
 * known: its keyid is then used (and the key must match it), which keeps
 * `x-…` fields and keyids computed by other tools.
 */
export function signerFromPem(
  pem: string,
  opts: { passphrase?: string; keyJSON?: KeyJSON; keyid?: string } = {},
): NativeSigner {
  let priv: KeyObject;
  try {
    priv = createPrivateKey(
      opts.passphrase !== undefined
        ? { key: pem, format: "pem", passphrase: opts.passphrase }
        : { key: pem, format: "pem" },
    );
  } catch (err) {
    // An encrypted key that fails to load is a passphrase problem even when the
    // decryption's padding happened to check out (about 1 in 256 wrong
    // passphrases for AES-CBC) and the error comes from parsing the garbage.
    const encrypted = pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    const msg =
      encrypted || /passphrase|decrypt|bad decrypt/i.test(String((err as Error)?.message))
        ? "wrong passphrase, or the key is encrypted and no passphrase was given"
        : "not a PEM private key";
    throw new TufError("private key", msg);
  }
  const derivedJSON = publicKeyJSONFor(priv);
  if (opts.keyJSON) {
    const derived = PublicKey.fromJSON(derivedJSON);
    const published = PublicKey.fromJSON(opts.keyJSON, "key", opts.keyid);
    // The private key must belong to the published public key: compare key material, not keyids.
    if (!sameKeyMaterial(derived.json, published.json))
      throw new TufError("private key", `does not match public key ${published.keyid}`);
    return new NativeSigner(priv, published);
  }
  return new NativeSigner(priv, PublicKey.fromJSON(derivedJSON, "key", opts.keyid));
}

// @noble/ed25519 v3 needs a SHA-512; plug in the native one (sync).
ed.hashes.sha512 = (msg: Uint8Array) => new Uint8Array(createHash("sha512").update(msg).digest());

/** Portable ed25519 signer (pure JS), from a 32-byte seed. */
export class NobleEd25519Signer implements Signer {
  readonly keyid: string;
  readonly publicKey: PublicKey;
  readonly #seed: Uint8Array;

  constructor(seed: Uint8Array, extra: Record<string, unknown> = {}) {
    if (seed.length !== 32) throw new TufError("seed", "ed25519 seeds are 32 bytes");
    this.#seed = seed;
    const pub = ed.getPublicKey(seed);
    this.publicKey = PublicKey.fromJSON({
      keytype: "ed25519",
      scheme: "ed25519",
      keyval: { public: Buffer.from(pub).toString("hex") },
      ...extra,
    });
    this.keyid = this.publicKey.keyid;
  }

  sign(data: Uint8Array): string {
    return Buffer.from(ed.sign(data, this.#seed)).toString("hex");
  }

  toJSON(): unknown {
    return { keyid: this.keyid, scheme: "ed25519" };
  }
}

/** The 32-byte seed of an ed25519 KeyObject (PKCS#8 DER ends with it). */
export function ed25519Seed(privateKey: KeyObject): Uint8Array {
  if (privateKey.asymmetricKeyType !== "ed25519") throw new TufError("key", "not an ed25519 key");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  return new Uint8Array(der.subarray(der.length - 32));
}
