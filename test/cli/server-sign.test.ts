/**
 * Signing sessions and root chains against a server:
 * - a delegated role signed by an offline key (RSTUF fixture with custom
 *   delegations): review with targets added since the published version,
 *   --no-wait, `task --wait` until the signer signs, wrong keys, declining;
 * - `send sign` / `send update` with files, `sign --server` declining;
 * - `root update --server` and `sign --server --trusted` refusing roots that
 *   cannot be reached from the trusted root (a forged server included).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { copyFileSync, writeFileSync } from "node:fs";
import { signCommand } from "../../src/cli/sign.ts";
import { artifactCommand } from "../../src/cli/artifact.ts";
import { taskCommand } from "../../src/cli/task.ts";
import { statusCommand } from "../../src/cli/status.ts";
import { sendCommand } from "../../src/cli/send.ts";
import { rootCommand } from "../../src/cli/root-update.ts";
import { keyCommand } from "../../src/cli/key.ts";
import { ceremonyCommand } from "../../src/cli/ceremony.ts";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { computeKeyId } from "../../src/tuf/keys.ts";
import { generatePrivateKey, publicKeyOf, signerAs } from "../../src/offline/key-files.ts";
import { fixture } from "../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer } from "../helpers/server.ts";
import { fixtureKeyFile, fixtureKeyid, fixturePath, readJson, runCli, tempDir, testTerminal } from "./helpers.ts";
import { serverError, serverTerm, usageError } from "./server-helpers.ts";

const OFFLINE = fixtureKeyid("offline-ed25519");
const ED = fixtureKeyid("root-ed25519");
const EC = fixtureKeyid("root-ecdsa");

describe("a delegated role signed by an offline key", () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir();
    server = await startTestServer();
    const r = await server.api("POST", "/api/v1/bootstrap", fixture("bootstrap-delegations.json"));
    expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  });
  afterAll(async () => {
    await server?.stop();
  });

  function artifact(name: string, content: string): string {
    const f = join(dir, name);
    writeFileSync(f, content);
    return f;
  }

  test("releases v1 (empty, pending since the bootstrap): reviewed, signed, published", async () => {
    const t = serverTerm(server.url);
    await signCommand(["--role", "releases", "--key", fixtureKeyFile("offline-ed25519")], t.term);
    const text = t.out.join("\n");
    expect(text).toContain(`releases v1 — delegated targets role, pending signatures on ${server.url}`);
    expect(text).toContain("new role: first version");
    expect(text).toContain("targets      0");
    expect(text).toContain("delegation   paths releases/* releases/*/*, terminating");
    expect(text).toContain(
      `signers      threshold 1 of 1 (published targets v1):\n                 ${OFFLINE} "Release team" (ed25519)`,
    );
    expect(text).toContain("releases v1: 0 of 1 signed, threshold 1 — 1 more needed");
    expect(text).toContain("releases v1: 1 of 1 signed, threshold 1 — met");
    expect(text).toContain("Role releases signing complete");
    expect((await fetch(`${server.url}/metadata/1.releases.json`)).status).toBe(200);
  });

  test("artifact add --no-wait for an offline role: exit 0, says it waits for signatures", async () => {
    const t = serverTerm(server.url);
    await artifactCommand(
      ["add", artifact("app-1.0.tar.gz", "one"), "--prefix", "releases", "--no-wait", "--json"],
      t.term,
    );
    const doc = JSON.parse(t.out.join("\n"));
    expect(doc).toMatchObject({
      state: "RUNNING",
      outcome: "waiting",
      result: { details: { update: "releases v2 is pending signatures" } },
    });
    expect(t.info.join("\n")).toContain("waiting for offline signatures; follow it with: tufbox task");
  });

  test("task --wait keeps waiting while RUNNING; the signer's review shows what was added; then the task ends", async () => {
    const t1 = serverTerm(server.url);
    await artifactCommand(
      ["add", artifact("app-1.1.tar.gz", "one point one"), "--path", "releases/v1/app-1.1.tar.gz", "--no-wait"],
      t1.term,
    );
    const id = /task ([0-9a-f]{32})/.exec(t1.out.join("\n"))![1]!;
    const w = serverTerm(server.url);
    let finished = false;
    const waiting = taskCommand([id, "--wait"], w.term).then(() => (finished = true));
    // Let it poll a few times: it must still be waiting.
    for (let i = 0; i < 5; i++) await server.api("GET", `/api/v1/task?task_id=${id}`);
    await Bun.sleep(50);
    expect(finished).toBe(false);

    const s = serverTerm(server.url);
    await signCommand(["--role", "releases", "--key", fixtureKeyFile("offline-ed25519")], s.term);
    const text = s.out.join("\n");
    expect(text).toContain("releases v2 — delegated targets role");
    expect(text).toContain("targets      2 (published v1: 0)");
    expect(text).toContain("changes from published v1: 2 added, 0 removed, 0 changed");
    expect(text).toMatch(/\+ releases\/app-1\.0\.tar\.gz \(3 bytes, sha256 [0-9a-f]{16}…\)/);
    expect(text).toContain("+ releases/v1/app-1.1.tar.gz (13 bytes");
    expect(text).toContain("Role releases signing complete");

    await waiting;
    expect(w.info.join("\n")).toContain("waiting for signatures: releases v2 is pending signatures");
    expect(w.out.join("\n")).toContain(`task ${id}: SUCCESS (add_artifacts)`);
    expect(w.out.join("\n")).toContain("added: releases/v1/app-1.1.tar.gz");
  });

  test("a removal shows as removed; a key that is not the role's is refused; declining sends nothing", async () => {
    const t = serverTerm(server.url);
    await artifactCommand(["delete", "releases/app-1.0.tar.gz", "--no-wait"], t.term);
    const wrong = await usageError(
      signCommand(["--role", "releases", "--key", fixtureKeyFile("root-ed25519")], serverTerm(server.url).term),
      /key [0-9a-f]{64} \(.*root-ed25519\.pem\) is not a signing key of releases/,
    );
    expect(wrong.hint).toBe(`releases is signed by: ${OFFLINE} "Release team" (ed25519)`);
    const no = serverTerm(server.url, { interactive: true, answers: ["n"] });
    await usageError(
      signCommand(["--role", "releases", "--key", fixtureKeyFile("offline-ed25519")], no.term),
      /declined/,
    );
    expect(no.asked[0]).toBe(`Sign releases v3 with key ${OFFLINE} (${fixtureKeyFile("offline-ed25519")})? [y/N]`);
    expect(no.out.join("\n")).toContain("- releases/app-1.0.tar.gz");
    expect(no.out.join("\n")).toContain("changes from published v2: 0 added, 1 removed, 0 changed");
    const pending = await server.api("GET", "/api/v1/metadata/sign");
    expect(pending.body.data.metadata.releases.signatures).toEqual([]);

    const st = serverTerm(server.url);
    await statusCommand([], st.term);
    const text = st.out.join("\n");
    expect(text).toContain("delegations   2 role(s):");
    expect(text).toContain("  nightly: online key; paths nightly/*");
    expect(text).toContain("  releases: 1 of 1 offline key(s); paths releases/* releases/*/*");
    expect(text).toContain("  releases v3: 0 of 1 signed, threshold 1");
    expect(text).toContain(`    sign: tufbox sign --key THEIR_KEY --role releases --server ${server.url}`);

    // --role that is not pending / root when only a delegated role is.
    await serverError(
      signCommand(["--role", "nightly", "--key", fixtureKeyFile("offline-ed25519")], serverTerm(server.url).term),
      /nightly is not pending signatures/,
    );
    const e = await serverError(
      signCommand(["--key", fixtureKeyFile("root-ed25519")], serverTerm(server.url).term),
      /root is not pending signatures/,
    );
    expect(e.hint).toContain("pending: releases");
  });

  test("a path no role covers is not added: exit 1 (subprocess)", async () => {
    const f = artifact("mixed.bin", "m");
    const r = await runCli(["artifact", "add", f, "--prefix", "elsewhere"], {
      cwd: dir,
      env: { TUFBOX_SERVER: server.url, TUFBOX_TOKEN: TOKEN },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/adding artifacts failed \(task [0-9a-f]{32} ERRORED\): Artifact\(s\) Not Added/);
    const ok = artifact("n.bin", "n");
    copyFileSync(ok, join(dir, "n2.bin"));
    const api = await runCli(["artifact", "add", ok, join(dir, "n2.bin"), "--prefix", "nightly", "--json"], {
      cwd: dir,
      env: { TUFBOX_SERVER: server.url, TUFBOX_TOKEN: TOKEN },
    });
    expect(api.code).toBe(0);
    expect(JSON.parse(api.stdout).result.details.added_artifacts).toEqual(["nightly/n.bin", "nightly/n2.bin"]);
  });
});

