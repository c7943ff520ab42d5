import { describe, expect, test } from "bun:test";
import { constants, createPrivateKey, generateKeyPairSync, verify as nodeVerify, type KeyObject } from "node:crypto";
import { inspect } from "node:util";
import * as ed from "@noble/ed25519";
import { Metadata, MetadataKind } from "@tufjs/models";
import {
  NativeSigner,
  NobleEd25519Signer,
  PublicKey,
  TufError,
  computeKeyId,
  ed25519Seed,
  publicKeyJSONFor,
  signSigned,
  signerFromPem,
  utf8,
  type KeyJSON,
  type RootSigned,
  type Signer,
} from "../../src/tuf/index.ts";
import {
  KEY_NAMES,
  PAYLOADS,
  expectTufError,
  fixtureJson,
  fixtureText,
  keyIdFile,
  keyPem,
  prng,
  randInt,
  type KeyName,
} from "./helpers.ts";

/** the public key as a fixture payload publishes it (with its x-… fields and legacy keyid) */
function publishedKey(name: KeyName): KeyJSON {
  const id = keyIdFile(name);
  for (const p of PAYLOADS) {
    const k = fixtureJson(p).metadata.root.signed.keys[id];
    if (k) return k;
  }
  const deleg = fixtureJson("bootstrap-delegations.json").settings.roles.delegations.keys[id];
  if (deleg) return deleg;
  throw new Error(`no published key for ${name}`);
}

function randomMessages(seed: number, count: number): Uint8Array[] {
  const rnd = prng(seed);
  const out: Uint8Array[] = [new Uint8Array(0)];
  for (let i = 1; i < count; i++) {
    const m = new Uint8Array(randInt(rnd, 0, i % 10 === 0 ? 5000 : 200));
    for (let j = 0; j < m.length; j++) m[j] = Math.floor(rnd() * 256);
    out.push(m);
  }
  return out;
}

