/**
 * `tufbox validate` against real repositories: a running tufbox (--server),
 * its data directory (--data-dir), and static copies of it (an export served
 * by a plain file server, --server and --metadata-url) into which one defect
 * at a time is put with real files: a tampered signature, a document holding
 * the wrong version (re-signed with the online key, so only the version is
 * wrong), a snapshot whose bytes no longer match the timestamp, a missing
 * artifact, a root chain link without signatures, an oversize bin (validly
 * signed), and metadata expiring within --horizon. Each is reported under its
 * kind, and the command exits 1; a clean repository exits 0. Finally tuf-js
 * downloads every artifact from the repository validate accepted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateCommand } from "../../src/cli/validate.ts";
import { exportCommand } from "../../src/cli/export.ts";
import { ServerError } from "../../src/cli/client.ts";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { serializeEnvelope } from "../../src/tuf/document.ts";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { fixture, fixtureKey, ONLINE_KEY_DIR } from "../helpers/fixtures.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { startTestServer, tempDir } from "../helpers/server.ts";
import { runCli, testTerminal } from "../cli/helpers.ts";
import { artifact, publish, startUpstream, type Upstream } from "../mirror/helpers.ts";

const ONLINE_KEYID = "c371763fe98b6131d362e7a9acbc717cef14d79572ea9478fa8d2fd653e260a8";

/** A plain static file server over `dir` (GET and HEAD), as nginx or a bucket would serve an export. */
function staticServer(dir: string) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("no", { status: 400 });
      const file = Bun.file(join(dir, path));
      return (await file.exists()) ? new Response(file) : new Response("not found", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

async function validate(args: string[]): Promise<{ code: number; text: string; json?: any }> {
  const t = testTerminal();
  let code = 0;
  try {
    await validateCommand(args, t.term);
  } catch (err) {
    if (!(err instanceof ServerError)) throw err;
    code = 1;
  }
  const json = args.includes("--json") ? JSON.parse(t.out.join("\n")) : undefined;
  return { code, text: t.text(), json };
}

function readJson(path: string): any {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Re-sign `signed` with the online key and write it, the way tufbox writes documents. */
function writeSigned(path: string, signed: any): void {
  const signer = signerFromPem(readFileSync(join(ONLINE_KEY_DIR, ONLINE_KEYID), "utf8"), { keyid: ONLINE_KEYID });
  const text = canonicalJson(signed);
  writeFileSync(path, serializeEnvelope(text, [{ keyid: signer.keyid, sig: signer.sign(utf8(text)) }]));
}

describe("tufbox validate", () => {
  const work = tempDir("tufbox-validate-");
  let up: Upstream;
  let rootFile: string;
  let pristine: string;
  const a1 = artifact("releases/app-1.0.tgz", "one");
  const a2 = artifact("docs/notes.txt", "notes");
  const servers: { stop(): void }[] = [];

  /** A fresh copy of the exported repository, changed by `tamper`, served statically. */
  function tamperedCopy(name: string, tamper: (dir: string, current: (role: string) => string) => void): string {
    const dir = join(work, name);
    cpSync(pristine, dir, { recursive: true });
    const meta = join(dir, "metadata");
    const ts = readJson(join(meta, "timestamp.json"));
    const snap = readJson(join(meta, `${ts.signed.meta["snapshot.json"].version}.snapshot.json`));
    const current = (role: string) =>
      role === "snapshot"
        ? join(meta, `${snap.signed.version}.snapshot.json`)
        : join(meta, `${snap.signed.meta[`${role}.json`].version}.${role}.json`);
    tamper(dir, current);
    const s = staticServer(dir);
    servers.push(s);
    return s.url;
  }

  /** The bin that lists a1 (so a bin with content gets the defect). */
  function binOf(current: (role: string) => string): string {
    for (let i = 0; i < 16; i++) {
      const role = `bins-${i.toString(16)}`;
      if (readJson(current(role)).signed.targets[a1.path]) return role;
    }
    throw new Error("no bin lists a1");
  }

  beforeAll(async () => {
    up = await startUpstream(16, join(work, "data"));
    await publish(up, [a1]);
    await publish(up, [a2]);
    rootFile = join(work, "1.root.json");
    writeFileSync(rootFile, up.trustedRoot);
    pristine = join(work, "pristine");
    const t = testTerminal();
    await exportCommand(["--server", up.url, "--root", rootFile, "--out", pristine, "--targets", "**"], t.term);
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) s.stop();
    await up?.server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("a clean running repository validates (--server, text and --json), every bin and artifact checked", async () => {
    const r = await validate(["--server", up.url, "--root", rootFile]);
    expect(r.text).toContain("OK: no problems");
    expect(r.code).toBe(0);
    const j = await validate(["--server", up.url, "--root", rootFile, "--json"]);
    expect(j.code).toBe(0);
    expect(j.json.ok).toBe(true);
    expect(j.json.problems).toEqual([]);
    expect(j.json.delegated_roles.verified).toBe(16);
    expect(j.json.artifacts).toEqual({ checked: true, listed: 2, present: 2, missing: 0 });
    expect(j.json.timestamp.version).toBeGreaterThanOrEqual(3);
  });

  test("a clean data directory validates (--data-dir: store, content index, targets directory)", async () => {
    const j = await validate(["--data-dir", up.server.dataDir, "--root", rootFile, "--json"]);
    expect(j.json.problems).toEqual([]);
    expect(j.code).toBe(0);
    expect(j.json.artifacts.present).toBe(2);
  });

  test("a static copy validates through --metadata-url (targets from the sibling targets/)", async () => {
    const url = tamperedCopy("clean", () => {});
    const j = await validate(["--metadata-url", `${url}/metadata`, "--root", rootFile, "--json"]);
    expect(j.json.problems).toEqual([]);
    expect(j.code).toBe(0);
    // Without the convenience root.json (many static repositories), the chain is walked as a client does.
    const bare = tamperedCopy("no-root-json", (dir) => unlinkSync(join(dir, "metadata", "root.json")));
    const k = await validate(["--metadata-url", `${bare}/metadata`, "--root", rootFile, "--json"]);
    expect(k.json.problems).toEqual([]);
    expect(k.json.root.version).toBe(1);
  });

  test("a tampered signature on a bin is a signature problem", async () => {
    const url = tamperedCopy("sig", (_, current) => {
      const file = current(binOf(current));
      const doc = readJson(file);
      const sig: string = doc.signatures[0].sig;
      doc.signatures[0].sig = (sig[0] === "0" ? "1" : "0") + sig.slice(1);
      writeFileSync(file, JSON.stringify(doc));
    });
    const j = await validate(["--server", url, "--root", rootFile, "--json"]);
    expect(j.code).toBe(1);
    expect(j.json.problem_counts).toEqual({ signature: 1 });
    expect(j.json.problems[0].message).toMatch(/bins-[0-9a-f]\.json has 0 valid signature\(s\)/);
  });

  test("a bin holding another version than the snapshot lists (validly signed) is a version problem", async () => {
    const url = tamperedCopy("version", (_, current) => {
      const file = current(binOf(current));
      const doc = readJson(file);
      doc.signed.version += 1;
      writeSigned(file, doc.signed);
    });
    const r = await validate(["--server", url, "--root", rootFile]);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/\[version\] \d+\.bins-[0-9a-f]\.json holds version \d+; the snapshot lists \d+/);
    expect(r.text).toContain("1 PROBLEM(S)");
  });

  test("a snapshot whose bytes differ from what the timestamp lists is a hash problem", async () => {
    const url = tamperedCopy("hash", (_, current) => {
      const file = current("snapshot");
      writeFileSync(file, `${readFileSync(file, "utf8")}\n`);
    });
    const j = await validate(["--server", url, "--root", rootFile, "--json"]);
    expect(j.code).toBe(1);
    expect(j.json.problem_counts).toEqual({ hash: 1 });
    expect(j.json.problems[0].message).toMatch(/snapshot\.json: length \d+ differs from the signed length/);
  });

  test("an artifact whose bytes are gone is an artifact problem (static copy, running server, data directory)", async () => {
    const url = tamperedCopy("artifact", (dir) => {
      for (const h of Object.values(a2.info.hashes)) unlinkSync(join(dir, "targets", "docs", `${h}.notes.txt`));
    });
    const j = await validate(["--server", url, "--root", rootFile, "--json"]);
    expect(j.code).toBe(1);
    expect(j.json.problem_counts).toEqual({ artifact: 1 });
    expect(j.json.problems[0].file).toBe(a2.path);
    expect(j.json.artifacts).toEqual({ checked: true, listed: 2, present: 1, missing: 1 });
    // --skip-artifacts: the metadata alone is clean.
    expect((await validate(["--server", url, "--root", rootFile, "--skip-artifacts"])).code).toBe(0);

    const onDisk = join(up.server.app.config.targets.dir, a1.path);
    const saved = readFileSync(onDisk);
    unlinkSync(onDisk);
    try {
      const live = await validate(["--server", up.url, "--root", rootFile, "--json"]);
      expect(live.json.problem_counts).toEqual({ artifact: 1 });
      expect(live.json.problems[0].message).toContain("answers 404");
      const dir = await validate(["--data-dir", up.server.dataDir, "--root", rootFile, "--json"]);
      expect(dir.json.problem_counts).toEqual({ artifact: 1 });
      expect(dir.json.problems[0].message).toContain("neither the content storage nor the targets directory");
    } finally {
      writeFileSync(onDisk, saved);
    }
  });

  test("a rotated root (v2 signed by v1's root keys and its own) is walked: a clean chain", async () => {
    const url = tamperedCopy("root-ok", (dir) => {
      const root = readJson(join(dir, "metadata", "1.root.json"));
      root.signed.version = 2;
      const text = canonicalJson(root.signed);
      const signatures = ["root-ed25519", "root-ecdsa"].map((name) => {
        const k = fixtureKey(name);
        return { keyid: k.keyid, sig: signerFromPem(k.pem, { keyid: k.keyid }).sign(utf8(text)) };
      });
      const bytes = serializeEnvelope(text, signatures);
      writeFileSync(join(dir, "metadata", "2.root.json"), bytes);
      writeFileSync(join(dir, "metadata", "root.json"), bytes);
    });
    const j = await validate(["--server", url, "--root", rootFile, "--json"]);
    expect(j.json.problems).toEqual([]);
    expect(j.json.root_chain).toEqual([2]);
    expect(j.json.root.version).toBe(2);
  });

  test("a root v2 without root signatures breaks the chain: a root_chain problem", async () => {
    const url = tamperedCopy("root", (dir) => {
      const root = readJson(join(dir, "metadata", "1.root.json"));
      root.signed.version = 2;
      root.signatures = [];
      writeFileSync(join(dir, "metadata", "2.root.json"), JSON.stringify(root));
      writeFileSync(join(dir, "metadata", "root.json"), JSON.stringify(root));
    });
    const j = await validate(["--server", url, "--root", rootFile, "--json"]);
    expect(j.code).toBe(1);
    expect(j.json.problem_counts.root_chain).toBe(1);
    expect(j.json.problems[0].message).toMatch(
      /root v2 has 0 valid signature\(s\) of root v1's keys; its threshold is 2/,
    );
  });

  test("a validly signed bin over the 5,000,000-byte client cap is a size problem", async () => {
    const url = tamperedCopy("oversize", (_, current) => {
      const file = current(binOf(current));
      const doc = readJson(file);
      doc.signed.targets[a1.path].custom = { padding: "x".repeat(5_000_000) };
      writeSigned(file, doc.signed);
    });
    const j = await validate(["--server", url, "--root", rootFile, "--json"]);
    expect(j.code).toBe(1);
    expect(j.json.problem_counts).toEqual({ size: 1 });
    expect(j.json.problems[0].message).toMatch(/bins-[0-9a-f]\.json is \d+ bytes, over the 5000000-byte limit/);
  });

  test("--horizon: metadata expiring within the horizon is an expiry problem; already expired is one without it", async () => {
    const clean = await validate(["--server", up.url, "--root", rootFile, "--horizon", "0.5", "--json"]);
    expect(clean.code).toBe(0);
    // timestamp, snapshot and the bins expire after a day (the defaults): all within 2 days.
    const soon = await validate(["--server", up.url, "--root", rootFile, "--horizon", "2", "--json"]);
    expect(soon.code).toBe(1);
    expect(soon.json.problem_counts.expiry).toBe(1 + 1 + 16);
    expect(soon.json.problems.map((p: any) => p.file)).toContain("timestamp.json");
    expect(soon.json.problems[0].message).toMatch(/expires at .*, within the 2-day horizon/);

    const url = tamperedCopy("expired", (_, current) => {
      const file = current(binOf(current));
      const doc = readJson(file);
      doc.signed.expires = "2020-01-01T00:00:00Z";
      writeSigned(file, doc.signed);
    });
    const expired = await validate(["--server", url, "--root", rootFile, "--json"]);
    expect(expired.json.problem_counts).toEqual({ expiry: 1 });
    expect(expired.json.problems[0].message).toContain("expired at 2020-01-01T00:00:00Z");
  });

  test("usage errors exit 2 (no source, two sources, no --root, a bad --horizon)", async () => {
    const { UsageError } = await import("../../src/cli/args.ts");
    for (const args of [
      ["--root", rootFile],
      ["--server", up.url, "--data-dir", up.server.dataDir, "--root", rootFile],
      ["--server", up.url],
      ["--server", up.url, "--root", rootFile, "--horizon", "soon"],
    ]) {
      const t = testTerminal();
      let err: unknown;
      try {
        await validateCommand(args, t.term);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
    }
  });

  test("custom delegations: the online role is verified with its delegator's keys; an unsigned offline role is missing", async () => {
    const s = await startTestServer();
    try {
      const r = await s.api("POST", "/api/v1/bootstrap", fixture("bootstrap-delegations.json"));
      expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
      const root = join(work, "deleg-root.json");
      writeFileSync(root, new Uint8Array(await (await fetch(`${s.url}/metadata/1.root.json`)).arrayBuffer()));
      const j = await validate(["--server", s.url, "--root", root, "--json"]);
      expect(j.code).toBe(1);
      expect(j.json.delegated_roles.verified).toBe(1);
      expect(j.json.problem_counts).toEqual({ missing: 1 });
      expect(j.json.problems[0].message).toMatch(
        /targets delegates to releases, which \d+\.snapshot\.json does not list/,
      );
    } finally {
      await s.stop();
    }
  }, 60_000);

  test("the command's exit codes: 0 clean, 1 with problems (listed on stdout), 2 on bad usage", async () => {
    const clean = await runCli(["validate", "--server", up.url, "--root", rootFile], { cwd: work });
    expect(clean.stdout).toContain("OK: no problems");
    expect(clean.code).toBe(0);
    const url = tamperedCopy("exit-codes", (_, current) => {
      const file = current("snapshot");
      writeFileSync(file, `${readFileSync(file, "utf8")} `);
    });
    const bad = await runCli(["validate", "--server", url, "--root", rootFile, "--json"], { cwd: work });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).problem_counts).toEqual({ hash: 1 });
    expect(bad.stderr).toContain("1 problem(s) found");
    const usage = await runCli(["validate", "--server", up.url], { cwd: work });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--root is required");
  }, 60_000);

  test("tuf-js downloads every artifact from the repository validate accepted", async () => {
    expect((await validate(["--server", up.url, "--root", rootFile])).code).toBe(0);
    const client = tufClient(up.url, join(work, "client"), up.trustedRoot);
    await client.refresh();
    expect(await client.download(a1.path)).toEqual(a1.bytes);
    expect(await client.download(a2.path)).toEqual(a2.bytes);
  });
});
