import { describe, expect, test } from "bun:test";
import { canonicalize } from "@tufjs/canonical-json";
import {
  PublicKey,
  canonicalJson,
  parseRoot,
  signText,
  signedBytesOf,
  signerFromPem,
  utf8,
  verifyRole,
  verifyWithRoot,
  type KeyJSON,
  type Metadata,
  type RootSigned,
  type TargetsSigned,
} from "../../src/tuf/index.ts";
import { PAYLOADS, clone, fixtureJson, keyIdFile, keyPem } from "./helpers.ts";

const ED_ID = "eaa3b3a32ad4aba85b5eb3a6651116266be448e47c06ce083fab386880cecb3f";
const EC_ID = "18456a742e1e7bdfe2deb8869f7a4fe4bc4847d3168d78befc1eac9577ea69ce";

function root(p: string): Metadata<RootSigned> {
  return parseRoot(clone(fixtureJson(p).metadata.root));
}

describe("fixture root signatures (python-tuf: ed25519 + ecdsa DER)", () => {
  test("bootstrap-bins: 2 of 2", () => {
    const r = root("bootstrap-bins.json");
    const res = verifyWithRoot(r, r.signed, "root");
    expect(res).toEqual({ verified: true, threshold: 2, signed: [ED_ID, EC_ID], unsigned: [], invalid: [] });
  });

  test("bootstrap-bins-1-of-2-signatures: 1 of 2, the ecdsa key is reported unsigned", () => {
    const r = root("bootstrap-bins-1-of-2-signatures.json");
    const res = verifyWithRoot(r, r.signed, "root");
    expect(res).toEqual({ verified: false, threshold: 2, signed: [ED_ID], unsigned: [EC_ID], invalid: [] });
  });

  test("bootstrap-delegations: 2 of 2", () => {
    const r = root("bootstrap-delegations.json");
    expect(verifyWithRoot(r, r.signed, "root").verified).toBe(true);
  });

  test("root v2 verifies with the threshold of root v1 and of itself", () => {
    const v1 = root("bootstrap-bins.json");
    const v2 = root("metadata-update-root-v2-online-ecdsa.json");
    expect(v2.signed.version).toBe(2);
    expect(verifyWithRoot(v2, v1.signed, "root").verified).toBe(true);
    expect(verifyWithRoot(v2, v2.signed, "root").verified).toBe(true);
  });

  test("root v3 (pending) has 1 of 2", () => {
    const v2 = root("metadata-update-root-v2-online-ecdsa.json");
    const v3 = root("metadata-update-root-v3-online-rsa-1-of-2.json");
    for (const trusted of [v2, v3]) {
      const res = verifyWithRoot(v3, trusted.signed, "root");
      expect(res.verified).toBe(false);
      expect(res.signed.length).toBe(1);
      expect(res.unsigned.length).toBe(1);
      expect(res.invalid).toEqual([]);
    }
  });

  test("signedBytesOf is the canonical JSON of signed, identical to what tuf-js hashes", () => {
    for (const p of PAYLOADS) {
      const r = root(p);
      const bytes = signedBytesOf(r);
      expect(new TextDecoder().decode(bytes)).toBe(canonicalJson(r.signed));
      expect(Buffer.from(bytes).equals(Buffer.from(canonicalize(r.signed), "utf8"))).toBe(true);
    }
  });
});