describe("signerFromPem with every fixture key", () => {
  for (const name of KEY_NAMES) {
    test(`${name}: loads, signs, verifies with PublicKey`, () => {
      const signer = signerFromPem(keyPem(name));
      expect(signer).toBeInstanceOf(NativeSigner);
      expect(signer.keyid).toBe(computeKeyId(signer.publicKey.json));
      const data = utf8(`message for ${name}`);
      const sig = signer.sign(data);
      expect(sig).toMatch(/^[0-9a-f]+$/);
      expect(signer.publicKey.verify(data, sig)).toBe(true);
      // an independently parsed public key verifies too
      expect(PublicKey.fromJSON(publicKeyJSONFor(createPrivateKey(keyPem(name)))).verify(data, sig)).toBe(true);
      // and the key as published in the fixtures (python-tuf) verifies it
      expect(PublicKey.fromJSON(publishedKey(name), "key", keyIdFile(name)).verify(data, sig)).toBe(true);
      expect(signer.publicKey.verify(utf8(`message for ${name}!`), sig)).toBe(false);
    });

    test(`${name}: with the published keyJSON + keyid, the signer takes the published keyid and x-… fields`, () => {
      const published = publishedKey(name);
      const signer = signerFromPem(keyPem(name), { keyJSON: published, keyid: keyIdFile(name) });
      expect(signer.keyid).toBe(keyIdFile(name));
      expect(signer.publicKey.json).toBe(published);
      expect(signer.publicKey.json["x-rstuf-key-name"]).toBeString();
      const data = utf8("x");
      expect(signer.publicKey.verify(data, signer.sign(data))).toBe(true);
    });
  }

  test("keyid option without keyJSON is used as given", () => {
    const s = signerFromPem(keyPem("online-ed25519"), { keyid: keyIdFile("online-ed25519") });
    expect(s.keyid).toBe(keyIdFile("online-ed25519"));
    expect(s.publicKey.keyid).toBe(keyIdFile("online-ed25519"));
  });

  test("the online-key-dir files are the online keys, named by keyid", () => {
    for (const name of ["online-ed25519", "online-ecdsa", "online-rsa"] as const) {
      const id = keyIdFile(name);
      const s = signerFromPem(fixtureText(`online-key-dir/${id}`), { keyJSON: publishedKey(name), keyid: id });
      expect(s.keyid).toBe(id);
      expect(publishedKey(name)["x-rstuf-online-key-uri"]).toBe(`fn:${id}`);
    }
  });

  test("a mismatching keyJSON throws", () => {
    const cases: [KeyName, KeyName][] = [
      ["root-ed25519", "online-ed25519"],
      ["online-ed25519", "root-ecdsa"],
      ["root-ecdsa", "online-ecdsa"],
      ["online-ecdsa", "online-rsa"],
      ["online-rsa", "root-ed25519"],
      ["online-rsa", "online-ecdsa"],
    ];
    for (const [pemName, keyName] of cases) {
      const err = expectTufError(
        () => signerFromPem(keyPem(pemName), { keyJSON: publishedKey(keyName), keyid: keyIdFile(keyName) }),
        "private key",
        /does not match/,
      );
      expect(err.message).toContain(keyIdFile(keyName));
    }
  });

  test("an ecdsa keyJSON whose PEM differs only in line endings still matches (material is compared)", () => {
    const published = publishedKey("root-ecdsa");
    const crlf: KeyJSON = { ...published, keyval: { public: published.keyval.public.replace(/\n/g, "\r\n") } };
    const s = signerFromPem(keyPem("root-ecdsa"), { keyJSON: crlf, keyid: keyIdFile("root-ecdsa") });
    expect(s.keyid).toBe(keyIdFile("root-ecdsa"));
  });

  test("garbage and public-key PEMs are refused with a TufError", () => {
    expectTufError(() => signerFromPem("not a pem"), "private key", /not a PEM private key/);
    expectTufError(() => signerFromPem(""), "private key");
    const pubPem = publishedKey("root-ecdsa").keyval.public;
    expectTufError(() => signerFromPem(pubPem), "private key");
  });

  test("unsupported private key types are refused", () => {
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    expectTufError(() => signerFromPem(p384), "key", /P-256/);
    const x25519 = generateKeyPairSync("x25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expectTufError(() => signerFromPem(x25519), "key", /unsupported/);
  });

  test("PKCS#1 (rsa) and SEC1 (ec) PEMs load too", () => {
    const rsa1 = createPrivateKey(keyPem("online-rsa")).export({ format: "pem", type: "pkcs1" }).toString();
    expect(rsa1).toContain("BEGIN RSA PRIVATE KEY");
    expect(signerFromPem(rsa1, { keyJSON: publishedKey("online-rsa"), keyid: keyIdFile("online-rsa") }).keyid).toBe(
      keyIdFile("online-rsa"),
    );
    const sec1 = createPrivateKey(keyPem("online-ecdsa")).export({ format: "pem", type: "sec1" }).toString();
    expect(sec1).toContain("BEGIN EC PRIVATE KEY");
    expect(signerFromPem(sec1, { keyJSON: publishedKey("online-ecdsa"), keyid: keyIdFile("online-ecdsa") }).keyid).toBe(
      keyIdFile("online-ecdsa"),
    );
  });
});

describe("encrypted PKCS#8", () => {
  const kinds: ["ed25519" | "ec", Record<string, unknown>][] = [
    ["ed25519", {}],
    ["ec", { namedCurve: "prime256v1" }],
  ];
  for (const [kind, extra] of kinds) {
    test(`${kind}: loads with the right passphrase, clear TufError without or with a wrong one`, () => {
      const { privateKey, publicKey } = generateKeyPairSync(kind as "ec", {
        ...(extra as { namedCurve: string }),
        privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "correct horse" },
        publicKeyEncoding: { type: "spki", format: "pem" },
      });
      expect(privateKey).toContain("BEGIN ENCRYPTED PRIVATE KEY");
      const s = signerFromPem(privateKey, { passphrase: "correct horse" });
      const data = utf8("encrypted key works");
      const sig = s.sign(data);
      expect(s.publicKey.verify(data, sig)).toBe(true);
      // verifies with the public half generated alongside
      const nodeOk =
        kind === "ed25519"
          ? nodeVerify(null, data, publicKey, Buffer.from(sig, "hex"))
          : nodeVerify("sha256", data, { key: publicKey, dsaEncoding: "der" }, Buffer.from(sig, "hex"));
      expect(nodeOk).toBe(true);

      for (const opts of [{}, { passphrase: "wrong" }, { passphrase: "" }, { passphrase: "correct horse " }]) {
        const err = expectTufError(() => signerFromPem(privateKey, opts), "private key", /passphrase/);
        // the message never echoes the PEM or the passphrase tried
        expect(err.message).not.toContain("ENCRYPTED");
        expect(err.message).not.toContain("correct horse");
      }
    });
  }
});

