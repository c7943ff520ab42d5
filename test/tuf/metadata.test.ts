import { describe, expect, test } from "bun:test";
import { canonicalize } from "@tufjs/canonical-json";
import {
  SPEC_VERSION,
  TOP_LEVEL_ROLES,
  TufError,
  canonicalJson,
  checkHashes,
  checkMetaFile,
  checkSignatures,
  checkTargetPath,
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
} from "../../src/tuf/index.ts";
import { PAYLOADS, clone, expectTufError, fixtureJson, keyIdFile } from "./helpers.ts";

/* eslint-disable @typescript-eslint/no-explicit-any */

const ED_ID = "eaa3b3a32ad4aba85b5eb3a6651116266be448e47c06ce083fab386880cecb3f";
const EC_ID = "18456a742e1e7bdfe2deb8869f7a4fe4bc4847d3168d78befc1eac9577ea69ce";
const ONLINE = keyIdFile("online-ed25519");
const H = "ab".repeat(32);

const rootDoc = (): any => clone(fixtureJson("bootstrap-bins.json").metadata.root);
const onlineKey = (): any => clone(fixtureJson("bootstrap-bins.json").metadata.root.signed.keys[ONLINE]);

function targetsDoc(): any {
  return {
    signatures: [{ keyid: ONLINE, sig: "00ff" }],
    signed: {
      _type: "targets",
      spec_version: SPEC_VERSION,
      version: 3,
      expires: "2030-01-01T00:00:00Z",
      targets: {
        "a/b-1.0.tar.gz": { length: 12, hashes: { sha256: H, "blake2b-256": H }, custom: { "x-task": "t1", n: 1 } },
        "dir/ünïcødé-名前.whl": { length: 0, hashes: { sha512: H + H } },
      },
      delegations: {
        keys: { [ONLINE]: onlineKey() },
        roles: [
          { name: "nightly", keyids: [ONLINE], threshold: 1, terminating: true, paths: ["nightly/*"] },
          { name: "hashed", keyids: [ONLINE], threshold: 1, terminating: false, path_hash_prefixes: ["00", "0a"] },
        ],
      },
    },
  };
}

function binsTargetsDoc(): any {
  const d = targetsDoc();
  d.signed.delegations = {
    keys: { [ONLINE]: onlineKey() },
    succinct_roles: { name_prefix: "bins", bit_length: 4, keyids: [ONLINE], threshold: 1 },
  };
  return d;
}

function snapshotDoc(): any {
  return {
    signatures: [],
    signed: {
      _type: "snapshot",
      spec_version: SPEC_VERSION,
      version: 7,
      expires: "2030-01-01T00:00:00Z",
      meta: { "targets.json": { version: 3 }, "bins-0.json": { version: 1, length: 10, hashes: { sha256: H } } },
    },
  };
}

function timestampDoc(): any {
  return {
    signatures: [],
    signed: {
      _type: "timestamp",
      spec_version: "1.0",
      version: 9,
      expires: "2030-01-01T00:00:00Z",
      meta: { "snapshot.json": { version: 7, length: 1234, hashes: { sha256: H } } },
    },
  };
}

describe("constants", () => {
  test("top-level roles and spec version", () => {
    expect([...TOP_LEVEL_ROLES]).toEqual(["root", "targets", "snapshot", "timestamp"]);
    expect(SPEC_VERSION).toMatch(/^1\.0\.\d+$/);
  });
});

