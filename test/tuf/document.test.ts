import { describe, expect, test } from "bun:test";
import { createPrivateKey } from "node:crypto";
import { canonicalize } from "@tufjs/canonical-json";
import { Metadata, MetadataKind } from "@tufjs/models";
import {
  NobleEd25519Signer,
  PublicKey,
  canonicalJson,
  canonicalTargetsText,
  ed25519Seed,
  envelopeFromSignedBytes,
  jsonTextOf,
  parseRoot,
  parseTargets,
  serializeEnvelope,
  signSigned,
  signText,
  signerFromPem,
  utf8,
  verifyWithRoot,
  type KeyJSON,
  type RootSigned,
  type SignedBase,
  type Signer,
  type TargetFile,
  type TargetsSigned,
} from "../../src/tuf/index.ts";
import { clone, fixtureJson, keyIdFile, keyPem, pick, prng, randInt, shuffle } from "./helpers.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

const PATH_CHARS = [
  "a",
  "b",
  "c",
  "z",
  "0",
  "-",
  "_",
  ".",
  "/",
  " ",
  '"',
  "'",
  "é",
  "ü",
  "中",
  "文",
  "Ａ",
  "\ufffd",
  "\\",
];

function randTargets(rnd: () => number): Record<string, TargetFile> {
  const n = randInt(rnd, 0, 40);
  const targets: Record<string, TargetFile> = {};
  for (let i = 0; i < n; i++) {
    let path = "";
    const len = randInt(rnd, 1, 16);
    for (let j = 0; j < len; j++) path += pick(rnd, PATH_CHARS);
    const file: TargetFile = {
      length: randInt(rnd, 0, 1 << 30),
      hashes: { sha256: randInt(rnd, 0, 1e9).toString(16).padStart(64, "0") },
    };
    if (rnd() < 0.4)
      file.custom = {
        "x-task": `t-${i}`,
        note: pick(rnd, ['a"b', "c\\d", "line\nbreak", "😀", "中"]),
        n: randInt(rnd, -5, 5),
      };
    targets[path] = file;
  }
  return targets;
}

function baseTargets(rnd: () => number): Omit<TargetsSigned, "targets"> & Record<string, unknown> {
  const base: Omit<TargetsSigned, "targets"> & Record<string, unknown> = {
    _type: "targets",
    spec_version: "1.0.31",
    version: randInt(rnd, 1, 1000),
    expires: "2030-01-01T00:00:00Z",
  };
  if (rnd() < 0.5) base["x-tufbox"] = { generator: "tufbox", é: [1, "two\n"] };
  if (rnd() < 0.3) base.unset = undefined;
  return base;
}

describe("canonicalTargetsText", () => {
  test("equals canonicalJson of the whole document for 400 random target sets", () => {
    const rnd = prng(4242);
    for (let i = 0; i < 400; i++) {
      const base = baseTargets(rnd);
      const targets = randTargets(rnd);
      const fragments = shuffle(
        rnd,
        Object.entries(targets).map(([p, f]) => [p, canonicalJson(f)] as [string, string]),
      );
      const text = canonicalTargetsText(base, fragments);
      // fragments parsed back, as the brief states the invariant
      const expected = canonicalJson({
        ...base,
        targets: Object.fromEntries(fragments.map(([p, f]) => [p, JSON.parse(jsonTextOf(f))])),
      });
      if (text !== expected) expect({ i, text }).toEqual({ i, text: expected });
      // and equal to the independent implementation
      const plain = JSON.parse(jsonTextOf(text));
      expect(canonicalize(plain)).toBe(text);
      expect(Object.keys(plain.targets).sort()).toEqual(Object.keys(targets).sort());
    }
  });

  test("a targets key in the base is ignored in favour of the fragments", () => {
    const base = {
      _type: "targets",
      spec_version: "1.0.31",
      version: 1,
      expires: "2030-01-01T00:00:00Z",
      targets: { stale: { length: 1, hashes: { sha256: "00" } } },
    };
    const text = canonicalTargetsText(base, [["fresh", '{"hashes":{"sha256":"11"},"length":2}']]);
    expect(text).toBe(
      '{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{"fresh":{"hashes":{"sha256":"11"},"length":2}},"version":1}',
    );
  });

  test("no fragments gives an empty targets map; delegations are serialized from the base", () => {
    const bins = { keys: {}, succinct_roles: { name_prefix: "bins", bit_length: 4, keyids: [], threshold: 1 } };
    const base = {
      _type: "targets",
      spec_version: "1.0.31",
      version: 1,
      expires: "2030-01-01T00:00:00Z",
      delegations: bins,
    };
    expect(canonicalTargetsText(base, [])).toBe(canonicalJson({ ...base, targets: {} }));
    expect(canonicalTargetsText(base, [])).toContain('"targets":{}');
  });
});

