import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Metadata, MetadataKind } from "@tufjs/models";
import { ceremonyCommand } from "../../src/cli/ceremony.ts";
import { keyCommand } from "../../src/cli/key.ts";
import { signCommand } from "../../src/cli/sign.ts";
import { UsageError } from "../../src/cli/args.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import { verifyWithRoot } from "../../src/tuf/verify.ts";
import { parseRoot } from "../../src/tuf/metadata.ts";
import { computeKeyId } from "../../src/tuf/keys.ts";
import {
  fixturePath,
  hasStackTrace,
  pubFileFor,
  readJson,
  runCli,
  tempDir,
  testTerminal,
  writeText,
  rejects,
} from "./helpers.ts";

const NOW = new Date("2030-01-02T03:04:05.678Z");

const failsWith = (p: Promise<unknown>, pattern: RegExp): Promise<UsageError> => rejects(p, UsageError, pattern);

/** Two encrypted root keys (ed25519, ecdsa), an unencrypted online key (ed25519), an unrelated key. */
let dir: string;
let pass: string;
const ids: Record<string, string> = {};

beforeAll(async () => {
  dir = tempDir();
  pass = writeText(join(dir, "pass"), "root key passphrase\n");
  for (const [name, type, encrypted] of [
    ["root1", "ed25519", true],
    ["root2", "ecdsa", true],
    ["online", "ed25519", false],
    ["stranger", "ed25519", false],
  ] as const) {
    const t = testTerminal();
    await keyCommand(
      [
        "generate",
        "--type",
        type,
        "--out",
        join(dir, name),
        ...(encrypted ? ["--passphrase-file", pass] : ["--no-passphrase"]),
      ],
      t.term,
    );
    ids[name] = t.out[0]!;
  }
});

function baseArgs(out: string): string[] {
  return [
    "--root-key",
    join(dir, "root1.pub"),
    "--root-key",
    join(dir, "root2.pub"),
    "--threshold",
    "2",
    "--online-key",
    join(dir, "online.pub"),
    "--out",
    out,
  ];
}

async function ceremony(args: string[], term = testTerminal().term) {
  await ceremonyCommand(args, term, NOW);
}