describe("verification failures", () => {
  test("a tampered signed body fails for every key, reported as invalid", () => {
    const tamperings: ((s: RootSigned) => void)[] = [
      (s) => (s.expires = "2036-01-01T00:00:01Z"),
      (s) => (s.version = 2),
      (s) => (s.keys[ED_ID]!["x-rstuf-key-name"] = "Root key 1"),
      (s) => (s.roles.root.threshold = 1),
      (s) => ((s as unknown as Record<string, unknown>)["x-new"] = true),
    ];
    for (const tamper of tamperings) {
      const r = root("bootstrap-bins.json");
      const trusted = root("bootstrap-bins.json").signed;
      tamper(r.signed);
      const res = verifyWithRoot(r, trusted, "root");
      expect(res.verified).toBe(false);
      expect(res.signed).toEqual([]);
      expect(res.invalid).toEqual([ED_ID, EC_ID]);
      expect(res.unsigned).toEqual([ED_ID, EC_ID]);
    }
  });

  test("a signature from the wrong key fails", () => {
    const r = root("bootstrap-bins.json");
    const other = signerFromPem(keyPem("offline-ed25519"));
    const sig = other.sign(signedBytesOf(r));
    r.signatures = r.signatures.map((s) => (s.keyid === ED_ID ? { keyid: ED_ID, sig } : s));
    const res = verifyWithRoot(r, r.signed, "root");
    expect(res.verified).toBe(false);
    expect(res.signed).toEqual([EC_ID]);
    expect(res.invalid).toEqual([ED_ID]);
  });

  test("the ecdsa signature placed under the ed25519 keyid fails (and vice versa)", () => {
    const r = root("bootstrap-bins.json");
    const edSig = r.signatures.find((s) => s.keyid === ED_ID)!.sig;
    const ecSig = r.signatures.find((s) => s.keyid === EC_ID)!.sig;
    r.signatures = [
      { keyid: ED_ID, sig: ecSig },
      { keyid: EC_ID, sig: edSig },
    ];
    const res = verifyWithRoot(r, r.signed, "root");
    expect(res.signed).toEqual([]);
    expect(res.invalid).toEqual([ED_ID, EC_ID]);
  });

  test("garbage signatures never throw", () => {
    for (const garbage of ["zz", "abc", "", "0", "30", "3044", "00".repeat(64), "x".repeat(1000)]) {
      const r = root("bootstrap-bins.json");
      r.signatures = [
        { keyid: ED_ID, sig: garbage },
        { keyid: EC_ID, sig: garbage },
      ];
      const res = verifyWithRoot(r, r.signed, "root");
      expect(res.verified).toBe(false);
      expect(res.signed).toEqual([]);
      expect(res.unsigned).toEqual([ED_ID, EC_ID]);
    }
  });

  test("signatures by keys outside the role are ignored; a duplicated signature counts once", () => {
    const r = root("bootstrap-bins.json");
    const edSig = r.signatures.find((s) => s.keyid === ED_ID)!;
    const online = signerFromPem(keyPem("online-ed25519"), { keyid: keyIdFile("online-ed25519") });
    r.signatures = [edSig, { ...edSig }, { keyid: online.keyid, sig: online.sign(signedBytesOf(r)) }];
    const res = verifyWithRoot(r, r.signed, "root");
    expect(res.signed).toEqual([ED_ID]);
    expect(res.unsigned).toEqual([EC_ID]);
    expect(res.verified).toBe(false);
    // with threshold 1 the same document would be fine
    expect(
      verifyRole(signedBytesOf(r), r.signatures, r.signed.keys, { keyids: [ED_ID, EC_ID], threshold: 1 }).verified,
    ).toBe(true);
  });

  test("keys missing from the lookup or unparsable count as unsigned, without throwing", () => {
    const r = root("bootstrap-bins.json");
    const bytes = signedBytesOf(r);
    const keys: Record<string, KeyJSON> = { [ED_ID]: r.signed.keys[ED_ID]! };
    expect(verifyRole(bytes, r.signatures, keys, r.signed.roles.root)).toEqual({
      verified: false,
      threshold: 2,
      signed: [ED_ID],
      unsigned: [EC_ID],
      invalid: [],
    });
    const broken = {
      ...keys,
      [EC_ID]: { keytype: "ecdsa", scheme: "ecdsa-sha2-nistp256", keyval: { public: "nope" } },
    };
    expect(verifyRole(bytes, r.signatures, broken, r.signed.roles.root).unsigned).toEqual([EC_ID]);
    expect(verifyRole(bytes, [], r.signed.keys, r.signed.roles.root)).toEqual({
      verified: false,
      threshold: 2,
      signed: [],
      unsigned: [ED_ID, EC_ID],
      invalid: [],
    });
  });

  test("lookup with PublicKey instances works the same", () => {
    const r = root("bootstrap-bins.json");
    const keys = Object.fromEntries(
      Object.entries(r.signed.keys).map(([id, k]) => [id, PublicKey.fromJSON(k, "key", id)]),
    );
    expect(verifyRole(signedBytesOf(r), r.signatures, keys, r.signed.roles.root).verified).toBe(true);
  });

  test("the same key object looked up under another keyid is not confused by the parse cache", () => {
    const r = root("bootstrap-bins.json");
    const bytes = signedBytesOf(r);
    const k = r.signed.keys[ED_ID]!;
    expect(verifyRole(bytes, r.signatures, { [ED_ID]: k }, { keyids: [ED_ID], threshold: 1 }).signed).toEqual([ED_ID]);
    const alias = "a".repeat(64);
    const res = verifyRole(
      bytes,
      [{ keyid: alias, sig: r.signatures[0]!.sig }],
      { [alias]: k },
      { keyids: [alias], threshold: 1 },
    );
    expect(res.signed).toEqual([alias]);
  });
});

describe("verifyWithRoot for a top-level targets role", () => {
  test("targets signed by the fixture online key verifies against the fixture root", () => {
    const r = root("bootstrap-bins.json");
    const onlineId = keyIdFile("online-ed25519");
    const signer = signerFromPem(keyPem("online-ed25519"), { keyJSON: r.signed.keys[onlineId]!, keyid: onlineId });
    const signed: TargetsSigned = {
      _type: "targets",
      spec_version: "1.0.31",
      version: 1,
      expires: "2030-01-01T00:00:00Z",
      targets: {},
    };
    const doc = signText(canonicalJson(signed), [signer]);
    const meta = JSON.parse(new TextDecoder().decode(doc.bytes)) as Metadata<TargetsSigned>;
    expect(verifyWithRoot(meta, r.signed, "targets")).toEqual({
      verified: true,
      threshold: 1,
      signed: [onlineId],
      unsigned: [],
      invalid: [],
    });
    // the root keys are not the targets keys
    expect(verifyWithRoot(meta, r.signed, "root").verified).toBe(false);
    expect(verifyRole(utf8(doc.signedText), doc.signatures, r.signed.keys, r.signed.roles.timestamp).verified).toBe(
      true,
    );
  });
});
