import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { signCommand } from "../../src/cli/sign.ts";
import { keyCommand } from "../../src/cli/key.ts";
import { UsageError } from "../../src/cli/args.ts";
import { parseRoot } from "../../src/tuf/metadata.ts";
import { verifyWithRoot, signedBytesOf, verifyRole } from "../../src/tuf/verify.ts";
import {
  fixtureKeyFile,
  fixtureKeyid,
  fixturePath,
  hasStackTrace,
  readJson,
  runCli,
  tempDir,
  testTerminal,
  writeText,
  rejects,
} from "./helpers.ts";

const NOW = new Date("2030-01-01T00:00:00Z");
const ED = fixtureKeyid("root-ed25519");
const EC = fixtureKeyid("root-ecdsa");

const failsWith = (p: Promise<unknown>, pattern: RegExp): Promise<UsageError> => rejects(p, UsageError, pattern);

function copyFixture(name: string, dir = tempDir()): string {
  const to = join(dir, name);
  copyFileSync(fixturePath(name), to);
  return to;
}

describe("sign a bootstrap payload", () => {
  test("the fixture root signed by one of two keys: the second key (legacy keyid, matched by key material) makes it 2 of 2", async () => {
    const file = copyFixture("bootstrap-bins-1-of-2-signatures.json");
    const before = readJson(file);
    expect(verifyWithRoot(parseRoot(before.metadata.root), before.metadata.root.signed, "root").signed).toEqual([ED]);
    const t = testTerminal();
    await signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--out", file], t.term, NOW);
    const after = readJson(file);
    const root = parseRoot(after.metadata.root);
    expect(verifyWithRoot(root, root.signed, "root")).toMatchObject({ verified: true, signed: [ED, EC] });
    // Only the signature was added; settings, timeout and the signed part are unchanged.
    expect(after.settings).toEqual(before.settings);
    expect(after.timeout).toBe(300);
    expect(after.metadata.root.signed).toEqual(before.metadata.root.signed);
    const text = t.out.join("\n");
    expect(text).toContain("root v1 — bootstrap payload");
    expect(text).toContain("1 of 2 signed, threshold 2 — 1 more needed");
    expect(text).toContain(`signed root v1 as ${EC}`);
    expect(text).toContain("2 of 2 signed, threshold 2 — met");
  });

  test("signing again replaces the key's signature instead of adding a second one", async () => {
    const file = copyFixture("bootstrap-bins.json");
    const t = testTerminal();
    await signCommand(["--key", fixtureKeyFile("root-ed25519"), "--in", file], t.term, NOW);
    const sigs = readJson(file).metadata.root.signatures;
    expect(sigs.map((s: { keyid: string }) => s.keyid).sort()).toEqual([ED, EC].sort());
    expect(t.out.join("\n")).toContain("replacing its earlier signature");
  });

  test("--out elsewhere leaves --in alone, and is not replaced without --force", async () => {
    const dir = tempDir();
    const file = copyFixture("bootstrap-bins-1-of-2-signatures.json", dir);
    const original = readFileSync(file, "utf8");
    const out = join(dir, "signed.json");
    await signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--out", out], testTerminal().term, NOW);
    expect(readFileSync(file, "utf8")).toBe(original);
    expect(readJson(out).metadata.root.signatures).toHaveLength(2);
    await failsWith(
      signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--out", out], testTerminal().term, NOW),
      /signed\.json already exists/,
    );
    await signCommand(
      ["--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--out", out, "--force"],
      testTerminal().term,
      NOW,
    );
  });

  test("refuses a key that is not a root key, naming its keyid; the file is unchanged", async () => {
    const dir = tempDir();
    const file = copyFixture("bootstrap-bins-1-of-2-signatures.json", dir);
    const original = readFileSync(file, "utf8");
    const t = testTerminal();
    await keyCommand(["generate", "--out", join(dir, "stranger"), "--no-passphrase"], t.term);
    const err = await failsWith(
      signCommand(["--key", join(dir, "stranger"), "--in", file], testTerminal().term, NOW),
      new RegExp(`key ${t.out[0]} \\(.*stranger.*\\) is not a root key of root v1`),
    );
    expect(err.hint).toContain(ED);
    await failsWith(
      signCommand(["--key", fixtureKeyFile("online-ed25519"), "--in", file], testTerminal().term, NOW),
      /is the online key, not a root key/,
    );
    // A delegated role's offline key is not a root key either.
    await failsWith(
      signCommand(["--key", fixtureKeyFile("offline-ed25519"), "--in", file], testTerminal().term, NOW),
      /not a root key/,
    );
    expect(readFileSync(file, "utf8")).toBe(original);
  });

  test("refuses an expired root, a .pub as --key, another role, and --trusted on a bootstrap payload", async () => {
    const file = copyFixture("bootstrap-bins-1-of-2-signatures.json");
    await failsWith(
      signCommand(
        ["--key", fixtureKeyFile("root-ecdsa"), "--in", file],
        testTerminal().term,
        new Date("2036-01-02T00:00:00Z"),
      ),
      /refusing to sign root v1: root v1 expired at 2036-01-01T00:00:00Z/,
    );
    const pub = writeText(join(tempDir(), "k.pub"), '{"keytype": "ed25519"}');
    await failsWith(signCommand(["--key", pub, "--in", file], testTerminal().term, NOW), /is a public key file/);
    await failsWith(
      signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--role", "targets"], testTerminal().term, NOW),
      /--role targets cannot be signed offline/,
    );
    await failsWith(
      signCommand(
        ["--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--trusted", fixturePath("bootstrap-bins.json")],
        testTerminal().term,
        NOW,
      ),
      /--trusted does not apply to a bootstrap payload/,
    );
    await failsWith(
      signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", fixturePath("README.md")], testTerminal().term, NOW),
      /README\.md is not JSON/,
    );
    await failsWith(signCommand(["--in", file], testTerminal().term, NOW), /--key is required/);
  });

  test("in a terminal it asks; 'n' writes nothing, 'y' signs; --yes does not ask", async () => {
    const file = copyFixture("bootstrap-bins-1-of-2-signatures.json");
    const original = readFileSync(file, "utf8");
    const no = testTerminal({ interactive: true, answers: ["n"] });
    await failsWith(signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file], no.term, NOW), /declined/);
    expect(no.asked[0]).toContain(`Sign root v1 with key`);
    expect(readFileSync(file, "utf8")).toBe(original);
    const yes = testTerminal({ interactive: true, answers: ["y"] });
    await signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file], yes.term, NOW);
    expect(readJson(file).metadata.root.signatures).toHaveLength(2);
    const skip = testTerminal({ interactive: true, answers: [] });
    await signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--yes"], skip.term, NOW);
    expect(skip.asked).toEqual([]);
  });
});