describe("ceremony → bootstrap payload", () => {
  test("threshold 2 signed by one key: root v1 verifies 1 of 2; the payload has the RSTUF shape", async () => {
    const out = join(dir, "one-of-two.json");
    const t = testTerminal();
    await ceremony([...baseArgs(out), "--bins", "64", "--sign", join(dir, "root1"), "--passphrase-file", pass], t.term);
    const payload = readJson(out);
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain("PRIVATE");

    // Structurally what the server's validator accepts (the signature threshold is its business later).
    const parsed = parseBootstrapPayload(payload);
    expect(parsed.binsCount).toBe(64);
    expect(parsed.bitLength).toBe(6);
    expect(parsed.expiration).toEqual({ root: 365, targets: 365, snapshot: 1, timestamp: 1, bins: 1 });
    expect(payload.settings.roles.delegations).toBeNull();

    const root = parseRoot(payload.metadata.root);
    const signed = root.signed;
    expect(signed.version).toBe(1);
    expect(signed.spec_version).toBe("1.0.31");
    expect(signed.consistent_snapshot).toBe(true);
    expect(signed.expires).toBe("2031-01-02T03:04:05Z");
    expect(signed.roles.root).toEqual({ keyids: [ids.root1!, ids.root2!], threshold: 2 });
    for (const role of ["targets", "snapshot", "timestamp"] as const)
      expect(signed.roles[role]).toEqual({ keyids: [ids.online!], threshold: 1 });
    expect(signed.keys[ids.online!]!["x-rstuf-online-key-uri"]).toBe(`fn:${ids.online}`);
    expect(signed.keys[ids.online!]!["x-rstuf-key-name"]).toBe("online");
    expect(signed.keys[ids.root2!]!["x-rstuf-key-name"]).toBe("root2");
    expect(Object.keys(signed.keys).sort()).toEqual([ids.root1!, ids.root2!, ids.online!].sort());

    const result = verifyWithRoot(root, signed, "root");
    expect(result.signed).toEqual([ids.root1!]);
    expect(result.unsigned).toEqual([ids.root2!]);
    expect(result.verified).toBe(false);
    expect(t.out.join("\n")).toContain("1 of 2 signed, threshold 2");
    expect(t.out.join("\n")).toContain(`tufbox sign --key THEIR_KEY --in ${out}`);

    // tufbox sign with the second key → 2 of 2.
    const s = testTerminal();
    await signCommand(["--key", join(dir, "root2"), "--in", out, "--out", out, "--passphrase-file", pass], s.term, NOW);
    const after = parseRoot(readJson(out).metadata.root);
    expect(verifyWithRoot(after, after.signed, "root")).toMatchObject({
      verified: true,
      signed: [ids.root1!, ids.root2!],
    });
    expect(readJson(out).settings).toEqual(payload.settings);
    expect(after.signed).toEqual(signed);
  });

  test("signed by both keys: 2 of 2, and tuf-js agrees", async () => {
    const out = join(dir, "two-of-two.json");
    await ceremony([
      ...baseArgs(out),
      "--sign",
      join(dir, "root1"),
      "--sign",
      join(dir, "root2"),
      "--passphrase-file",
      pass,
    ]);
    const payload = readJson(out);
    const root = parseRoot(payload.metadata.root);
    expect(verifyWithRoot(root, root.signed, "root")).toMatchObject({
      verified: true,
      signed: [ids.root1!, ids.root2!],
    });
    expect(parseBootstrapPayload(payload).binsCount).toBe(256);
    const independent = Metadata.fromJSON(MetadataKind.Root, payload.metadata.root);
    expect(() => independent.verifyDelegate("root", independent)).not.toThrow();
  });

  test("a bin count that is slow for tuf-js is warned about; the default is not", async () => {
    const slow = testTerminal();
    await ceremony([...baseArgs(join(dir, "slow.json")), "--bins", "8192"], slow.term);
    expect(slow.out.join("\n")).toMatch(
      /^warning: with 8192 hash bins tuf-js clients spend ~\d+(\.\d)? s loading the snapshot on every refresh/m,
    );
    for (const bins of [[], ["--bins", "2048"]]) {
      const fine = testTerminal();
      await ceremony([...baseArgs(join(dir, "fine.json")), "--force", ...bins], fine.term);
      expect(fine.out.join("\n")).toContain("hash bins (TAP 15)");
      expect(fine.out.join("\n")).not.toContain("warning:");
    }
  });

  test("no signatures at all is a valid (pending) payload", async () => {
    const out = join(dir, "unsigned.json");
    await ceremony(baseArgs(out));
    const payload = readJson(out);
    expect(payload.metadata.root.signatures).toEqual([]);
    parseBootstrapPayload(payload);
  });

  test("--online-key-uri, --expires and the default threshold (a majority)", async () => {
    const out = join(dir, "opts.json");
    await ceremony([
      "--root-key",
      join(dir, "root1.pub"),
      "--root-key",
      join(dir, "root2.pub"),
      "--online-key",
      join(dir, "online.pub"),
      "--online-key-uri",
      "fn:online.pem",
      "--expires",
      "root=730, snapshot=2,bins=3",
      "--bins",
      "16384",
      "--out",
      out,
    ]);
    const payload = readJson(out);
    const p = parseBootstrapPayload(payload);
    expect(p.expiration).toEqual({ root: 730, targets: 365, snapshot: 2, timestamp: 1, bins: 3 });
    expect(p.binsCount).toBe(16384);
    expect(payload.metadata.root.signed.roles.root.threshold).toBe(2);
    expect(payload.metadata.root.signed.expires).toBe("2032-01-02T03:04:05Z");
    expect(payload.metadata.root.signed.keys[ids.online!]["x-rstuf-online-key-uri"]).toBe("fn:online.pem");
  });

  test("the output file is not replaced without --force", async () => {
    const out = join(dir, "exists.json");
    await ceremony(baseArgs(out));
    const before = readFileSync(out, "utf8");
    await failsWith(
      ceremony([...baseArgs(out), "--sign", join(dir, "root1"), "--passphrase-file", pass]),
      /exists\.json already exists/,
    );
    expect(readFileSync(out, "utf8")).toBe(before);
    await ceremony([...baseArgs(out), "--sign", join(dir, "root1"), "--passphrase-file", pass, "--force"]);
    expect(readJson(out).metadata.root.signatures).toHaveLength(1);
  });
});