describe("root signing sessions and root chains", () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir();
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("bootstrap with 1 of 2 → sign --server declined (nothing sent) → send sign FILE finishes it", async () => {
    const payload = join(dir, "payload.json");
    copyFileSync(fixturePath("bootstrap-bins-1-of-2-signatures.json"), payload);
    const b = serverTerm(server.url);
    await sendCommand(["bootstrap", payload], b.term);
    expect(b.out.join("\n")).toContain("Root v1 is pending signatures");

    const no = serverTerm(server.url, { interactive: true, answers: ["n"] });
    await usageError(signCommand(["--key", fixtureKeyFile("root-ecdsa")], no.term), /declined/);
    expect(no.asked[0]).toMatch(/^Sign root v1 with key /);
    expect((await server.api("GET", "/api/v1/bootstrap")).body.data.state).toBe("signing");

    // The signature made offline, sent as a file.
    await signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--in", payload], testTerminal().term);
    const sig = readJson(payload).metadata.root.signatures.find((s: { keyid: string }) => s.keyid === EC);
    const sigFile = join(dir, "sig.json");
    writeFileSync(sigFile, JSON.stringify({ role: "root", signature: sig }));
    const t = serverTerm(server.url);
    await sendCommand(["sign", sigFile, "--json"], t.term);
    expect(JSON.parse(t.out.join("\n"))).toMatchObject({
      state: "SUCCESS",
      outcome: "finished",
      result: { details: { bootstrap: "Bootstrap Finished" } },
    });
    expect(t.info.join("\n")).toContain("Bootstrap Finished");
  });

  test("send update: root v2 (both signatures) is published", async () => {
    const t = serverTerm(server.url);
    await sendCommand(["update", fixturePath("metadata-update-root-v2-online-ecdsa.json")], t.term);
    expect(t.out.join("\n")).toContain("root v2 published");
  });

  let forgedRoot: string;
  test("root update --server refuses a root it cannot reach from --trusted", async () => {
    // A root v1 of other keys: the server's v2 does not follow from it.
    const k = testTerminal();
    for (const n of ["a", "b"]) await keyCommand(["generate", "--out", join(dir, n), "--no-passphrase"], k.term);
    await ceremonyCommand(
      [
        "--root-key",
        join(dir, "a.pub"),
        "--online-key",
        join(dir, "b.pub"),
        "--threshold",
        "1",
        "--sign",
        join(dir, "a"),
        "--out",
        join(dir, "forged.json"),
      ],
      testTerminal().term,
    );
    forgedRoot = join(dir, "forged.json");
    const base = [
      "update",
      "--server",
      server.url,
      "--sign",
      fixtureKeyFile("root-ed25519"),
      "--out",
      join(dir, "never.json"),
    ];
    await serverError(
      rootCommand([...base, "--trusted", forgedRoot], testTerminal().term),
      /refusing the server's root v2: root v2 has 0 valid signature\(s\) of root v1's keys; its threshold is 1/,
    );

    // Same version, other content.
    const v2 = readJson(fixturePath("metadata-update-root-v2-online-ecdsa.json"));
    v2.metadata.root.signed.expires = "2035-01-01T00:00:00Z";
    const other = join(dir, "other-v2.json");
    writeFileSync(other, JSON.stringify(v2));
    await serverError(
      rootCommand([...base, "--trusted", other], testTerminal().term),
      /it is not the trusted root v2 \(.*other-v2\.json\), though it has the same version/,
    );

    // Newer than the server's.
    await serverError(
      rootCommand(
        [...base, "--trusted", fixturePath("metadata-update-root-v3-online-rsa-1-of-2.json")],
        testTerminal().term,
      ),
      /it is older than the trusted root v3/,
    );
  });

  test("a forged server whose root v2 is signed only by its own new keys is refused", async () => {
    const v1 = readJson(fixturePath("bootstrap-bins.json")).metadata.root;
    const key = generatePrivateKey("ed25519");
    const pub = publicKeyOf(key);
    const keyid = computeKeyId(pub);
    const signed = structuredClone(v1.signed);
    signed.version = 2;
    signed.keys = { ...signed.keys, [keyid]: pub };
    signed.roles.root = { keyids: [keyid], threshold: 1 };
    const v2 = { signed, signatures: [{ keyid, sig: signerAs(key, keyid, pub).sign(utf8(canonicalJson(signed))) }] };
    const fake = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/metadata/root.json" || path === "/metadata/2.root.json") return Response.json(v2);
        if (path === "/metadata/1.root.json") return Response.json(v1);
        return new Response("{}", { status: 404 });
      },
    });
    try {
      const err = await serverError(
        rootCommand(
          [
            "update",
            "--server",
            `http://127.0.0.1:${fake.port}`,
            "--trusted",
            fixturePath("bootstrap-bins.json"),
            "--sign",
            fixtureKeyFile("root-ed25519"),
          ],
          testTerminal().term,
        ),
        /refusing the server's root v2: root v2 has 0 valid signature\(s\) of root v1's keys; its threshold is 2/,
      );
      expect(err.hint).toContain("do not build on it");
    } finally {
      await fake.stop(true);
    }
  });

  test("root update --server --trusted (the bootstrap payload) builds v3 on the verified v2 and writes --out", async () => {
    const out = join(dir, "v3.json");
    const t = testTerminal();
    await rootCommand(
      [
        "update",
        "--server",
        server.url,
        "--trusted",
        fixturePath("bootstrap-bins.json"),
        "--expires",
        "30",
        "--sign",
        fixtureKeyFile("root-ed25519"),
        "--out",
        out,
      ],
      t.term,
    );
    const text = t.out.join("\n");
    expect(text).toContain(
      `current root v2 from ${server.url}/metadata/root.json: verified from ${fixturePath("bootstrap-bins.json")} (root v1) through 2.root.json`,
    );
    expect(text).toContain(`wrote ${out}`);
    expect(text).toContain(`tufbox send update ${out} --server ${server.url}`);
    expect(readJson(out).metadata.root.signed.version).toBe(3);
  });

  test("a pending root v3: sign --server --trusted refuses a forged trusted root, signs with the real one", async () => {
    const t = serverTerm(server.url);
    await sendCommand(["update", fixturePath("metadata-update-root-v3-online-rsa-1-of-2.json")], t.term);
    expect(t.out.join("\n")).toContain("Root v3 is pending signatures");
    await serverError(
      signCommand(["--key", fixtureKeyFile("root-ecdsa"), "--trusted", forgedRoot], serverTerm(server.url).term),
      /refusing the server's root v2/,
    );
    const s = serverTerm(server.url);
    await signCommand(
      ["--key", fixtureKeyFile("root-ecdsa"), "--trusted", fixturePath("bootstrap-bins.json"), "--json"],
      s.term,
    );
    const doc = JSON.parse(s.out.join("\n"));
    expect(doc).toMatchObject({
      role: "root",
      version: 3,
      keyids: [EC],
      outcome: "finished",
      message: "Metadata update finished",
    });
    expect(s.info.join("\n")).toContain("trusted root v2: verified from");
    expect(s.info.join("\n")).toContain("root v3 (this root): 2 of 2 signed");
    expect((await fetch(`${server.url}/metadata/3.root.json`)).status).toBe(200);
    void ED;
  });
});
