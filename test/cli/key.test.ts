import { describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { keyCommand } from "../../src/cli/key.ts";
import { UsageError } from "../../src/cli/args.ts";
import { PublicKey, computeKeyId } from "../../src/tuf/keys.ts";
import { PBKDF2_ITERATIONS } from "../../src/offline/pkcs8.ts";
import {
  fixtureKeyFile,
  fixtureKeyid,
  hasStackTrace,
  runCli,
  tempDir,
  testTerminal,
  writeText,
  rejects,
} from "./helpers.ts";

const EXPECTED = {
  ed25519: { keytype: "ed25519", scheme: "ed25519" },
  ecdsa: { keytype: "ecdsa", scheme: "ecdsa-sha2-nistp256" },
  rsa: { keytype: "rsa", scheme: "rsassa-pss-sha256" },
} as const;

function infoField(lines: string[], label: string): string | undefined {
  for (const l of lines) {
    const m = new RegExp(`^${label}\\s{2,}(.*)$`).exec(l);
    if (m) return m[1];
  }
  return undefined;
}

const expectUsageError = (p: Promise<unknown>, pattern: RegExp): Promise<UsageError> => rejects(p, UsageError, pattern);

describe("key generate → key info", () => {
  for (const type of ["ed25519", "ecdsa", "rsa"] as const) {
    test(`${type}: files, modes, public key object, same keyid from both files`, async () => {
      const dir = tempDir();
      const out = join(dir, `k-${type}`);
      const gen = testTerminal();
      await keyCommand(["generate", "--type", type, "--out", out, "--no-passphrase"], gen.term);
      expect(gen.out).toHaveLength(1);
      const keyid = gen.out[0]!;
      expect(keyid).toMatch(/^[0-9a-f]{64}$/);

      expect(statSync(out).mode & 0o777).toBe(0o600);
      const pem = readFileSync(out, "utf8");
      expect(pem).toStartWith("-----BEGIN PRIVATE KEY-----");
      const pub = JSON.parse(readFileSync(`${out}.pub`, "utf8"));
      expect(pub).toMatchObject(EXPECTED[type]);
      expect(pub["x-rstuf-key-name"]).toBe(`k-${type}`);
      expect(JSON.stringify(pub)).not.toContain("PRIVATE");
      expect(computeKeyId(pub)).toBe(keyid);
      PublicKey.fromJSON(pub); // a valid TUF key

      const priv = createPrivateKey(pem);
      if (type === "ecdsa") expect(priv.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
      if (type === "rsa") expect(priv.asymmetricKeyDetails?.modulusLength).toBe(3072);

      for (const file of [out, `${out}.pub`]) {
        const info = testTerminal();
        await keyCommand(["info", file], info.term);
        expect(infoField(info.out, "keyid")).toBe(keyid);
        expect(infoField(info.out, "keytype")).toBe(EXPECTED[type].keytype);
        expect(infoField(info.out, "scheme")).toBe(EXPECTED[type].scheme);
        expect(infoField(info.out, "legacy keyid")).toMatch(/^[0-9a-f]{64}$/);
        expect(infoField(info.out, "legacy keyid")).not.toBe(keyid);
      }
    });
  }

  test("--name sets x-rstuf-key-name; default type is ed25519", async () => {
    const dir = tempDir();
    await keyCommand(
      ["generate", "--out", join(dir, "a"), "--name", "Alice (root)", "--no-passphrase"],
      testTerminal().term,
    );
    const pub = JSON.parse(readFileSync(join(dir, "a.pub"), "utf8"));
    expect(pub.keytype).toBe("ed25519");
    expect(pub["x-rstuf-key-name"]).toBe("Alice (root)");
  });

  test("key info shows the securesystemslib keyid the fixtures use", async () => {
    // (rsa is left out: securesystemslib strips the PEM's final newline for rsa keys, so its legacy keyid hashes other text)
    for (const name of ["root-ed25519", "root-ecdsa", "online-ecdsa", "offline-ed25519"]) {
      const t = testTerminal();
      await keyCommand(["info", fixtureKeyFile(name), "--json"], t.term);
      const info = JSON.parse(t.out.join("\n"));
      expect(info.legacy_keyid).toBe(fixtureKeyid(name));
      expect(JSON.stringify(info)).not.toContain("PRIVATE");
    }
  });

  test("refuses to overwrite either file unless --force; --force keeps mode 0600", async () => {
    const dir = tempDir();
    const out = join(dir, "k");
    await keyCommand(["generate", "--out", out, "--no-passphrase"], testTerminal().term);
    const before = readFileSync(out, "utf8");
    await expectUsageError(
      keyCommand(["generate", "--out", out, "--no-passphrase"], testTerminal().term),
      /already exists/,
    );
    expect(readFileSync(out, "utf8")).toBe(before);

    const only = join(dir, "only-pub");
    writeText(`${only}.pub`, "{}");
    await expectUsageError(
      keyCommand(["generate", "--out", only, "--no-passphrase"], testTerminal().term),
      /only-pub\.pub already exists/,
    );
    expect(existsSync(only)).toBe(false);

    const t = testTerminal();
    await keyCommand(["generate", "--out", out, "--force", "--no-passphrase"], t.term);
    expect(readFileSync(out, "utf8")).not.toBe(before);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(computeKeyId(JSON.parse(readFileSync(`${out}.pub`, "utf8")))).toBe(t.out[0]!);
  });

  test("bad flags are usage errors with a hint", async () => {
    const dir = tempDir();
    await expectUsageError(
      keyCommand(["generate", "--type", "dsa", "--out", join(dir, "x")], testTerminal().term),
      /--type dsa/,
    );
    await expectUsageError(keyCommand(["generate"], testTerminal().term), /--out is required/);
    await expectUsageError(
      keyCommand(["generate", "--out", join(dir, "x.pub")], testTerminal().term),
      /ends with \.pub/,
    );
    // A passphrase is never a command-line value.
    await expectUsageError(
      keyCommand(["generate", "--out", join(dir, "x"), "--passphrase", "s3cret"], testTerminal().term),
      /passphrase/,
    );
    await expectUsageError(keyCommand(["frobnicate"], testTerminal().term), /unknown subcommand/);
    await expectUsageError(keyCommand(["info", join(dir, "missing")], testTerminal().term), /missing: no such file/);
  });
});

describe("encrypted keys", () => {
  test("--passphrase-file encrypts (PBES2, AES-256-CBC); the right passphrase opens it, from a file or the environment", async () => {
    const dir = tempDir();
    const pass = writeText(join(dir, "pass"), "correct horse battery\n");
    const out = join(dir, "root1");
    const gen = testTerminal();
    await keyCommand(["generate", "--type", "ecdsa", "--out", out, "--passphrase-file", pass], gen.term);
    const pem = readFileSync(out, "utf8");
    expect(pem).toStartWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    // The trailing newline of the file is not part of the passphrase.
    const priv = createPrivateKey({ key: pem, format: "pem", passphrase: "correct horse battery" });
    expect(computeKeyId(JSON.parse(readFileSync(`${out}.pub`, "utf8")))).toBe(gen.out[0]!);
    expect(createPublicKey(priv).export({ format: "pem", type: "spki" }).toString()).toBe(
      JSON.parse(readFileSync(`${out}.pub`, "utf8")).keyval.public,
    );

    const viaFile = testTerminal();
    await keyCommand(["info", out, "--passphrase-file", pass], viaFile.term);
    expect(infoField(viaFile.out, "keyid")).toBe(gen.out[0]);
    expect(infoField(viaFile.out, "kind")).toBe("private key (encrypted)");

    const viaEnv = testTerminal({ env: { TUFBOX_KEY_PASSPHRASE: "correct horse battery" } });
    await keyCommand(["info", out], viaEnv.term);
    expect(infoField(viaEnv.out, "keyid")).toBe(gen.out[0]);
  });

  test("the PBKDF2 iteration count is ours (600,000), not OpenSSL's default 2,048", async () => {
    const dir = tempDir();
    const out = join(dir, "k");
    await keyCommand(["generate", "--out", out], testTerminal({ env: { TUFBOX_KEY_PASSPHRASE: "pw" } }).term);
    const der = Buffer.from(
      readFileSync(out, "utf8")
        .replace(/-----[A-Z ]+-----/g, "")
        .replace(/\s/g, ""),
      "base64",
    );
    // INTEGER 600000 = 02 03 09 27 c0
    expect(PBKDF2_ITERATIONS).toBe(600_000);
    expect(der.includes(Buffer.from("02030927c0", "hex"))).toBe(true);
  });

  test("wrong passphrase: a clean error naming the file", async () => {
    const dir = tempDir();
    const out = join(dir, "root1");
    await keyCommand(
      ["generate", "--out", out, "--passphrase-file", writeText(join(dir, "good"), "good")],
      testTerminal().term,
    );
    const err = await expectUsageError(
      keyCommand(["info", out, "--passphrase-file", writeText(join(dir, "bad"), "bad")], testTerminal().term),
      /wrong passphrase/,
    );
    expect(err.message).toContain(out);
    await expectUsageError(
      keyCommand(["info", out], testTerminal({ env: { TUFBOX_KEY_PASSPHRASE: "bad" } }).term),
      /root1: wrong passphrase/,
    );
    // Not a terminal and no passphrase: says how to give one.
    const none = await expectUsageError(keyCommand(["info", out], testTerminal().term), /encrypted and no passphrase/);
    expect(none.hint).toContain("--passphrase-file");
    // An empty passphrase file is refused rather than tried.
    await expectUsageError(
      keyCommand(["info", out, "--passphrase-file", writeText(join(dir, "empty"), "\n")], testTerminal().term),
      /is empty/,
    );
  });

  test("in a terminal: asked twice without echo when generating, asked again after a wrong one", async () => {
    const dir = tempDir();
    const out = join(dir, "k");
    const gen = testTerminal({ interactive: true, secrets: ["one", "two", "s3cret", "s3cret"] });
    await keyCommand(["generate", "--out", out], gen.term);
    expect(gen.info.join("\n")).toContain("differ");
    expect(readFileSync(out, "utf8")).toStartWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    createPrivateKey({ key: readFileSync(out, "utf8"), format: "pem", passphrase: "s3cret" });

    const info = testTerminal({ interactive: true, secrets: ["nope", "s3cret"] });
    await keyCommand(["info", out], info.term);
    expect(info.info.join("\n")).toContain("Wrong passphrase");
    expect(infoField(info.out, "keyid")).toBe(gen.out[0]);

    const giveUp = testTerminal({ interactive: true, secrets: ["a", "b", "c"] });
    await expectUsageError(keyCommand(["info", out], giveUp.term), /wrong passphrase/);

    // An empty answer does not mean "no encryption": it asks again, naming --no-passphrase.
    const empty = testTerminal({ interactive: true, secrets: ["", "pw", "pw"] });
    await keyCommand(["generate", "--out", join(dir, "again")], empty.term);
    expect(empty.info.join("\n")).toContain("--no-passphrase");
    expect(readFileSync(join(dir, "again"), "utf8")).toStartWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    const onlyEmpty = testTerminal({ interactive: true, secrets: ["", "", ""] });
    await expectUsageError(keyCommand(["generate", "--out", join(dir, "never")], onlyEmpty.term), /no passphrase/);
    expect(existsSync(join(dir, "never"))).toBe(false);
  });
});

describe("an unencrypted private key only with --no-passphrase", () => {
  test("no terminal, no passphrase source: refused, nothing written, the hint names --no-passphrase for the online key", async () => {
    const dir = tempDir();
    const err = await expectUsageError(
      keyCommand(["generate", "--out", join(dir, "root1")], testTerminal().term),
      /no passphrase to encrypt .*root1 with/,
    );
    expect(err.hint).toContain("--passphrase-file");
    expect(err.hint).toContain("--no-passphrase");
    expect(err.hint).toContain("online key");
    expect(existsSync(join(dir, "root1"))).toBe(false);
    expect(existsSync(join(dir, "root1.pub"))).toBe(false);
  });

  test("--no-passphrase writes it in clear and says so; it excludes --passphrase-file", async () => {
    const dir = tempDir();
    const t = testTerminal({ env: { TUFBOX_KEY_PASSPHRASE: "ignored" } });
    await keyCommand(["generate", "--out", join(dir, "online"), "--no-passphrase"], t.term);
    expect(readFileSync(join(dir, "online"), "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----");
    expect(t.info.join("\n")).toContain("NOT encrypted");
    await expectUsageError(
      keyCommand(
        ["generate", "--out", join(dir, "x"), "--no-passphrase", "--passphrase-file", writeText(join(dir, "p"), "pw")],
        testTerminal().term,
      ),
      /exclude each other/,
    );
  });
});

describe("as a subprocess", () => {
  test("generate prints only the keyid on stdout; info agrees; exit 0", async () => {
    const dir = tempDir();
    const gen = await runCli(["key", "generate", "--type", "ecdsa", "--out", "k", "--no-passphrase"], { cwd: dir });
    expect(gen.code).toBe(0);
    expect(gen.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(gen.stderr).toContain("NOT encrypted");
    const info = await runCli(["key", "info", "k.pub"], { cwd: dir });
    expect(info.code).toBe(0);
    expect(info.stdout).toContain(`keyid           ${gen.stdout.trim()}`);
  });

  test("wrong passphrase: exit ≠ 0, one message line naming the file plus a hint, no stack trace, no key material", async () => {
    const dir = tempDir();
    writeText(join(dir, "good"), "right");
    writeText(join(dir, "bad"), "wrong");
    const gen = await runCli(["key", "generate", "--out", "root1", "--passphrase-file", "good"], { cwd: dir });
    expect(gen.code).toBe(0);
    for (const args of [["--passphrase-file", "bad"], []]) {
      const r = await runCli(["key", "info", "root1", ...args], {
        cwd: dir,
        env: args.length === 0 ? { TUFBOX_KEY_PASSPHRASE: "wrong" } : {},
      });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe("tufbox key: root1: wrong passphrase (cannot decrypt the private key)");
      expect(lines[1]).toStartWith("hint: ");
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(r.stderr).not.toContain("PRIVATE KEY");
    }
  });

  test("key --help and tufbox help list the commands", async () => {
    const dir = tempDir();
    const help = await runCli(["key", "--help"], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("tufbox key generate --type ed25519|ecdsa|rsa");
    const usage = await runCli(["help"], { cwd: dir });
    for (const c of ["key", "ceremony", "sign", "root"]) expect(usage.stdout).toMatch(new RegExp(`^  ${c}\\s`, "m"));
  });
});