test("encrypted PKCS#8: every wrong passphrase is named as such, also when AES-CBC padding happens to check out", () => {
  // About 1 in 256 wrong passphrases decrypt to bytes with valid padding; the
  // parse of that garbage must still be reported as a passphrase problem.
  const { privateKey } = generateKeyPairSync("ec", {
    namedCurve: "P-256",
    privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "right" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const messages = new Set<string>();
  for (let i = 0; i < 1500; i++) {
    try {
      signerFromPem(privateKey, { passphrase: `wrong-${i}` });
    } catch (err) {
      messages.add((err as Error).message);
    }
  }
  expect([...messages]).toEqual(["private key: wrong passphrase, or the key is encrypted and no passphrase was given"]);
});

describe("ed25519: native and noble signers agree byte for byte", () => {
  for (const name of ["root-ed25519", "online-ed25519", "offline-ed25519"] as const) {
    test(`${name}: identical signatures over 300 messages`, () => {
      const priv = createPrivateKey(keyPem(name));
      const seed = ed25519Seed(priv);
      expect(seed.length).toBe(32);
      const native = signerFromPem(keyPem(name));
      const noble = new NobleEd25519Signer(seed);
      expect(noble.keyid).toBe(native.keyid);
      expect(noble.publicKey.json.keyval.public).toBe(native.publicKey.json.keyval.public);
      expect(noble.publicKey.json.keyval.public).toBe(publishedKey(name).keyval.public);
      expect(Buffer.from(ed.getPublicKey(seed)).toString("hex")).toBe(native.publicKey.json.keyval.public);
      for (const m of randomMessages(name.length, 300)) {
        const a = native.sign(m);
        const b = noble.sign(m);
        if (a !== b) expect(b).toBe(a);
        expect(a.length).toBe(128);
      }
      // spot-check cross verification
      const m = utf8("cross");
      expect(native.publicKey.verify(m, noble.sign(m))).toBe(true);
      expect(ed.verify(Buffer.from(native.sign(m), "hex"), m, ed.getPublicKey(seed))).toBe(true);
    });
  }

  test("NobleEd25519Signer keeps extra fields, refuses bad seeds", () => {
    const seed = ed25519Seed(createPrivateKey(keyPem("online-ed25519")));
    const s = new NobleEd25519Signer(seed, { "x-rstuf-key-name": "n" });
    expect(s.publicKey.json["x-rstuf-key-name"]).toBe("n");
    expect(s.keyid).toBe(computeKeyId(s.publicKey.json));
    expectTufError(() => new NobleEd25519Signer(new Uint8Array(31)), "seed");
    expectTufError(() => new NobleEd25519Signer(new Uint8Array(64)), "seed");
  });

  test("ed25519Seed refuses non-ed25519 keys", () => {
    expectTufError(() => ed25519Seed(createPrivateKey(keyPem("online-ecdsa"))), "key");
  });

  test("RFC 8032 test vector 1 (empty message)", () => {
    const seed = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
    const noble = new NobleEd25519Signer(new Uint8Array(seed));
    expect(noble.publicKey.json.keyval.public).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    const expected =
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
    expect(noble.sign(new Uint8Array(0))).toBe(expected);
    const native = signerFromPem(
      createPrivateKey({
        key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
        format: "der",
        type: "pkcs8",
      })
        .export({ format: "pem", type: "pkcs8" })
        .toString(),
    );
    expect(native.sign(new Uint8Array(0))).toBe(expected);
  });
});

describe("ecdsa and rsa signature encodings", () => {
  test("ecdsa signatures are DER (SEQUENCE of two INTEGERs), randomized, and verify", () => {
    const s = signerFromPem(keyPem("online-ecdsa"));
    const data = utf8("der please");
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const hex = s.sign(data);
      const der = Buffer.from(hex, "hex");
      expect(der[0]).toBe(0x30);
      expect(der[1]).toBe(der.length - 2);
      expect(der[2]).toBe(0x02);
      expect(der.length).toBeGreaterThanOrEqual(8);
      expect(der.length).toBeLessThanOrEqual(72);
      expect(s.publicKey.verify(data, hex)).toBe(true);
      seen.add(hex);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  test("rsa signatures are PSS with salt length = digest length", () => {
    const s = signerFromPem(keyPem("online-rsa"));
    const data = utf8("pss please");
    const sig = Buffer.from(s.sign(data), "hex");
    const key = createPrivateKey(keyPem("online-rsa"));
    expect(sig.length).toBe(key.asymmetricKeyDetails!.modulusLength! / 8);
    expect(nodeVerify("sha256", data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)).toBe(
      true,
    );
    expect(nodeVerify("sha256", data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 }, sig)).toBe(
      false,
    );
    expect(nodeVerify("sha256", data, { key, padding: constants.RSA_PKCS1_PADDING }, sig)).toBe(false);
    expect(s.publicKey.verify(data, sig.toString("hex"))).toBe(true);
  });
});

function rootFor(signers: Signer[]): RootSigned {
  const keys: Record<string, KeyJSON> = {};
  for (const s of signers) keys[s.keyid] = s.publicKey.json;
  const ids = signers.map((s) => s.keyid);
  const role = { keyids: ids, threshold: ids.length };
  return {
    _type: "root",
    spec_version: "1.0.31",
    version: 1,
    expires: "2036-01-01T00:00:00Z",
    consistent_snapshot: true,
    keys,
    roles: { root: role, targets: role, snapshot: role, timestamp: role },
  };
}

describe("tuf-js (@tufjs/models) verifies what our signers sign", () => {
  const kinds: [string, () => Signer][] = [
    [
      "ed25519 native",
      () =>
        signerFromPem(keyPem("root-ed25519"), {
          keyJSON: publishedKey("root-ed25519"),
          keyid: keyIdFile("root-ed25519"),
        }),
    ],
    ["ed25519 noble", () => new NobleEd25519Signer(ed25519Seed(createPrivateKey(keyPem("offline-ed25519"))))],
    [
      "ecdsa",
      () =>
        signerFromPem(keyPem("root-ecdsa"), { keyJSON: publishedKey("root-ecdsa"), keyid: keyIdFile("root-ecdsa") }),
    ],
    ["ecdsa (derived key, modern keyid)", () => signerFromPem(keyPem("online-ecdsa"))],
    [
      "rsa",
      () =>
        signerFromPem(keyPem("online-rsa"), { keyJSON: publishedKey("online-rsa"), keyid: keyIdFile("online-rsa") }),
    ],
  ];
  for (const [name, make] of kinds) {
    test(`${name}: root signed by it passes Metadata.verifyDelegate("root")`, () => {
      const signer = make();
      const doc = signSigned(rootFor([signer]), [signer]);
      const md = Metadata.fromJSON(MetadataKind.Root, JSON.parse(new TextDecoder().decode(doc.bytes)));
      expect(() => md.verifyDelegate("root", md)).not.toThrow();
      // a tampered copy fails in tuf-js too
      const tampered = JSON.parse(new TextDecoder().decode(doc.bytes));
      tampered.signed.version = 2;
      const bad = Metadata.fromJSON(MetadataKind.Root, tampered);
      expect(() => md.verifyDelegate("root", bad)).toThrow();
    });
  }

  test("a root with threshold 3 signed by ed25519 + ecdsa + rsa verifies in tuf-js", () => {
    const signers = [kinds[0]![1](), kinds[2]![1](), kinds[4]![1]()];
    const doc = signSigned(rootFor(signers), signers);
    const md = Metadata.fromJSON(MetadataKind.Root, JSON.parse(new TextDecoder().decode(doc.bytes)));
    expect(() => md.verifyDelegate("root", md)).not.toThrow();
    // drop one signature: threshold no longer met
    const json = JSON.parse(new TextDecoder().decode(doc.bytes));
    json.signatures.pop();
    expect(() => md.verifyDelegate("root", Metadata.fromJSON(MetadataKind.Root, json))).toThrow();
  });

  test("fixture roots: tuf-js agrees with the fixtures' README (bins fully signed, 1-of-2 not)", () => {
    const full = Metadata.fromJSON(MetadataKind.Root, fixtureJson("bootstrap-bins.json").metadata.root);
    expect(() => full.verifyDelegate("root", full)).not.toThrow();
    const half = Metadata.fromJSON(
      MetadataKind.Root,
      fixtureJson("bootstrap-bins-1-of-2-signatures.json").metadata.root,
    );
    expect(() => half.verifyDelegate("root", half)).toThrow();
  });
});

describe("signers never reveal key material", () => {
  function secretsOf(name: KeyName): string[] {
    const pem = keyPem(name);
    const key: KeyObject = createPrivateKey(pem);
    const body = pem.split("\n").filter((l) => l && !l.startsWith("-----"));
    const der = key.export({ format: "der", type: "pkcs8" });
    const out = [...body.filter((l) => l.length >= 16), body.join(""), der.toString("hex"), der.toString("base64")];
    const jwk = key.export({ format: "jwk" });
    if (jwk.d) {
      const d = Buffer.from(jwk.d, "base64url");
      out.push(jwk.d, d.toString("hex"), d.toString("base64"));
      out.push(Array.from(d.subarray(0, 8)).join(","));
    }
    return out;
  }

  for (const name of KEY_NAMES) {
    test(`${name}: JSON.stringify / util.inspect / Bun.inspect are clean`, () => {
      const signers: Signer[] = [signerFromPem(keyPem(name))];
      if (name.endsWith("ed25519")) signers.push(new NobleEd25519Signer(ed25519Seed(createPrivateKey(keyPem(name)))));
      const secrets = secretsOf(name);
      for (const s of signers) {
        const outputs = [
          JSON.stringify(s),
          JSON.stringify({ nested: [s] }),
          inspect(s),
          inspect(s, { showHidden: true, depth: Infinity, getters: true }),
          inspect({ nested: s }, { depth: Infinity }),
          Bun.inspect(s),
          `${String(s)}`,
        ];
        for (const out of outputs) {
          expect(out).not.toContain("PRIVATE KEY");
          for (const secret of secrets)
            if (out.includes(secret)) throw new Error(`${name}: output leaks key material: ${out}`);
        }
        // it does say which key it is
        expect(JSON.stringify(s)).toContain(s.keyid);
      }
    });
  }

  test("errors from a bad passphrase do not carry the PEM", () => {
    const { privateKey } = generateKeyPairSync("ed25519", {
      privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    try {
      signerFromPem(privateKey, { passphrase: "nope" });
      throw new Error("should have failed");
    } catch (err) {
      expect(err).toBeInstanceOf(TufError);
      const body = privateKey.split("\n")[1]!;
      expect(inspect(err)).not.toContain(body);
      expect(JSON.stringify(err)).not.toContain(body);
    }
  });
});
