import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Metadata, MetadataKind } from "@tufjs/models";
import { rootCommand } from "../../src/cli/root-update.ts";
import { keyCommand } from "../../src/cli/key.ts";
import { signCommand } from "../../src/cli/sign.ts";
import { UsageError } from "../../src/cli/args.ts";
import { parseRoot, type Metadata as TufMetadata, type RootSigned } from "../../src/tuf/metadata.ts";
import { signedBytesOf, verifyRole, type VerificationResult } from "../../src/tuf/verify.ts";
import {
  fixtureKeyFile,
  fixtureKeyid,
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

const NOW = new Date("2030-06-15T12:00:00Z");
const ED = fixtureKeyid("root-ed25519");
const EC = fixtureKeyid("root-ecdsa");
const OLD_ONLINE = fixtureKeyid("online-ed25519");
const V1_FILE = fixturePath("bootstrap-bins.json");

const failsWith = (p: Promise<unknown>, pattern: RegExp): Promise<UsageError> => rejects(p, UsageError, pattern);

function v1(): TufMetadata<RootSigned> {
  return parseRoot(readJson(V1_FILE).metadata.root);
}

/** The root of an update payload, checked against root N's root role and its own (spec 5.3.4). */
function thresholds(
  updateFile: string,
  trusted: RootSigned,
): { own: VerificationResult; trusted: VerificationResult; root: TufMetadata<RootSigned> } {
  const payload = readJson(updateFile);
  expect(Object.keys(payload)).toEqual(["metadata"]);
  expect(Object.keys(payload.metadata)).toEqual(["root"]);
  const root = parseRoot(payload.metadata.root);
  const bytes = signedBytesOf(root);
  return {
    root,
    own: verifyRole(bytes, root.signatures, root.signed.keys, root.signed.roles.root),
    trusted: verifyRole(bytes, root.signatures, trusted.keys, trusted.roles.root),
  };
}

let dir: string;
const ids: Record<string, string> = {};
beforeAll(async () => {
  dir = tempDir();
  for (const [name, type] of [
    ["online2", "ecdsa"],
    ["root3", "ed25519"],
    ["root4", "rsa"],
    ["stranger", "ed25519"],
  ] as const) {
    const t = testTerminal();
    await keyCommand(["generate", "--type", type, "--out", join(dir, name), "--no-passphrase"], t.term);
    ids[name] = t.out[0]!;
  }
});

async function update(args: string[], term = testTerminal().term, now = NOW): Promise<void> {
  await rootCommand(["update", ...args], term, now);
}

describe("root update from the fixture's root v1", () => {
  test("rotate the online key to a new ecdsa key and add a root key, signed by the fixture root keys: v2 verifies with v1's threshold and its own", async () => {
    const out = join(dir, "rotate.json");
    const t = testTerminal();
    await update(
      [
        "--in",
        V1_FILE,
        "--online-key",
        join(dir, "online2.pub"),
        "--add-key",
        join(dir, "root3.pub"),
        "--sign",
        fixtureKeyFile("root-ed25519"),
        "--sign",
        fixtureKeyFile("root-ecdsa"),
        "--out",
        out,
      ],
      t.term,
    );
    const old = v1().signed;
    const { root, own, trusted } = thresholds(out, old);
    const s = root.signed;
    expect(s.version).toBe(2);
    expect(s.expires).toBe("2031-06-15T12:00:00Z");
    expect(s.roles.root).toEqual({ keyids: [ED, EC, ids.root3!], threshold: 2 });
    for (const role of ["targets", "snapshot", "timestamp"] as const)
      expect(s.roles[role]).toEqual({ keyids: [ids.online2!], threshold: 1 });
    expect(s.keys[ids.online2!]!["x-rstuf-online-key-uri"]).toBe(`fn:${ids.online2}`);
    expect(s.keys[OLD_ONLINE]).toBeUndefined(); // the old online key is gone from keys
    expect(s.keys[ED]).toEqual(old.keys[ED]!); // kept as published (legacy keyid, name)
    expect(s.consistent_snapshot).toBe(true);
    expect(s.spec_version).toBe("1.0.31");

    expect(trusted).toMatchObject({ verified: true, signed: [ED, EC], threshold: 2 });
    expect(own).toMatchObject({ verified: true, signed: [ED, EC], unsigned: [ids.root3!], threshold: 2 });

    // An independent implementation agrees (what a TUF client does on update).
    const tufV1 = Metadata.fromJSON(MetadataKind.Root, readJson(V1_FILE).metadata.root);
    const tufV2 = Metadata.fromJSON(MetadataKind.Root, readJson(out).metadata.root);
    expect(() => tufV1.verifyDelegate("root", tufV2)).not.toThrow();
    expect(() => tufV2.verifyDelegate("root", tufV2)).not.toThrow();

    const text = t.out.join("\n");
    expect(text).toContain("root v2 (this root): 2 of 3 signed, threshold 2 — met");
    expect(text).toContain("root v1 (trusted): 2 of 2 signed, threshold 2 — met");
    expect(text).toContain(`+ root key ${ids.root3}`);
    expect(text).toContain(`online key ${OLD_ONLINE}`);
    expect(text).toContain(`copy the new online private key to the server's online-key directory as ${ids.online2}`);
    expect(readFileSync(out, "utf8")).not.toContain("PRIVATE");
  });

  test("reproduces the python-tuf fixture root v2 byte for byte (same keys, same expiry), with its ed25519 signature", async () => {
    const fixture = readJson(fixturePath("metadata-update-root-v2-online-ecdsa.json"));
    const d = tempDir();
    const onlinePub = pubFileFor("online-ecdsa", join(d, "online-ecdsa.pub"), {
      keyid: fixtureKeyid("online-ecdsa"),
      "x-rstuf-key-name": "Online Key",
    });
    const out = join(d, "v2.json");
    // 2035-01-01 + 365 days = the fixture's 2036-01-01T00:00:00Z
    await update(
      [
        "--in",
        V1_FILE,
        "--online-key",
        onlinePub,
        "--expires",
        "365",
        "--sign",
        fixtureKeyFile("root-ed25519"),
        "--sign",
        fixtureKeyFile("root-ecdsa"),
        "--out",
        out,
      ],
      testTerminal().term,
      new Date("2035-01-01T00:00:00Z"),
    );
    const mine = readJson(out).metadata.root;
    expect(mine.signed).toEqual(fixture.metadata.root.signed);
    const sigOf = (m: { signatures: { keyid: string; sig: string }[] }, id: string) =>
      m.signatures.find((s) => s.keyid === id)?.sig;
    expect(sigOf(mine, ED)).toBe(sigOf(fixture.metadata.root, ED));
  });

  test("a removed root key still signs: v2 needs v1's threshold (2 of ED, EC) and its own (2 of ED, root4)", async () => {
    const out = join(dir, "remove.json");
    const t = testTerminal();
    await update(
      [
        "--in",
        V1_FILE,
        "--remove-key",
        EC.slice(0, 10),
        "--add-key",
        join(dir, "root4.pub"),
        "--sign",
        fixtureKeyFile("root-ed25519"),
        "--sign",
        join(dir, "root4"),
        "--out",
        out,
      ],
      t.term,
    );
    let r = thresholds(out, v1().signed);
    expect(r.root.signed.roles.root).toEqual({ keyids: [ED, ids.root4!], threshold: 2 });
    expect(r.root.signed.keys[EC]).toBeUndefined();
    expect(r.own.verified).toBe(true);
    expect(r.trusted).toMatchObject({ verified: false, signed: [ED], unsigned: [EC] });
    expect(t.out.join("\n")).toContain(`tufbox sign --key THEIR_KEY --trusted ${V1_FILE} --in ${out} --out ${out}`);

    // Without --trusted, sign cannot know the removed key…
    await failsWith(
      signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", out], testTerminal().term, NOW),
      /is not a root key of root v2/,
    );
    // …with it, the old key signs and both thresholds are met.
    await signCommand(
      ["--key", fixtureKeyFile("root-ecdsa"), "--trusted", V1_FILE, "--in", out],
      testTerminal().term,
      NOW,
    );
    r = thresholds(out, v1().signed);
    expect(r.own.verified).toBe(true);
    expect(r.trusted.verified).toBe(true);
  });

  test("unsigned, then signed with tufbox sign; a threshold change is shown", async () => {
    const out = join(dir, "later.json");
    await update(["--in", V1_FILE, "--add-key", join(dir, "root3.pub"), "--threshold", "3", "--out", out]);
    expect(readJson(out).metadata.root.signatures).toEqual([]);
    const t = testTerminal();
    await signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--trusted", V1_FILE, "--in", out], t.term, NOW);
    expect(t.out.join("\n")).toContain("root threshold 2 → 3");
    expect(t.out.join("\n")).toContain("root v2 (this root): 1 of 3 signed, threshold 3 — 2 more needed");
  });

  test("root N can be a metadata file (N.root.json) or an earlier update payload", async () => {
    const d = tempDir();
    const file = writeText(join(d, "1.root.json"), JSON.stringify(readJson(V1_FILE).metadata.root));
    await update(["--in", file, "--out", join(d, "a.json"), "--expires", "10"]);
    expect(readJson(join(d, "a.json")).metadata.root.signed.version).toBe(2);
    // v2 (fixture update payload) → v3
    const v2file = fixturePath("metadata-update-root-v2-online-ecdsa.json");
    await update([
      "--in",
      v2file,
      "--online-key",
      join(dir, "online2.pub"),
      "--sign",
      fixtureKeyFile("root-ed25519"),
      "--sign",
      fixtureKeyFile("root-ecdsa"),
      "--out",
      join(d, "v3.json"),
    ]);
    const r = thresholds(join(d, "v3.json"), readJson(v2file).metadata.root.signed);
    expect(r.root.signed.version).toBe(3);
    expect(r.own.verified && r.trusted.verified).toBe(true);
    expect(r.root.signed.keys[fixtureKeyid("online-ecdsa")]).toBeUndefined();
  });
});

describe("root update input checks", () => {
  const out = () => join(dir, "never.json");
  const cases: [string, () => string[], RegExp][] = [
    [
      "remove a key that is not a root key",
      () => ["--remove-key", "ab".repeat(32)],
      /--remove-key abab.* is not a root key of root v1/,
    ],
    ["remove the online key", () => ["--remove-key", OLD_ONLINE], /is the online key, not a root key/],
    ["remove with too short a prefix", () => ["--remove-key", EC.slice(0, 4)], /is not a root key/],
    ["remove the same key twice", () => ["--remove-key", EC, "--remove-key", EC], /given twice/],
    ["remove every root key", () => ["--remove-key", EC, "--remove-key", ED], /would have no root keys/],
    [
      "threshold left above the key count",
      () => ["--remove-key", EC],
      /the threshold \(2, unchanged\) is larger than the number of root keys of root v2 \(1\)/,
    ],
    [
      "threshold above the key count",
      () => ["--threshold", "3"],
      /--threshold 3 is larger than the number of root keys of root v2 \(2\)/,
    ],
    ["threshold 0", () => ["--threshold", "0"], /--threshold 0/],
    [
      "add a key that already is a root key",
      () => ["--add-key", pubFileFor("root-ecdsa", join(dir, "ec-again.pub"))],
      /is already a root key \(18456a74/,
    ],
    [
      "add the online key as a root key",
      () => ["--add-key", pubFileFor("online-ed25519", join(dir, "old-online.pub"))],
      /is the online key of root v1/,
    ],
    [
      "a new online key that is a root key",
      () => ["--online-key", pubFileFor("root-ed25519", join(dir, "ed-again.pub"))],
      /--online-key .* is a root key/,
    ],
    [
      "a new online key that is also added as a root key",
      () => ["--online-key", join(dir, "root3.pub"), "--add-key", join(dir, "root3.pub")],
      /is also given as --online-key/,
    ],
    [
      "the current online key as the new one",
      () => ["--online-key", pubFileFor("online-ed25519", join(dir, "same-online.pub"))],
      /is already the online key/,
    ],
    [
      "--online-key-uri without --online-key",
      () => ["--online-key-uri", "fn:x"],
      /--online-key-uri needs --online-key/,
    ],
    ["zero expiry days", () => ["--expires", "0"], /--expires: "0" is not a positive number of days/],
    ["signing with a key of neither root", () => ["--sign", join(dir, "stranger")], /is not a root key of root v2/],
    ["no --in", () => [], /--in is required/],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, async () => {
      const a = args();
      await failsWith(update([...(name === "no --in" ? [] : ["--in", V1_FILE]), ...a, "--out", out()]), pattern);
      expect(existsSync(out())).toBe(false);
    });
  }

  test("--out is not replaced without --force", async () => {
    const o = join(dir, "twice.json");
    await update(["--in", V1_FILE, "--out", o]);
    await failsWith(update(["--in", V1_FILE, "--out", o]), /twice\.json already exists/);
    await update(["--in", V1_FILE, "--out", o, "--force"]);
  });
});

describe("root update as a subprocess", () => {
  test("exit 0, both k-of-n counts printed; bad input exit 2 with a hint", async () => {
    const ok = await runCli(
      [
        "root",
        "update",
        "--in",
        V1_FILE,
        "--online-key",
        join(dir, "online2.pub"),
        "--sign",
        fixtureKeyFile("root-ed25519"),
        "--out",
        "sub.json",
      ],
      { cwd: dir },
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("root v2 (this root): 1 of 2 signed, threshold 2 — 1 more needed");
    expect(ok.stdout).toContain("root v1 (trusted): 1 of 2 signed, threshold 2 — 1 more needed");
    expect(ok.stdout).toContain("wrote sub.json (metadata-update payload for root v2, public data only)");
    const bad = await runCli(["root", "update", "--in", V1_FILE, "--remove-key", "nothex"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^tufbox root: --remove-key nothex is not a root key of root v1\nhint: root keys: /);
    expect(hasStackTrace(bad.stderr)).toBe(false);
    const help = await runCli(["root", "update", "--help"], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--remove-key KEYID");
  });
});