describe("parsers accept valid documents and keep unknown fields", () => {
  test("every fixture root parses; the same object comes back; canonical bytes unchanged", () => {
    for (const p of PAYLOADS) {
      const input = clone(fixtureJson(p).metadata.root);
      const before = canonicalize(input.signed);
      const parsed = parseRoot(input);
      expect(parsed).toBe(input);
      expect(canonicalJson(parsed.signed)).toBe(before);
      // x-rstuf-* fields on keys survive
      const names = Object.values(parsed.signed.keys).map((k) => k["x-rstuf-key-name"]);
      expect(names.every((n) => typeof n === "string")).toBe(true);
    }
  });

  test("unknown fields in signed, in roles, in keys, in signatures and in the envelope survive", () => {
    const input = rootDoc();
    input.signed["x-custom"] = { nested: ["a\nb", 1], é: null };
    input.signed.unknown_future_field = true;
    input.signed.roles.root["x-role-note"] = "kept";
    input.signed.keys[ED_ID].keyval["x-extra"] = "kept";
    input.signatures[0]["x-sig-note"] = 1;
    input["x-envelope"] = "kept";
    const text = canonicalize(input);
    const parsed = parseRoot(input) as any;
    expect(canonicalJson(parsed)).toBe(text);
    expect(parsed.signed["x-custom"].nested[0]).toBe("a\nb");
  });

  test("targets (roles and succinct_roles), snapshot, timestamp", () => {
    for (const [doc, parse] of [
      [targetsDoc(), parseTargets],
      [binsTargetsDoc(), parseTargets],
      [snapshotDoc(), parseSnapshot],
      [timestampDoc(), parseTimestamp],
    ] as const) {
      doc.signed["x-future"] = [1, { b: "c" }];
      const text = canonicalize(doc);
      const parsed = (parse as (v: unknown) => unknown)(doc);
      expect(parsed).toBe(doc);
      expect(canonicalJson(parsed)).toBe(text);
    }
  });

  test("targets without delegations and with an empty targets map", () => {
    const d = targetsDoc();
    delete d.signed.delegations;
    d.signed.targets = {};
    expect(() => parseTargets(d)).not.toThrow();
  });
});