describe("ceremony input checks name the flag", () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      "threshold above the number of root keys",
      () => [...baseArgs(join(dir, "x.json")), "--threshold", "3"],
      /--threshold 3 is larger than the number of root keys \(2\)/,
    ],
    ["threshold 0", () => [...baseArgs(join(dir, "x.json")), "--threshold", "0"], /--threshold 0/],
    [
      "online key also a root key",
      () => [
        "--root-key",
        join(dir, "root1.pub"),
        "--online-key",
        join(dir, "root1.pub"),
        "--out",
        join(dir, "x.json"),
      ],
      /--online-key .*root1\.pub is also a root key/,
    ],
    [
      "the same root key twice",
      () => [
        "--root-key",
        join(dir, "root1.pub"),
        "--root-key",
        join(dir, "root1.pub"),
        "--online-key",
        join(dir, "online.pub"),
        "--out",
        join(dir, "x.json"),
      ],
      /--root-key: .* is the same key/,
    ],
    ["bins not a power of two", () => [...baseArgs(join(dir, "x.json")), "--bins", "100"], /--bins 100 is not allowed/],
    ["bins too small", () => [...baseArgs(join(dir, "x.json")), "--bins", "1"], /--bins 1 is not allowed/],
    ["bins too large", () => [...baseArgs(join(dir, "x.json")), "--bins", "32768"], /--bins 32768 is not allowed/],
    ["bins not a number", () => [...baseArgs(join(dir, "x.json")), "--bins", "many"], /--bins many/],
    [
      "unknown --expires role",
      () => [...baseArgs(join(dir, "x.json")), "--expires", "root=365,tagrets=30"],
      /--expires: unknown role "tagrets"/,
    ],
    [
      "zero days",
      () => [...baseArgs(join(dir, "x.json")), "--expires", "timestamp=0"],
      /--expires timestamp: "0" is not a positive number of days/,
    ],
    [
      "negative days",
      () => [...baseArgs(join(dir, "x.json")), "--expires", "root=-5"],
      /--expires root: "-5" is not a positive number of days/,
    ],
    [
      "malformed --expires",
      () => [...baseArgs(join(dir, "x.json")), "--expires", "root:365"],
      /--expires: "root:365" is not ROLE=DAYS/,
    ],
    [
      "bins and delegations",
      () => [...baseArgs(join(dir, "x.json")), "--bins", "16", "--delegations", "d.yaml"],
      /--bins and --delegations exclude each other/,
    ],
    [
      "no root key (not a terminal)",
      () => ["--online-key", join(dir, "online.pub"), "--out", join(dir, "x.json")],
      /--root-key is required/,
    ],
    [
      "no online key",
      () => ["--root-key", join(dir, "root1.pub"), "--out", join(dir, "x.json")],
      /--online-key is required/,
    ],
    [
      "a private key where a .pub is expected",
      () => ["--root-key", join(dir, "root1"), "--online-key", join(dir, "online.pub"), "--out", join(dir, "x.json")],
      /root1 is a private key/,
    ],
    [
      "a missing .pub",
      () => [
        "--root-key",
        join(dir, "nope.pub"),
        "--online-key",
        join(dir, "online.pub"),
        "--out",
        join(dir, "x.json"),
      ],
      /nope\.pub: no such file/,
    ],
    [
      "a bad online key URI",
      () => [...baseArgs(join(dir, "x.json")), "--online-key-uri", "fn:../../etc/key"],
      /--online-key-uri "fn:\.\.\/\.\.\/etc\/key"/,
    ],
    [
      "signing with a key that is not a root key",
      () => [...baseArgs(join(dir, "x.json")), "--sign", join(dir, "stranger")],
      /key [0-9a-f]{64} \(.*stranger.*\) is not a root key of root v1/,
    ],
    [
      "signing with the online key",
      () => [...baseArgs(join(dir, "x.json")), "--sign", join(dir, "online")],
      /is the online key, not a root key/,
    ],
    [
      "passphrase files not matching --sign",
      () => [
        ...baseArgs(join(dir, "x.json")),
        "--sign",
        join(dir, "root1"),
        "--passphrase-file",
        pass,
        "--passphrase-file",
        pass,
        "--passphrase-file",
        pass,
      ],
      /3 --passphrase-file flags for 1 --sign keys/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, async () => {
      await failsWith(ceremony(args()), pattern);
      expect(existsSync(join(dir, "x.json"))).toBe(false);
    });
  }
});

