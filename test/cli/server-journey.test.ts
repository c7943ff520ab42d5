/**
 * Issue 4's operator journey with the tufbox binary only, against a real
 * server on loopback: no keys → live repository → root rotations.
 *
 *   key generate ×3 (root1, root2 encrypted; online unencrypted, straight into
 *   the server's online-key directory) → ceremony (threshold 2, signed by
 *   root1) → tufbox bootstrap (waits for signatures) → tufbox sign --key root2
 *   --server → published → artifact add --server → tuf-js downloads it;
 *   root update --server --trusted 1.root.json adding root3 and rotating the
 *   online key, --send → tuf-js follows; a second update removing root1
 *   (pending: root3 signs with tufbox sign --server) → tuf-js follows again.
 *
 * Steps run in order and build on each other; some run as subprocesses
 * (`bun src/main.ts …`) to check exit codes and output streams.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { keyCommand } from "../../src/cli/key.ts";
import { ceremonyCommand } from "../../src/cli/ceremony.ts";
import { signCommand } from "../../src/cli/sign.ts";
import { rootCommand } from "../../src/cli/root-update.ts";
import { artifactCommand } from "../../src/cli/artifact.ts";
import { statusCommand } from "../../src/cli/status.ts";
import { parseRoot } from "../../src/tuf/metadata.ts";
import { verifyWithRoot } from "../../src/tuf/verify.ts";
import { startTestServer, TOKEN, type TestServer } from "../helpers/server.ts";
import { tufClient, type Client } from "../helpers/tufjs.ts";
import { hasStackTrace, readJson, runCli, tempDir, testTerminal } from "./helpers.ts";
import { serverTerm } from "./server-helpers.ts";

describe("operator journey: no keys → live repository → root rotations", () => {
  let server: TestServer;
  let dir: string;
  let onlineDir: string;
  let pass: string;
  let client: Client;
  const ids: Record<string, string> = {};
  const env = () => ({ TUFBOX_SERVER: server.url, TUFBOX_TOKEN: TOKEN });
  const sub = (args: string[]) => runCli(args, { cwd: dir, env: env() });

  beforeAll(async () => {
    dir = tempDir();
    onlineDir = join(dir, "server-online-keys");
    mkdirSync(onlineDir);
    pass = join(dir, "passphrase.txt");
    writeFileSync(pass, "correct horse battery staple\n");
    server = await startTestServer({ flags: { "online-key-dir": onlineDir } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function generate(name: string, out: string, encrypted: boolean): Promise<void> {
    const t = testTerminal();
    await keyCommand(
      [
        "generate",
        "--type",
        "ed25519",
        "--out",
        out,
        ...(encrypted ? ["--passphrase-file", pass] : ["--no-passphrase"]),
      ],
      t.term,
    );
    ids[name] = t.out[0]!;
    expect(ids[name]).toMatch(/^[0-9a-f]{64}$/);
  }

  test("key generate ×3: two encrypted root keys, the online key unencrypted in the server's online-key directory", async () => {
    await generate("root1", join(dir, "root1"), true);
    await generate("root2", join(dir, "root2"), true);
    await generate("online", join(onlineDir, "online"), false);
    expect(readFileSync(join(dir, "root1"), "utf8")).toContain("ENCRYPTED PRIVATE KEY");
    expect(readFileSync(join(onlineDir, "online"), "utf8")).toContain("BEGIN PRIVATE KEY");
  });

  test("ceremony: threshold 2, signed by root1 only", async () => {
    const t = testTerminal();
    await ceremonyCommand(
      [
        "--root-key",
        join(dir, "root1.pub"),
        "--root-key",
        join(dir, "root2.pub"),
        "--threshold",
        "2",
        "--online-key",
        join(onlineDir, "online.pub"),
        "--online-key-uri",
        "fn:online",
        "--bins",
        "4",
        "--sign",
        join(dir, "root1"),
        "--passphrase-file",
        pass,
        "--out",
        join(dir, "ceremony-payload.json"),
      ],
      t.term,
    );
    expect(t.out.join("\n")).toContain("1 of 2 signed, threshold 2 — 1 more needed");
  });

  test("tufbox bootstrap (subprocess): accepted, waits for signatures, exit 0 with the next command", async () => {
    const r = await sub(["bootstrap", "ceremony-payload.json"]);
    expect(r.stderr).not.toContain("hint: run with --log-level");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "bootstrap payload ceremony-payload.json: root v1 (this root): 1 of 2 signed, threshold 2 — 1 more needed",
    );
    expect(r.stdout).toContain("Bootstrap accepted.");
    expect(r.stdout).toContain(
      "Root v1 is pending signatures: the repository goes live once the root threshold is met",
    );
    expect(r.stdout).toContain(`tufbox sign --key THEIR_KEY --server ${server.url}`);
    // RSTUF reports the waiting bootstrap as a finished task (SUCCESS) with these details: the command
    // says it waits for signatures, and never prints SUCCESS for it.
    expect(r.stderr).toMatch(/task [0-9a-f]{32}: waiting for signatures/);
    expect(`${r.stdout}${r.stderr}`).not.toContain("SUCCESS");
    const state = await server.api("GET", "/api/v1/bootstrap");
    expect(state.body.data.state).toBe("signing");
    expect((await fetch(`${server.url}/metadata/1.root.json`)).status).toBe(404);
  });

  test("tufbox sign --key root2 --server --yes: shows the pending root, signs, the bootstrap finishes", async () => {
    const t = serverTerm(server.url, { interactive: true });
    await signCommand(["--key", join(dir, "root2"), "--passphrase-file", pass, "--yes"], t.term);
    const text = t.out.join("\n");
    expect(text).toContain("root v1 — bootstrap payload");
    expect(text).toContain("new repository: root v1 (bootstrap)");
    expect(text).toContain(`signed root v1 as ${ids.root2}`);
    expect(text).toContain("root v1 (this root): 2 of 2 signed, threshold 2 — met");
    expect(text).toContain("Bootstrap Finished");
    expect(t.asked).toEqual([]); // --yes: no question
    expect((await server.api("GET", "/api/v1/bootstrap")).body.data.state).toBe("finished");
    // The operator keeps the published root v1 as the root they trust.
    const bytes = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    writeFileSync(join(dir, "1.root.json"), bytes);
    const root = parseRoot(JSON.parse(new TextDecoder().decode(bytes)));
    expect(verifyWithRoot(root, root.signed, "root")).toMatchObject({ verified: true, signed: [ids.root1, ids.root2] });
    client = tufClient(server.url, join(dir, "client"), bytes);
  });

  test("tufbox artifact add --server (subprocess, --json) → tuf-js downloads it", async () => {
    const file = join(dir, "app-1.0.tar.gz");
    writeFileSync(file, "the first release\n");
    // The bytes are served from the server's targets directory.
    const served = join(server.app.config.targets.dir, "releases", "app-1.0.tar.gz");
    mkdirSync(dirname(served), { recursive: true });
    copyFileSync(file, served);
    const r = await sub(["artifact", "add", "app-1.0.tar.gz", "--path", "releases/app-1.0.tar.gz", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.state).toBe("SUCCESS");
    expect(doc.outcome).toBe("finished");
    expect(doc.result.details.added_artifacts).toEqual(["releases/app-1.0.tar.gz"]);
    expect(doc.artifacts[0].info.length).toBe(18);
    expect(doc.artifacts[0].info.hashes.sha256).toBe(
      new Bun.CryptoHasher("sha256").update("the first release\n").digest("hex"),
    );
    expect(doc.artifacts[0].info.hashes.sha512).toBe(
      new Bun.CryptoHasher("sha512").update("the first release\n").digest("hex"),
    );
    await client.refresh();
    expect(new TextDecoder().decode(await client.download("releases/app-1.0.tar.gz"))).toBe("the first release\n");
  });

  test("tufbox status --server: root v1, thresholds, the online key, 4 bins, nothing pending", async () => {
    const t = serverTerm(server.url);
    await statusCommand([], t.term);
    const text = t.out.join("\n");
    expect(text).toContain("bootstrap     finished");
    expect(text).toMatch(/root\s+v1\s+\S+Z\s+in 36[45] days\s+threshold 2 of 2/);
    expect(text).toMatch(/timestamp\s+v\d+\s+\S+Z\s+in \d+ h\s+threshold 1 of 1 \(online key\)/);
    expect(text).toContain(`online key    ${ids.online}`);
    expect(text).toContain("bins          4 hash bins");
    expect(text).toContain("pending signatures: none");
  });

  test("root update --server --trusted 1.root.json: add root3, rotate the online key, --send → published; tuf-js follows", async () => {
    await generate("root3", join(dir, "root3"), true);
    // The new online key goes to the server first: it signs as soon as root v2 is published.
    await generate("online2", join(onlineDir, "online2"), false);
    const r = await sub([
      "root",
      "update",
      "--trusted",
      "1.root.json",
      "--add-key",
      "root3.pub",
      "--online-key",
      join(onlineDir, "online2.pub"),
      "--online-key-uri",
      "fn:online2",
      "--sign",
      "root1",
      "--sign",
      "root2",
      "--passphrase-file",
      pass,
      "--send",
    ]);
    expect(r.stderr).toBe(r.stderr.replace("hint: run with", "")); // no generic failure
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `current root v1 from ${server.url}/metadata/root.json: verified from 1.root.json (root v1)`,
    );
    expect(r.stdout).toContain(`+ root key ${ids.root3}`);
    expect(r.stdout).toContain("root v2 (this root): 2 of 3 signed, threshold 2 — met");
    expect(r.stdout).toContain("root v1 (trusted): 2 of 2 signed, threshold 2 — met");
    expect(r.stdout).toContain("Metadata update accepted.");
    expect(r.stdout).toContain("root v2 published");
    expect(r.stdout + r.stderr).not.toContain("PRIVATE KEY");

    await client.refresh();
    expect(client.version("root")).toBe(2);
    const ts = (await (await fetch(`${server.url}/metadata/timestamp.json`)).json()) as {
      signatures: { keyid: string }[];
    };
    expect(ts.signatures.map((s) => s.keyid)).toEqual([ids.online2!]);
    expect(new TextDecoder().decode(await client.download("releases/app-1.0.tar.gz"))).toBe("the first release\n");
  });

  test("a second rotation removes root1: pending until root3 signs with tufbox sign --server --trusted ceremony-payload.json; tuf-js follows 1 → 2 → 3", async () => {
    const t = serverTerm(server.url);
    await rootCommand(
      [
        "update",
        "--trusted",
        join(dir, "1.root.json"),
        "--remove-key",
        ids.root1!,
        "--sign",
        join(dir, "root1"),
        "--sign",
        join(dir, "root2"),
        "--passphrase-file",
        pass,
        "--send",
      ],
      t.term,
    );
    let text = t.out.join("\n");
    expect(text).toContain("verified from");
    expect(text).toContain("through 2.root.json");
    expect(text).toContain(`- root key ${ids.root1}`);
    expect(text).toContain("root v3 (this root): 1 of 2 signed, threshold 2 — 1 more needed");
    expect(text).toContain("Root v3 is pending signatures");
    expect(text).toContain(`tufbox sign --key THEIR_KEY --server ${server.url}`);
    expect((await fetch(`${server.url}/metadata/3.root.json`)).status).toBe(404);

    const st = serverTerm(server.url);
    await statusCommand([], st.term);
    expect(st.out.join("\n")).toContain("root v3: 1 of 2 signed, threshold 2; root v2 (trusted): 2 of 3, threshold 2");

    const s = serverTerm(server.url);
    // The ceremony payload carries the same root v1: an operator with only tufbox's files can start the chain from it.
    await signCommand(
      ["--key", join(dir, "root3"), "--passphrase-file", pass, "--trusted", join(dir, "ceremony-payload.json")],
      s.term,
    );
    text = s.out.join("\n");
    expect(text).toContain("trusted root v2: verified from");
    expect(text).toContain("root v3 — metadata-update payload (trusted: root v2)");
    expect(text).toContain("root v3 (this root): 2 of 2 signed, threshold 2 — met");
    expect(text).toContain("Metadata update finished");

    // More artifacts after the rotations, signed with the new online key.
    const file = join(dir, "app-2.0.tar.gz");
    writeFileSync(file, "the second release\n");
    copyFileSync(file, join(server.app.config.targets.dir, "releases", "app-2.0.tar.gz"));
    const a = serverTerm(server.url);
    await artifactCommand(["add", file, "--prefix", "releases"], a.term);
    expect(a.out.join("\n")).toContain("added: releases/app-2.0.tar.gz");

    await client.refresh();
    expect(client.version("root")).toBe(3);
    expect(new TextDecoder().decode(await client.download("releases/app-1.0.tar.gz"))).toBe("the first release\n");
    expect(new TextDecoder().decode(await client.download("releases/app-2.0.tar.gz"))).toBe("the second release\n");

    // A fresh client from the operator's 1.root.json walks the whole chain too.
    const fresh = tufClient(server.url, join(dir, "fresh-client"), readFileSync(join(dir, "1.root.json")));
    await fresh.refresh();
    expect(fresh.version("root")).toBe(3);
    expect(await fresh.download("releases/app-2.0.tar.gz")).toBeDefined();
  });

  test("status --json (subprocess) is one JSON document; no stack traces anywhere", async () => {
    const r = await sub(["status", "--json"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.roles.root).toMatchObject({ version: 3, threshold: 2, keyids: [ids.root2, ids.root3] });
    expect(s.online_keyid).toBe(ids.online2);
    expect(s.bins).toBe(4);
    expect(s.pending).toEqual([]);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(readJson(join(dir, "ceremony-payload.json")).metadata.root.signed.version).toBe(1);
  });
});