function signers(): Signer[] {
  return [
    signerFromPem(keyPem("online-ed25519"), { keyid: keyIdFile("online-ed25519") }),
    signerFromPem(keyPem("online-ecdsa")),
    signerFromPem(keyPem("online-rsa")),
  ];
}

describe("signText / signSigned", () => {
  test("output bytes are JSON; each signature verifies over canonicalJson(parsed.signed)", () => {
    const rnd = prng(1);
    const ss = signers();
    for (let i = 0; i < 20; i++) {
      const signed = { ...baseTargets(rnd), targets: randTargets(rnd) };
      const text = canonicalJson(signed);
      const doc = signText(text, ss);
      expect(doc.signedText).toBe(text);
      const parsed = JSON.parse(decode(doc.bytes));
      expect(Object.keys(parsed)).toEqual(["signatures", "signed"]);
      expect(parsed.signatures).toEqual(doc.signatures);
      expect(parsed.signatures.map((s: { keyid: string }) => s.keyid)).toEqual(ss.map((s) => s.keyid));
      // what a client recomputes
      const recomputed = utf8(canonicalJson(parsed.signed));
      expect(decode(recomputed)).toBe(text);
      expect(canonicalize(parsed.signed)).toBe(text);
      for (const [j, s] of ss.entries()) expect(s.publicKey.verify(recomputed, parsed.signatures[j].sig)).toBe(true);
      expect(() => parseTargets(parsed)).not.toThrow();
    }
  });

  test("a PEM key (control characters) inside signed: the file is valid JSON whose signed re-canonicalizes to the signed text", () => {
    const ecdsa = signerFromPem(keyPem("online-ecdsa"));
    const rsa = signerFromPem(keyPem("online-rsa"));
    const root = clone(fixtureJson("bootstrap-bins.json").metadata.root.signed) as RootSigned;
    root.keys[ecdsa.keyid] = ecdsa.publicKey.json;
    root.keys[rsa.keyid] = rsa.publicKey.json;
    root.roles.root = { keyids: [ecdsa.keyid, rsa.keyid], threshold: 2 };
    (root as unknown as Record<string, unknown>)["x-note"] = "tab\there\u0001\u001f";
    const doc = signSigned(root, [ecdsa, rsa]);
    expect(doc.signedText).toContain("\n"); // raw newlines: canonical text itself is not JSON
    expect(() => JSON.parse(doc.signedText)).toThrow();
    const fileText = decode(doc.bytes);
    expect(/[\u0000-\u001f]/.test(fileText)).toBe(false);
    const parsed = JSON.parse(fileText);
    expect(canonicalJson(parsed.signed)).toBe(doc.signedText);
    expect(parsed.signed.keys[ecdsa.keyid].keyval.public).toBe(ecdsa.publicKey.json.keyval.public);
    const r = parseRoot(parsed);
    expect(verifyWithRoot(r, r.signed, "root")).toEqual({
      verified: true,
      threshold: 2,
      signed: [ecdsa.keyid, rsa.keyid],
      unsigned: [],
      invalid: [],
    });
    // tuf-js agrees
    const md = Metadata.fromJSON(MetadataKind.Root, parsed);
    expect(() => md.verifyDelegate("root", md)).not.toThrow();
  });

  test("signSigned equals signText of the canonical text (deterministic ed25519: same bytes)", () => {
    const ed = signerFromPem(keyPem("offline-ed25519"));
    const noble = new NobleEd25519Signer(ed25519Seed(createPrivateKey(keyPem("offline-ed25519"))));
    const signed: SignedBase = {
      _type: "snapshot",
      spec_version: "1.0.31",
      version: 2,
      expires: "2030-01-01T00:00:00Z",
      meta: { "targets.json": { version: 1 } },
    };
    const a = signSigned(signed, [ed]);
    const b = signText(canonicalJson(signed), [ed]);
    const c = signSigned(signed, [noble]);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(Buffer.from(a.bytes).equals(Buffer.from(c.bytes))).toBe(true);
    // without control characters the file is itself canonical JSON
    expect(canonicalJson(JSON.parse(decode(a.bytes)))).toBe(decode(a.bytes));
    expect(decode(a.bytes)).toBe(
      `{"signatures":[{"keyid":"${ed.keyid}","sig":"${a.signatures[0]!.sig}"}],"signed":${a.signedText}}`,
    );
  });

  test("existing signatures are kept, and replaced for keys that sign again", () => {
    const [ed, ec] = signers() as [Signer, Signer];
    const text = canonicalJson({
      _type: "timestamp",
      spec_version: "1.0.31",
      version: 1,
      expires: "2030-01-01T00:00:00Z",
      meta: { "snapshot.json": { version: 1 } },
    });
    const first = signText(text, [ec]);
    const stale = { keyid: ed.keyid, sig: "00" };
    const second = signText(text, [ed], [...first.signatures, stale]);
    expect(second.signatures.map((s) => s.keyid)).toEqual([ec.keyid, ed.keyid]);
    expect(second.signatures[0]).toEqual(first.signatures[0]!);
    expect(second.signatures[1]!.sig).not.toBe("00");
    const data = utf8(text);
    expect(ed.publicKey.verify(data, second.signatures[1]!.sig)).toBe(true);
    expect(ec.publicKey.verify(data, second.signatures[0]!.sig)).toBe(true);
    // signText does not mutate the existing list
    expect(first.signatures.length).toBe(1);
  });

  test("serializeEnvelope writes signatures then signed, JSON-escaped", () => {
    const bytes = serializeEnvelope('{"a":"x\ny"}', [{ keyid: "k", sig: "00" }]);
    expect(decode(bytes)).toBe('{"signatures":[{"keyid":"k","sig":"00"}],"signed":{"a":"x\\ny"}}');
  });

  test("envelopeFromSignedBytes gives the bytes serializeEnvelope gives, with and without control characters", () => {
    const sigs = [{ keyid: "k", sig: "00" }];
    for (const text of ['{"a":"x\ny"}', '{"a":"caf\u00e9 \u{1F600}"}', '{"targets":{}}', '{"a":"\u001f"}']) {
      const got = envelopeFromSignedBytes(text, utf8(text), sigs);
      expect(decode(got)).toBe(decode(serializeEnvelope(text, sigs)));
    }
  });

  test("targets documents built from fragments, signed, verify in tuf-js against a root that delegates to the key", () => {
    const rnd = prng(77);
    const online = signerFromPem(keyPem("online-ed25519"), { keyid: keyIdFile("online-ed25519") });
    const rootSigner = new NobleEd25519Signer(ed25519Seed(createPrivateKey(keyPem("root-ed25519"))));
    const keys: Record<string, KeyJSON> = {
      [online.keyid]: online.publicKey.json,
      [rootSigner.keyid]: rootSigner.publicKey.json,
    };
    const root: RootSigned = {
      _type: "root",
      spec_version: "1.0.31",
      version: 1,
      expires: "2036-01-01T00:00:00Z",
      consistent_snapshot: true,
      keys,
      roles: {
        root: { keyids: [rootSigner.keyid], threshold: 1 },
        targets: { keyids: [online.keyid], threshold: 1 },
        snapshot: { keyids: [online.keyid], threshold: 1 },
        timestamp: { keyids: [online.keyid], threshold: 1 },
      },
    };
    const rootMd = Metadata.fromJSON(MetadataKind.Root, JSON.parse(decode(signSigned(root, [rootSigner]).bytes)));
    for (let i = 0; i < 10; i++) {
      const targets = randTargets(rnd);
      // tuf-js refuses nothing here, but keep paths sane for a client
      const fragments = Object.entries(targets).map(([p, f]) => [p, canonicalJson(f)] as [string, string]);
      const text = canonicalTargetsText(
        { _type: "targets", spec_version: "1.0.31", version: i + 1, expires: "2030-01-01T00:00:00Z" },
        fragments,
      );
      const doc = signText(text, [online]);
      const md = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(decode(doc.bytes)));
      expect(() => rootMd.verifyDelegate("targets", md)).not.toThrow();
      expect(PublicKey.fromJSON(online.publicKey.json).verify(utf8(text), doc.signatures[0]!.sig)).toBe(true);
    }
  });
});