describe("parseRoot rejections name the field", () => {
  const cases: [string, (d: any) => void, string, RegExp?][] = [
    ["not an object", (d) => Object.keys(d).forEach((k) => delete d[k]), "root.signed"],
    ["signed missing", (d) => delete d.signed, "root.signed"],
    ["signed an array", (d) => (d.signed = []), "root.signed"],
    ["signatures missing", (d) => delete d.signatures, "root.signatures"],
    ["wrong _type", (d) => (d.signed._type = "targets"), "root.signed._type", /expected "root"/],
    ["_type missing", (d) => delete d.signed._type, "root.signed._type"],
    ["spec_version 2.0.0", (d) => (d.signed.spec_version = "2.0.0"), "root.signed.spec_version"],
    ["spec_version number", (d) => (d.signed.spec_version = 1), "root.signed.spec_version"],
    ["version 0", (d) => (d.signed.version = 0), "root.signed.version", /at least 1/],
    ["version -1", (d) => (d.signed.version = -1), "root.signed.version"],
    ["version string", (d) => (d.signed.version = "1"), "root.signed.version"],
    ["version float", (d) => (d.signed.version = 1.5), "root.signed.version"],
    ["expires with milliseconds", (d) => (d.signed.expires = "2030-01-01T00:00:00.000Z"), "root.signed.expires"],
    ["expires without Z", (d) => (d.signed.expires = "2030-01-01T00:00:00"), "root.signed.expires"],
    ["expires with offset", (d) => (d.signed.expires = "2030-01-01T00:00:00+00:00"), "root.signed.expires"],
    ["expires impossible date", (d) => (d.signed.expires = "2030-02-30T00:00:00Z"), "root.signed.expires"],
    [
      "consistent_snapshot not boolean",
      (d) => (d.signed.consistent_snapshot = "true"),
      "root.signed.consistent_snapshot",
    ],
    ["keys not an object", (d) => (d.signed.keys = []), "root.signed.keys"],
    ["threshold > keys", (d) => (d.signed.roles.root.threshold = 3), "root.signed.roles.root.threshold", /larger than/],
    ["threshold 0", (d) => (d.signed.roles.targets.threshold = 0), "root.signed.roles.targets.threshold"],
    ["threshold missing", (d) => delete d.signed.roles.snapshot.threshold, "root.signed.roles.snapshot.threshold"],
    [
      "keyid not in keys",
      (d) => (d.signed.roles.timestamp.keyids = [ONLINE, "cd".repeat(32)]),
      "root.signed.roles.timestamp.keyids[1]",
      /not in keys/,
    ],
    [
      "duplicate keyids in a role",
      (d) => (d.signed.roles.root.keyids = [ED_ID, ED_ID]),
      "root.signed.roles.root.keyids",
      /duplicate/,
    ],
    ["keyids not an array", (d) => (d.signed.roles.root.keyids = ED_ID), "root.signed.roles.root.keyids"],
    ["keyid not a string", (d) => (d.signed.roles.root.keyids = [ED_ID, 5]), "root.signed.roles.root.keyids[1]"],
    ["missing top-level role", (d) => delete d.signed.roles.timestamp, "root.signed.roles.timestamp", /missing/],
    [
      "extra role",
      (d) => (d.signed.roles.mirror = { keyids: [ONLINE], threshold: 1 }),
      "root.signed.roles.mirror",
      /not a top-level/,
    ],
    ["roles missing", (d) => delete d.signed.roles, "root.signed.roles"],
    [
      "keyid in keys not hex",
      (d) => (d.signed.keys["NOT-A-KEYID"] = d.signed.keys[ED_ID]),
      "root.signed.keys.NOT-A-KEYID",
    ],
    [
      "keyid in keys upper case",
      (d) => (d.signed.keys[ED_ID.toUpperCase()] = d.signed.keys[ED_ID]),
      `root.signed.keys.${ED_ID.toUpperCase()}`,
    ],
    ["bad public key", (d) => (d.signed.keys[ED_ID].keyval.public = "xyz"), `root.signed.keys.${ED_ID}.keyval.public`],
    [
      "bad PEM",
      (d) => (d.signed.keys[EC_ID].keyval.public = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
      `root.signed.keys.${EC_ID}.keyval.public`,
    ],
    ["unsupported keytype", (d) => (d.signed.keys[ED_ID].keytype = "ed448"), `root.signed.keys.${ED_ID}.keytype`],
    [
      "duplicate signature keyids",
      (d) => d.signatures.push({ ...d.signatures[0] }),
      "root.signatures[2].keyid",
      /duplicate/,
    ],
    ["signature not hex", (d) => (d.signatures[1].sig = "XYZ"), "root.signatures[1].sig"],
    [
      "signature upper-case hex",
      (d) => (d.signatures[0].sig = d.signatures[0].sig.toUpperCase()),
      "root.signatures[0].sig",
    ],
    ["signature keyid missing", (d) => delete d.signatures[0].keyid, "root.signatures[0].keyid"],
    ["signatures not an array", (d) => (d.signatures = {}), "root.signatures"],
    ["float in an x- field", (d) => (d.signed.keys[ED_ID]["x-weight"] = 0.5), `root.signed.keys.${ED_ID}.x-weight`],
    [
      "lone surrogate in a key name",
      (d) => (d.signed.keys[ED_ID]["x-rstuf-key-name"] = "bad \ud800"),
      `root.signed.keys.${ED_ID}.x-rstuf-key-name`,
    ],
    ["astral character in an object key", (d) => (d.signed["x-😀"] = 1), "root.signed.x-😀"],
  ];
  for (const [name, mutate, field, msg] of cases) {
    test(name, () => {
      const d = rootDoc();
      mutate(d);
      expectTufError(() => parseRoot(d), field, msg);
    });
  }

  test("non-object input and custom field prefix", () => {
    expectTufError(() => parseRoot(null), "root");
    expectTufError(() => parseRoot("root"), "root");
    expectTufError(() => parseRoot([]), "root");
    const d = rootDoc();
    d.signed.version = 0;
    expectTufError(() => parseRoot(d, "metadata.root"), "metadata.root.signed.version");
  });
});

describe("parseTargets rejections name the field", () => {
  const T = "targets.signed.targets";
  const D = "targets.signed.delegations";
  const cases: [string, (d: any) => void, string, RegExp?][] = [
    ["wrong _type", (d) => (d.signed._type = "root"), "targets.signed._type"],
    ["version 0", (d) => (d.signed.version = 0), "targets.signed.version"],
    ["expires with ms", (d) => (d.signed.expires = "2030-01-01T00:00:00.000Z"), "targets.signed.expires"],
    ["targets missing", (d) => delete d.signed.targets, T],
    ["targets an array", (d) => (d.signed.targets = []), T],
    ["target file not an object", (d) => (d.signed.targets["a/b-1.0.tar.gz"] = "x"), `${T}.a/b-1.0.tar.gz`],
    ["length negative", (d) => (d.signed.targets["a/b-1.0.tar.gz"].length = -1), `${T}.a/b-1.0.tar.gz.length`],
    ["length missing", (d) => delete d.signed.targets["a/b-1.0.tar.gz"].length, `${T}.a/b-1.0.tar.gz.length`],
    ["hashes missing", (d) => delete d.signed.targets["a/b-1.0.tar.gz"].hashes, `${T}.a/b-1.0.tar.gz.hashes`],
    [
      "hashes empty",
      (d) => (d.signed.targets["a/b-1.0.tar.gz"].hashes = {}),
      `${T}.a/b-1.0.tar.gz.hashes`,
      /at least one/,
    ],
    [
      "hash upper-case hex",
      (d) => (d.signed.targets["a/b-1.0.tar.gz"].hashes.sha256 = H.toUpperCase()),
      `${T}.a/b-1.0.tar.gz.hashes.sha256`,
    ],
    [
      "hash odd length",
      (d) => (d.signed.targets["a/b-1.0.tar.gz"].hashes.sha256 = "abc"),
      `${T}.a/b-1.0.tar.gz.hashes.sha256`,
    ],
    [
      "hash not a string",
      (d) => (d.signed.targets["a/b-1.0.tar.gz"].hashes.sha256 = 12),
      `${T}.a/b-1.0.tar.gz.hashes.sha256`,
    ],
    [
      "hash empty string",
      (d) => (d.signed.targets["a/b-1.0.tar.gz"].hashes.sha256 = ""),
      `${T}.a/b-1.0.tar.gz.hashes.sha256`,
    ],
    [
      "hash algorithm upper case",
      (d) => (d.signed.targets["a/b-1.0.tar.gz"].hashes = { SHA256: H }),
      `${T}.a/b-1.0.tar.gz.hashes.SHA256`,
    ],
    ["custom not an object", (d) => (d.signed.targets["a/b-1.0.tar.gz"].custom = [1]), `${T}.a/b-1.0.tar.gz.custom`],
    [
      "float in custom",
      (d) => (d.signed.targets["a/b-1.0.tar.gz"].custom = { size: 1.5 }),
      `${T}.a/b-1.0.tar.gz.custom.size`,
    ],
    [
      "both roles and succinct_roles",
      (d) =>
        (d.signed.delegations.succinct_roles = { name_prefix: "bins", bit_length: 4, keyids: [ONLINE], threshold: 1 }),
      D,
      /exactly one/,
    ],
    ["neither roles nor succinct_roles", (d) => delete d.signed.delegations.roles, D, /exactly one/],
    ["delegation keys missing", (d) => delete d.signed.delegations.keys, `${D}.keys`],
    ["roles not an array", (d) => (d.signed.delegations.roles = {}), `${D}.roles`],
    ["role name is a top-level role", (d) => (d.signed.delegations.roles[0].name = "snapshot"), `${D}.roles[0].name`],
    [
      "duplicate role names",
      (d) => (d.signed.delegations.roles[1].name = "nightly"),
      `${D}.roles[1].name`,
      /duplicate/,
    ],
    ["role name missing", (d) => delete d.signed.delegations.roles[0].name, `${D}.roles[0].name`],
    ["terminating missing", (d) => delete d.signed.delegations.roles[0].terminating, `${D}.roles[0].terminating`],
    [
      "paths and path_hash_prefixes",
      (d) => (d.signed.delegations.roles[0].path_hash_prefixes = ["00"]),
      `${D}.roles[0]`,
      /mutually exclusive/,
    ],
    ["paths not strings", (d) => (d.signed.delegations.roles[0].paths = ["ok/*", 3]), `${D}.roles[0].paths[1]`],
    [
      "hash prefix not hex",
      (d) => (d.signed.delegations.roles[1].path_hash_prefixes = ["00", "0G"]),
      `${D}.roles[1].path_hash_prefixes[1]`,
    ],
    [
      "role keyid not in delegation keys",
      (d) => (d.signed.delegations.roles[1].keyids = ["cd".repeat(32)]),
      `${D}.roles[1].keyids[0]`,
    ],
    ["role threshold > keys", (d) => (d.signed.delegations.roles[0].threshold = 2), `${D}.roles[0].threshold`],
    [
      "bad delegation key",
      (d) => (d.signed.delegations.keys[ONLINE].scheme = "rsassa-pss-sha256"),
      `${D}.keys.${ONLINE}.scheme`,
    ],
  ];
  for (const [name, mutate, field, msg] of cases) {
    test(name, () => {
      const d = targetsDoc();
      mutate(d);
      expectTufError(() => parseTargets(d), field, msg);
    });
  }

  const S = `${D}.succinct_roles`;
  const succinctCases: [string, (s: any) => void, string][] = [
    ["bit_length 0", (s) => (s.bit_length = 0), `${S}.bit_length`],
    ["bit_length 33", (s) => (s.bit_length = 33), `${S}.bit_length`],
    ["bit_length string", (s) => (s.bit_length = "4"), `${S}.bit_length`],
    ["name_prefix missing", (s) => delete s.name_prefix, `${S}.name_prefix`],
    ["keyid not in keys", (s) => (s.keyids = ["cd".repeat(32)]), `${S}.keyids[0]`],
    ["threshold 2 with one key", (s) => (s.threshold = 2), `${S}.threshold`],
  ];
  for (const [name, mutate, field] of succinctCases) {
    test(`succinct_roles: ${name}`, () => {
      const d = binsTargetsDoc();
      mutate(d.signed.delegations.succinct_roles);
      expectTufError(() => parseTargets(d), field);
    });
  }

  test("bit_length 1 and 32 are accepted", () => {
    for (const b of [1, 14, 32]) {
      const d = binsTargetsDoc();
      d.signed.delegations.succinct_roles.bit_length = b;
      expect(() => parseTargets(d)).not.toThrow();
    }
  });
});

describe("parseSnapshot / parseTimestamp rejections", () => {
  test("snapshot", () => {
    const M = "snapshot.signed.meta";
    const cases: [(d: any) => void, string][] = [
      [(d) => (d.signed._type = "timestamp"), "snapshot.signed._type"],
      [(d) => delete d.signed.meta, M],
      [(d) => (d.signed.meta["targets.json"].version = 0), `${M}.targets.json.version`],
      [(d) => delete d.signed.meta["targets.json"].version, `${M}.targets.json.version`],
      [(d) => (d.signed.meta["bins-0.json"].length = -5), `${M}.bins-0.json.length`],
      [(d) => (d.signed.meta["bins-0.json"].hashes = {}), `${M}.bins-0.json.hashes`],
      [(d) => (d.signed.meta["bins-0.json"].hashes = { sha256: "Z" }), `${M}.bins-0.json.hashes.sha256`],
      [(d) => (d.signed.meta["targets.json"] = 3), `${M}.targets.json`],
      [(d) => (d.signed.expires = "2030-01-01T00:00Z"), "snapshot.signed.expires"],
    ];
    for (const [mutate, field] of cases) {
      const d = snapshotDoc();
      mutate(d);
      expectTufError(() => parseSnapshot(d), field);
    }
  });

  test("timestamp", () => {
    const M = "timestamp.signed.meta";
    const cases: [(d: any) => void, string][] = [
      [(d) => (d.signed._type = "snapshot"), "timestamp.signed._type"],
      [(d) => delete d.signed.meta["snapshot.json"], `${M}.snapshot.json`],
      [(d) => (d.signed.meta = { "snapshot.json": { version: 0 } }), `${M}.snapshot.json.version`],
      [(d) => (d.signed.meta["snapshot.json"].hashes = { sha256: 1 }), `${M}.snapshot.json.hashes.sha256`],
      [(d) => (d.signed.version = 0), "timestamp.signed.version"],
      [(d) => (d.signed.spec_version = "0.9"), "timestamp.signed.spec_version"],
      [(d) => d.signatures.push({ keyid: "a", sig: "" }, { keyid: "a", sig: "" }), "timestamp.signatures[1].keyid"],
    ];
    for (const [mutate, field] of cases) {
      const d = timestampDoc();
      mutate(d);
      expectTufError(() => parseTimestamp(d), field);
    }
  });
});

describe("check helpers", () => {
  test("checkHashes", () => {
    expect(checkHashes({ sha256: H, "blake2b-256": H }, "h")).toEqual({ sha256: H, "blake2b-256": H });
    // Digest lengths: known algorithms exactly, others 32-128 hex characters (issue 10).
    expectTufError(() => checkHashes({ "blake2b-256": "00" }, "h"), "h.blake2b-256", /64 hex characters/);
    expectTufError(() => checkHashes({ sha512: H }, "h"), "h.sha512", /128 hex characters/);
    expect(checkHashes({ md5: "00".repeat(16) }, "h")).toEqual({ md5: "00".repeat(16) });
    expectTufError(() => checkHashes({ xx: "00" }, "h"), "h.xx", /between 32 and 128/);
    expectTufError(() => checkHashes({ xx: "0".repeat(33) }, "h"), "h.xx");
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`alg${i}`, H]));
    expectTufError(() => checkHashes(nine, "h"), "h", /at most 8 hashes/);
    expectTufError(() => checkHashes({ ["a".repeat(33)]: H }, "h"), `h.${"a".repeat(33)}`);
    expectTufError(() => checkHashes(null, "h"), "h");
    expectTufError(() => checkHashes({}, "h"), "h");
    expectTufError(() => checkHashes({ "-sha": H }, "h"), "h.-sha");
    expectTufError(() => checkHashes({ sha256: "0g" }, "h"), "h.sha256");
  });

  test("checkMetaFile", () => {
    expect(checkMetaFile({ version: 1 }, "m").version).toBe(1);
    expect(checkMetaFile({ version: 1, length: 0, hashes: { sha256: H } }, "m").length).toBe(0);
    expectTufError(() => checkMetaFile({ version: 1, length: 1.5 }, "m"), "m.length");
  });

  test("checkSignatures allows an empty signature list and empty sig", () => {
    expect(checkSignatures([], "s")).toEqual([]);
    expect(checkSignatures([{ keyid: "a", sig: "" }], "s").length).toBe(1);
    expectTufError(() => checkSignatures([{ keyid: "a", sig: "" }, "x"], "s"), "s[1]");
  });
});