describe("custom delegations (--delegations FILE.yaml)", () => {
  test("produce the RSTUF delegations shape, as in the fixture made by python-tuf", async () => {
    const d = tempDir();
    // The fixture's offline key, with the keyid and name it was published with.
    const fixture = readJson(fixturePath("bootstrap-delegations.json"));
    const [keyid, key] = Object.entries(fixture.settings.roles.delegations.keys)[0] as [
      string,
      Record<string, unknown>,
    ];
    pubFileFor("offline-ed25519", join(d, "release-team.pub"), { keyid, "x-rstuf-key-name": key["x-rstuf-key-name"] });
    const yaml = writeText(
      join(d, "delegations.yaml"),
      `roles:
  - name: nightly
    paths: ["nightly/*"]
    terminating: true
    online: true
    expires: 7
  - name: releases
    paths:
      - releases/*
      - releases/*/*
    terminating: true
    keys: [release-team.pub]
    threshold: 1
    expires: 30
`,
    );
    const out = join(d, "payload.json");
    const t = testTerminal();
    await ceremony([...baseArgs(out), "--delegations", yaml], t.term);
    const payload = readJson(out);
    expect(payload.settings.roles.bins).toBeNull();
    expect(payload.settings.roles.delegations).toEqual(fixture.settings.roles.delegations);
    expect(JSON.stringify(payload.settings.roles.delegations)).toBe(JSON.stringify(fixture.settings.roles.delegations));
    // …and the server's validator takes it.
    const parsed = parseBootstrapPayload(payload);
    expect(parsed.delegations?.roles.map((r) => r.name)).toEqual(["nightly", "releases"]);
    expect(parsed.binsCount).toBeNull();
    expect(t.out.join("\n")).toContain(
      "releases: paths releases/* releases/*/*; 1 of 1 offline key(s); terminating; expires after 30 day(s)",
    );
  });

  test("defaults, path_hash_prefixes, and a top-level list", async () => {
    const d = tempDir();
    pubFileFor("offline-ed25519", join(d, "team.pub"));
    const yaml = writeText(
      join(d, "d.yaml"),
      `- name: a
  path_hash_prefixes: ["00", "01"]
  online: true
- name: b_2
  paths: ["b/*"]
  keys: [team.pub]
`,
    );
    const out = join(d, "payload.json");
    await ceremony([...baseArgs(out), "--delegations", yaml]);
    const deleg = readJson(out).settings.roles.delegations;
    const teamId = computeKeyId(JSON.parse(readFileSync(join(d, "team.pub"), "utf8")));
    expect(deleg.roles).toEqual([
      {
        name: "a",
        terminating: false,
        keyids: [],
        threshold: 1,
        path_hash_prefixes: ["00", "01"],
        "x-rstuf-expire-policy": 1,
      },
      { name: "b_2", terminating: false, keyids: [teamId], threshold: 1, paths: ["b/*"], "x-rstuf-expire-policy": 365 },
    ]);
    expect(deleg.keys[teamId]["x-rstuf-key-name"]).toBe("team");
  });

  const bad: [string, string, RegExp][] = [
    [
      "unknown field",
      "roles:\n  - name: a\n    paths: [a/*]\n    online: true\n    expire: 3\n",
      /unknown field "expire"/,
    ],
    [
      "both paths and prefixes",
      "roles:\n  - name: a\n    paths: [a/*]\n    path_hash_prefixes: [aa]\n    online: true\n",
      /exactly one of paths or path_hash_prefixes/,
    ],
    ["neither online nor keys", "roles:\n  - name: a\n    paths: [a/*]\n", /either "online: true" or "keys/],
    [
      "threshold above keys",
      "roles:\n  - name: a\n    paths: [a/*]\n    keys: [team.pub]\n    threshold: 2\n",
      /threshold: 2 is larger than the number of keys \(1\)/,
    ],
    ["top-level role name", "roles:\n  - name: snapshot\n    paths: [a/*]\n    online: true\n", /top-level role name/],
    ["bad role name", "roles:\n  - name: a/b\n    paths: [a/*]\n    online: true\n", /name: expected a name/],
    [
      "duplicate names",
      "roles:\n  - name: a\n    paths: [a/*]\n    online: true\n  - name: a\n    paths: [b/*]\n    online: true\n",
      /defined twice/,
    ],
    [
      "non-positive expiry",
      "roles:\n  - name: a\n    paths: [a/*]\n    online: true\n    expires: 0\n",
      /expires: expected a whole number greater than 0/,
    ],
    [
      "online key as an offline key",
      "roles:\n  - name: a\n    paths: [a/*]\n    keys: [online.pub]\n",
      /is the online key/,
    ],
    ["not YAML", "roles: [\n", /not valid YAML/],
    ["no roles", "{}\n", /expected "roles:"/],
    ["a bins- name", "roles:\n  - name: bins-3\n    paths: [a/*]\n    online: true\n", /reserved for hash bins/],
    [
      "a root key as a delegated key",
      "roles:\n  - name: a\n    paths: [a/*]\n    keys: [root1.pub]\n",
      /is also a root key/,
    ],
  ];
  for (const [name, yaml, pattern] of bad) {
    test(`rejected: ${name}`, async () => {
      const d = tempDir();
      pubFileFor("offline-ed25519", join(d, "team.pub"));
      writeText(join(d, "online.pub"), readFileSync(join(dir, "online.pub"), "utf8"));
      writeText(join(d, "root1.pub"), readFileSync(join(dir, "root1.pub"), "utf8"));
      const file = writeText(join(d, "d.yaml"), yaml);
      const err = await failsWith(ceremony([...baseArgs(join(d, "p.json")), "--delegations", file]), pattern);
      expect(err.message).toContain("d.yaml");
      expect(existsSync(join(d, "p.json"))).toBe(false);
    });
  }

  test("--expires bins=… with delegations is refused", async () => {
    const d = tempDir();
    const file = writeText(join(d, "d.yaml"), "roles:\n  - name: a\n    paths: [a/*]\n    online: true\n");
    await failsWith(
      ceremony([...baseArgs(join(d, "p.json")), "--delegations", file, "--expires", "bins=2"]),
      /--expires bins=… applies only with hash bins/,
    );
  });
});

describe("interactive ceremony (a terminal, no --root-key)", () => {
  test("asks for what is missing, with defaults", async () => {
    const out = join(dir, "interactive.json");
    const t = testTerminal({
      interactive: true,
      answers: [
        join(dir, "nope.pub"), // a typo is reported and asked again
        join(dir, "root1.pub"),
        join(dir, "root2.pub"),
        "", // done with root keys
        "", // threshold: default 2
        join(dir, "online.pub"),
        "", // online key URI: default fn:<keyid>
        "100", // not a power of two: asked again
        "32",
        "",
        "",
        "",
        "",
        "9", // expiry: defaults except bins = 9
        join(dir, "root2"),
        "", // done signing
        out,
      ],
      secrets: ["root key passphrase"],
    });
    await ceremonyCommand([], t.term, NOW);
    const payload = readJson(out);
    const p = parseBootstrapPayload(payload);
    expect(p.binsCount).toBe(32);
    expect(p.expiration.bins).toBe(9);
    expect(payload.metadata.root.signed.roles.root).toEqual({ keyids: [ids.root1!, ids.root2!], threshold: 2 });
    expect(payload.metadata.root.signed.keys[ids.online!]["x-rstuf-online-key-uri"]).toBe(`fn:${ids.online}`);
    const root = parseRoot(payload.metadata.root);
    expect(verifyWithRoot(root, root.signed, "root").signed).toEqual([ids.root2!]);
    expect(t.info.join("\n")).toContain("nope.pub: no such file");
    expect(t.info.join("\n")).toContain("--bins 100 is not allowed");
    expect(t.asked.some((q) => q.startsWith("Root threshold"))).toBe(true);
  });

  test("flags given in a terminal are not asked again", async () => {
    const out = join(dir, "flags-in-terminal.json");
    const t = testTerminal({ interactive: true, answers: [] });
    await ceremonyCommand(baseArgs(out), t.term, NOW);
    expect(t.asked).toEqual([]);
    expect(existsSync(out)).toBe(true);
  });
});

describe("ceremony as a subprocess", () => {
  test("exit 0 and a payload; bad input: exit 2, message naming the flag, hint, no stack trace", async () => {
    const ok = await runCli(
      ["ceremony", ...baseArgs("payload.json"), "--sign", join(dir, "root1"), "--passphrase-file", pass],
      { cwd: dir },
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("wrote payload.json (bootstrap payload, public data only)");
    // The next step names tufbox's own command, not only RSTUF's.
    expect(ok.stdout).toContain("tufbox bootstrap payload.json --server URL");
    expect(readFileSync(join(dir, "payload.json"), "utf8")).not.toContain("PRIVATE KEY");
    parseBootstrapPayload(readJson(join(dir, "payload.json")));

    const bad = await runCli(["ceremony", ...baseArgs("bad.json"), "--bins", "3"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "tufbox ceremony: --bins 3 is not allowed\nhint: use a power of two between 2 and 16384",
    );
    expect(hasStackTrace(bad.stderr)).toBe(false);
    expect(existsSync(join(dir, "bad.json"))).toBe(false);

    const help = await runCli(["ceremony", "--help"], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--delegations FILE");
  });
});
