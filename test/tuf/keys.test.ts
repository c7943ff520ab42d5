import { describe, expect, test } from "bun:test";
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
} from "node:crypto";
import { canonicalize } from "@tufjs/canonical-json";
import {
  PublicKey,
  TufError,
  computeKeyId,
  computeLegacyKeyId,
  publicKeyJSONFor,
  utf8,
  type KeyJSON,
} from "../../src/tuf/index.ts";
import { KEY_NAMES, PAYLOADS, clone, expectTufError, fixtureJson, keyIdFile, keyPem, type KeyName } from "./helpers.ts";

function sha256hex(text: string): string {
  return createHash("sha256").update(Buffer.from(text, "utf8")).digest("hex");
}

/** Independent keyid computations (node:crypto + @tufjs/canonical-json). */
function refKeyId(k: KeyJSON): string {
  return sha256hex(canonicalize({ keytype: k.keytype, scheme: k.scheme, keyval: k.keyval }));
}
function refLegacyKeyId(k: KeyJSON): string {
  return sha256hex(
    canonicalize({
      keytype: k.keytype,
      scheme: k.scheme,
      keyid_hash_algorithms: ["sha256", "sha512"],
      keyval: k.keyval,
    }),
  );
}

function fixtureRootKeys(): [string, KeyJSON, string][] {
  const out: [string, KeyJSON, string][] = [];
  for (const p of PAYLOADS) {
    for (const [id, k] of Object.entries(fixtureJson(p).metadata.root.signed.keys as Record<string, KeyJSON>))
      out.push([id, k, p]);
  }
  return out;
}

function derivedKeyJSON(name: KeyName): KeyJSON {
  return publicKeyJSONFor(createPrivateKey(keyPem(name)));
}

const ROOT_V1 = () => fixtureJson("bootstrap-bins.json").metadata.root.signed;
const ED_ID = "eaa3b3a32ad4aba85b5eb3a6651116266be448e47c06ce083fab386880cecb3f";
const EC_ID = "18456a742e1e7bdfe2deb8869f7a4fe4bc4847d3168d78befc1eac9577ea69ce";