describe("checkTargetPath", () => {
  const rejected: [string, unknown, RegExp][] = [
    ["parent segment", "../x", /'\.\.'/],
    ["parent segment inside", "a/../x", /'\.\.'/],
    ["trailing parent", "a/..", /'\.\.'/],
    ["absolute", "/abs", /relative/],
    ["double slash", "a//b", /empty segments/],
    ["dot segment", "a/./b", /'\.'/],
    ["lone dot", ".", /'\.'/],
    ["backslash", "a\\b", /'\\\\'|separator/],
    ["windows path", "..\\x", /separator/],
    ["newline", "a\nb", /control/],
    ["NUL", "a\u0000b", /control/],
    ["tab", "a\tb", /control/],
    ["unit separator", "a\u001fb", /control/],
    ["DEL", "a\u007fb", /control/],
    ["empty", "", /empty/],
    ["trailing slash", "a/b/", /empty segments/],
    ["too long", "a/".repeat(512) + "b", /1024/],
    ["lone surrogate", "a\ud800b", /Unicode/],
    ["astral characters", "emoji/😀.txt", /Basic Multilingual Plane/],
    ["not a string", 42, /string/],
    ["null", null, /string/],
  ];
  for (const [name, path, msg] of rejected) {
    test(`rejects ${name}`, () => {
      const err = expectTufError(() => checkTargetPath(path, "path"), "path", msg);
      expect(err).toBeInstanceOf(TufError);
    });
  }

  const accepted = [
    "a/b-1.0.tar.gz",
    "file.txt",
    "a/b/c/d/e.whl",
    "ünïcødé/名前/файл.bin",
    "quotes\"and'apostrophes.txt",
    "spaces in name.txt",
    "..hidden/x",
    "a/.well-known/b",
    "a/...",
    "x".repeat(1024),
    "\ufffd\uffff/\ue000",
    "a?b=c&d#e%20",
  ];
  for (const path of accepted) {
    test(`accepts ${JSON.stringify(path.length > 40 ? path.slice(0, 20) + "…" : path)}`, () => {
      expect(checkTargetPath(path, "path")).toBe(path);
    });
  }

  test("exactly 1024 characters is accepted, 1025 is not", () => {
    expect(checkTargetPath("a/" + "b".repeat(1022), "p")).toHaveLength(1024);
    expectTufError(() => checkTargetPath("a/" + "b".repeat(1023), "p"), "p", /1024/);
  });
});