describe("sign a metadata-update payload", () => {
  test("the python-tuf fixture root v2 is accepted; re-signing reproduces its ed25519 signature", async () => {
    const file = copyFixture("metadata-update-root-v2-online-ecdsa.json");
    const fixture = readJson(file);
    const t = testTerminal();
    await signCommand(
      ["--key", fixtureKeyFile("root-ed25519"), "--trusted", fixturePath("bootstrap-bins.json"), "--in", file],
      t.term,
      NOW,
    );
    const after = readJson(file);
    expect(after).toEqual(fixture); // ed25519 is deterministic: the same signature replaced in place
    const text = t.out.join("\n");
    expect(text).toContain("root v2 — metadata-update payload (trusted: root v1)");
    expect(text).toMatch(/online key c371763f\S* "Online Key" \(ed25519\) → 9dfd76d7\S* "Online Key" \(ecdsa\)/);
    expect(text).toContain("root v2 (this root): 2 of 2 signed");
    expect(text).toContain("root v1 (trusted): 2 of 2 signed");
  });

  test("unsigned root v2: one key gives 1 of 2 for both roots, the second 2 of 2", async () => {
    const dir = tempDir();
    const fixture = readJson(fixturePath("metadata-update-root-v2-online-ecdsa.json"));
    fixture.metadata.root.signatures = [];
    const file = writeText(join(dir, "update.json"), JSON.stringify(fixture));
    const trusted = fixturePath("bootstrap-bins.json");
    const v1 = readJson(trusted).metadata.root.signed;
    await signCommand(
      ["--key", fixtureKeyFile("root-ecdsa"), "--trusted", trusted, "--in", file],
      testTerminal().term,
      NOW,
    );
    let root = parseRoot(readJson(file).metadata.root);
    expect(verifyWithRoot(root, root.signed, "root")).toMatchObject({ verified: false, signed: [EC] });
    const t = testTerminal();
    await signCommand(["--key", fixtureKeyFile("root-ed25519"), "--trusted", trusted, "--in", file], t.term, NOW);
    root = parseRoot(readJson(file).metadata.root);
    expect(verifyWithRoot(root, root.signed, "root").verified).toBe(true);
    expect(verifyRole(signedBytesOf(root), root.signatures, v1.keys, v1.roles.root).verified).toBe(true);
    expect(t.out.join("\n")).toContain("every threshold is met");
  });

  test("a root metadata file ({signed, signatures}) can be signed too", async () => {
    const dir = tempDir();
    const root = readJson(fixturePath("bootstrap-bins-1-of-2-signatures.json")).metadata.root;
    const file = writeText(join(dir, "1.root.json"), JSON.stringify(root));
    await signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", file], testTerminal().term, NOW);
    const signed = parseRoot(readJson(file));
    expect(verifyWithRoot(signed, signed.signed, "root").verified).toBe(true);
  });

  test("refuses a document that does not follow --trusted", async () => {
    const file = copyFixture("metadata-update-root-v3-online-rsa-1-of-2.json");
    await failsWith(
      signCommand(
        ["--key", fixtureKeyFile("root-ecdsa"), "--trusted", fixturePath("bootstrap-bins.json"), "--in", file],
        testTerminal().term,
        NOW,
      ),
      /root v3 does not follow the trusted root v1 \(expected v2\)/,
    );
    // With the right trusted root it is fine.
    await signCommand(
      [
        "--key",
        fixtureKeyFile("root-ecdsa"),
        "--trusted",
        fixturePath("metadata-update-root-v2-online-ecdsa.json"),
        "--in",
        file,
      ],
      testTerminal().term,
      NOW,
    );
    const root = parseRoot(readJson(file).metadata.root);
    expect(verifyWithRoot(root, root.signed, "root").verified).toBe(true);
  });
});

describe("sign as a subprocess", () => {
  test("signing: exit 0; a non-root key: exit ≠ 0 with the keyid, a hint and no stack trace", async () => {
    const dir = tempDir();
    const file = copyFixture("bootstrap-bins-1-of-2-signatures.json", dir);
    const refused = await runCli(["sign", "--key", fixtureKeyFile("online-ecdsa"), "--in", file], { cwd: dir });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("key be9bb63c4d60942be7b80e6ed03fcc5d58c642a6ebffc7d79434675b58640c23");
    expect(refused.stderr).toMatch(/is not a root key of root v1\nhint: root v1 root keys: /);
    expect(hasStackTrace(refused.stderr)).toBe(false);
    expect(refused.stderr + refused.stdout).not.toContain("PRIVATE KEY");

    const ok = await runCli(["sign", "--key", fixtureKeyFile("root-ecdsa"), "--in", file, "--out", file], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("2 of 2 signed, threshold 2 — met");
    expect(existsSync(file)).toBe(true);
    const root = parseRoot(readJson(file).metadata.root);
    expect(verifyWithRoot(root, root.signed, "root").verified).toBe(true);
  });
});