describe("keyids", () => {
  test("every fixture .keyid file equals computeLegacyKeyId of the derived public key (securesystemslib < 1.0)", () => {
    for (const name of KEY_NAMES) {
      if (name === "online-rsa") continue; // see next test
      const k = derivedKeyJSON(name);
      expect({ name, keyid: computeLegacyKeyId(k) }).toEqual({ name, keyid: keyIdFile(name) });
      // and it is not the modern keyid: the two formulas really differ
      expect(computeKeyId(k)).not.toBe(keyIdFile(name));
    }
  });

  test("rsa: securesystemslib publishes the PEM without its trailing newline, so the keyid is of that text", () => {
    // The keyid hashes the PEM *text*: node exports "…-----END PUBLIC KEY-----\n",
    // securesystemslib's rsa PEM has no final newline (its ecdsa PEM does).
    const derived = derivedKeyJSON("online-rsa");
    expect(derived.keyval.public.endsWith("-----END PUBLIC KEY-----\n")).toBe(true);
    expect(computeLegacyKeyId(derived)).not.toBe(keyIdFile("online-rsa"));
    const asPublished: KeyJSON = { ...derived, keyval: { public: derived.keyval.public.trimEnd() } };
    expect(computeLegacyKeyId(asPublished)).toBe(keyIdFile("online-rsa"));
    const published = fixtureJson("metadata-update-root-v3-online-rsa-1-of-2.json").metadata.root.signed.keys[
      keyIdFile("online-rsa")
    ];
    expect(published.keyval.public).toBe(asPublished.keyval.public);
  });

  test("every root key in every fixture payload has keyid == computeLegacyKeyId(key)", () => {
    const keys = fixtureRootKeys();
    expect(keys.length).toBeGreaterThanOrEqual(15);
    for (const [id, k, p] of keys) {
      expect({ p, id: computeLegacyKeyId(k) }).toEqual({ p, id });
      expect(computeLegacyKeyId(k)).toBe(refLegacyKeyId(k));
    }
  });

  test("computeKeyId = sha256(canonical {keytype, scheme, keyval}), checked independently", () => {
    const all: KeyJSON[] = [...fixtureRootKeys().map(([, k]) => k), ...KEY_NAMES.map(derivedKeyJSON)];
    for (const k of all) {
      expect(computeKeyId(k)).toBe(refKeyId(k));
      expect(computeKeyId(k)).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  test("x-… fields and other extra key fields do not change the keyid", () => {
    const k = clone(ROOT_V1().keys[ED_ID]) as KeyJSON;
    const bare: KeyJSON = { keytype: k.keytype, scheme: k.scheme, keyval: k.keyval };
    expect(k["x-rstuf-key-name"]).toBe("Root key one");
    expect(computeKeyId(k)).toBe(computeKeyId(bare));
    expect(computeLegacyKeyId(k)).toBe(computeLegacyKeyId(bare));
    const withOther: KeyJSON = { ...k, "x-other": "y" };
    expect(computeKeyId(withOther)).toBe(computeKeyId(bare));
  });

  test("fixed vector: ed25519 key of all zero bytes", () => {
    const k: KeyJSON = { keytype: "ed25519", scheme: "ed25519", keyval: { public: "00".repeat(32) } };
    const text = `{"keytype":"ed25519","keyval":{"public":"${"00".repeat(32)}"},"scheme":"ed25519"}`;
    expect(computeKeyId(k)).toBe(sha256hex(text));
    const legacy = `{"keyid_hash_algorithms":["sha256","sha512"],"keytype":"ed25519","keyval":{"public":"${"00".repeat(32)}"},"scheme":"ed25519"}`;
    expect(computeLegacyKeyId(k)).toBe(sha256hex(legacy));
  });

  test("PEM keyval: the newline-bearing PEM text is hashed raw (OLPC), as securesystemslib does", () => {
    const k = ROOT_V1().keys[EC_ID] as KeyJSON;
    expect(k.keyval.public).toContain("\n");
    const raw = `{"keyid_hash_algorithms":["sha256","sha512"],"keytype":"ecdsa","keyval":{"public":"${k.keyval.public}"},"scheme":"ecdsa-sha2-nistp256"}`;
    expect(computeLegacyKeyId(k)).toBe(sha256hex(raw));
    expect(computeLegacyKeyId(k)).toBe(EC_ID);
  });
});

describe("PublicKey.fromJSON", () => {
  test("accepts every fixture root key, keeps the given keyid and the x-… fields", () => {
    for (const [id, k] of fixtureRootKeys()) {
      const pk = PublicKey.fromJSON(k, "key", id);
      expect(pk.keyid).toBe(id);
      expect(pk.json).toBe(k);
      expect(pk.keytype).toBe(k.keytype);
      expect(canonicalize(pk.json)).toBe(canonicalize(k));
      expect(pk.json["x-rstuf-key-name"]).toBeString();
    }
  });

  test("schemes", () => {
    const root = ROOT_V1();
    expect(PublicKey.fromJSON(root.keys[ED_ID]).scheme).toBe("ed25519");
    expect(PublicKey.fromJSON(root.keys[EC_ID]).scheme).toBe("ecdsa-sha2-nistp256");
    expect(PublicKey.fromJSON(derivedKeyJSON("online-rsa")).scheme).toBe("rsassa-pss-sha256");
    // keytype spelled as the scheme is accepted too
    expect(PublicKey.fromJSON({ ...root.keys[EC_ID], keytype: "ecdsa-sha2-nistp256" }).scheme).toBe(
      "ecdsa-sha2-nistp256",
    );
  });

  test("keyid defaults to computeKeyId", () => {
    const k = derivedKeyJSON("online-ecdsa");
    expect(PublicKey.fromJSON(k).keyid).toBe(computeKeyId(k));
  });

  test("rejections name the field", () => {
    const ed = clone(ROOT_V1().keys[ED_ID]) as KeyJSON;
    const ec = clone(ROOT_V1().keys[EC_ID]) as KeyJSON;
    const rsa = derivedKeyJSON("online-rsa");
    expectTufError(() => PublicKey.fromJSON(null, "k"), "k", /key object/);
    expectTufError(() => PublicKey.fromJSON([], "k"), "k");
    expectTufError(() => PublicKey.fromJSON("ed25519", "k"), "k");
    expectTufError(() => PublicKey.fromJSON({ ...ed, keytype: 1 }, "k"), "k.keytype");
    expectTufError(() => PublicKey.fromJSON({ ...ed, scheme: undefined }, "k"), "k.scheme");
    expectTufError(() => PublicKey.fromJSON({ ...ed, keyval: "x" }, "k"), "k.keyval");
    expectTufError(() => PublicKey.fromJSON({ ...ed, keyval: [] }, "k"), "k.keyval");
    expectTufError(() => PublicKey.fromJSON({ ...ed, keyval: {} }, "k"), "k.keyval.public");
    expectTufError(() => PublicKey.fromJSON({ ...ed, keytype: "dsa" }, "k"), "k.keytype", /unsupported/);
    expectTufError(() => PublicKey.fromJSON({ ...ed, scheme: "ecdsa-sha2-nistp256" }, "k"), "k.scheme");
    expectTufError(
      () => PublicKey.fromJSON({ ...ed, keyval: { public: ed.keyval.public.toUpperCase() } }, "k"),
      "k.keyval.public",
    );
    expectTufError(
      () => PublicKey.fromJSON({ ...ed, keyval: { public: ed.keyval.public.slice(2) } }, "k"),
      "k.keyval.public",
    );
    expectTufError(() => PublicKey.fromJSON({ ...ed, keyval: { public: ec.keyval.public } }, "k"), "k.keyval.public");
    expectTufError(() => PublicKey.fromJSON({ ...ec, scheme: "ed25519" }, "k"), "k.scheme");
    expectTufError(() => PublicKey.fromJSON({ ...ec, keyval: { public: "3913ce" } }, "k"), "k.keyval.public", /PEM/);
    expectTufError(
      () =>
        PublicKey.fromJSON(
          { ...ec, keyval: { public: "-----BEGIN PUBLIC KEY-----\nnot base64!!\n-----END PUBLIC KEY-----\n" } },
          "k",
        ),
      "k.keyval.public",
      /could not be parsed/,
    );
    expectTufError(() => PublicKey.fromJSON({ ...ec, keyval: rsa.keyval }, "k"), "k.keyval.public", /P-256/);
    expectTufError(() => PublicKey.fromJSON({ ...rsa, keyval: ec.keyval }, "k"), "k.keyval.public", /RSA/);
    expectTufError(() => PublicKey.fromJSON({ ...rsa, scheme: "rsassa-pkcs1v15-sha256" }, "k"), "k.scheme");
    // canonical safety of the whole key object
    expectTufError(() => PublicKey.fromJSON({ ...ed, "x-weight": 0.5 }, "k"), "k.x-weight");
  });

  test("P-384 ecdsa and < 2048-bit rsa keys are refused", () => {
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" })
      .publicKey.export({ format: "pem", type: "spki" })
      .toString();
    expectTufError(
      () => PublicKey.fromJSON({ keytype: "ecdsa", scheme: "ecdsa-sha2-nistp256", keyval: { public: p384 } }, "k"),
      "k.keyval.public",
      /P-256/,
    );
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 })
      .publicKey.export({ format: "pem", type: "spki" })
      .toString();
    expectTufError(
      () => PublicKey.fromJSON({ keytype: "rsa", scheme: "rsassa-pss-sha256", keyval: { public: rsa1024 } }, "k"),
      "k.keyval.public",
      /2048/,
    );
  });
});

describe("PublicKey.verify", () => {
  const data = utf8("hello tuf");

  test("each fixture key: own signature verifies, tampered data and wrong key fail", () => {
    const pks = KEY_NAMES.map((n) => ({
      n,
      priv: createPrivateKey(keyPem(n)),
      pub: PublicKey.fromJSON(derivedKeyJSON(n)),
    }));
    for (const { n, priv, pub } of pks) {
      const sig =
        pub.scheme === "ed25519"
          ? nodeSign(null, data, priv)
          : pub.scheme === "ecdsa-sha2-nistp256"
            ? nodeSign("sha256", data, { key: priv, dsaEncoding: "der" })
            : nodeSign("sha256", data, { key: priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      const hex = sig.toString("hex");
      expect({ n, ok: pub.verify(data, hex) }).toEqual({ n, ok: true });
      expect(pub.verify(utf8("hello tuF"), hex)).toBe(false);
      for (const other of pks)
        if (other.n !== n)
          expect({ n, o: other.n, ok: other.pub.verify(data, hex) }).toEqual({ n, o: other.n, ok: false });
      // flipping one bit of the signature breaks it
      const flipped = Buffer.from(sig);
      flipped[flipped.length - 1]! ^= 1;
      expect(pub.verify(data, flipped.toString("hex"))).toBe(false);
    }
  });

  test("never throws on garbage signatures", () => {
    for (const n of KEY_NAMES) {
      const pub = PublicKey.fromJSON(derivedKeyJSON(n));
      for (const garbage of [
        "",
        "zz",
        "abc",
        "0",
        "00",
        "30",
        "3000",
        "30ff",
        "0".repeat(128),
        "f".repeat(10_000),
        "not hex at all",
        " 00",
        "00\n",
      ]) {
        expect(pub.verify(data, garbage)).toBe(false);
      }
      for (const notString of [null, undefined, 42, {}, ["00"]]) {
        expect(pub.verify(data, notString as unknown as string)).toBe(false);
      }
    }
  });

  test("ecdsa: raw r‖s (WebCrypto / IEEE P1363) signatures are not accepted, DER ones are", () => {
    const priv = createPrivateKey(keyPem("root-ecdsa"));
    const pub = PublicKey.fromJSON(ROOT_V1().keys[EC_ID], "key", EC_ID);
    const raw = nodeSign("sha256", data, { key: priv, dsaEncoding: "ieee-p1363" });
    expect(raw.length).toBe(64);
    expect(pub.verify(data, raw.toString("hex"))).toBe(false);
    expect(pub.verify(data, nodeSign("sha256", data, { key: priv, dsaEncoding: "der" }).toString("hex"))).toBe(true);
  });

  test("rsa: PSS with digest-length and maximum salt verify; PKCS#1 v1.5 does not", () => {
    const priv = createPrivateKey(keyPem("online-rsa"));
    const pub = PublicKey.fromJSON(derivedKeyJSON("online-rsa"));
    const pss = (saltLength: number) =>
      nodeSign("sha256", data, { key: priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }).toString("hex");
    expect(pub.verify(data, pss(32))).toBe(true);
    expect(pub.verify(data, pss(constants.RSA_PSS_SALTLEN_MAX_SIGN))).toBe(true);
    expect(
      pub.verify(data, nodeSign("sha256", data, { key: priv, padding: constants.RSA_PKCS1_PADDING }).toString("hex")),
    ).toBe(false);
  });

  test("a key built from the raw ed25519 hex equals node's own view of the public key", () => {
    const priv = createPrivateKey(keyPem("root-ed25519"));
    const raw = createPublicKey(priv).export({ format: "jwk" }).x!;
    expect(Buffer.from(raw, "base64url").toString("hex")).toBe(ROOT_V1().keys[ED_ID].keyval.public);
    expect(() => PublicKey.fromJSON(ROOT_V1().keys[ED_ID])).not.toThrow(TufError);
  });
});
