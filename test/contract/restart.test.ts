/**
 * Signing sessions survive restarts (issue 3, "Signing sessions"): what waits
 * for offline signatures is in the store, not in memory. Each scenario stops
 * the server mid-session and starts a new one on the same data directory
 * (same SQLite file); the new server lists the same pending document and the
 * remaining signature completes it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { fixture, fixtureKey } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { tufClient } from "../helpers/tufjs.ts";

function signatureFor(root: any, keyName: string) {
  const { pem, keyid } = fixtureKey(keyName);
  const signer = signerFromPem(pem, { keyJSON: root.signed.keys[keyid], keyid });
  return { keyid, sig: signer.sign(utf8(canonicalJson(root.signed))) };
}

const dirs: string[] = [];
const running = new Set<TestServer>();

async function start(dataDir: string): Promise<TestServer> {
  const s = await startTestServer({ dataDir });
  running.add(s);
  return s;
}

async function restart(s: TestServer): Promise<TestServer> {
  await s.stop();
  running.delete(s);
  return start(s.dataDir);
}

function dataDir(): string {
  const d = tempDir("tufbox-restart-");
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const s of running) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("a bootstrap waiting for its second root signature", () => {
  const bootstrap = fixture("bootstrap-bins-1-of-2-signatures.json");
  const root = bootstrap.metadata.root;
  let server: TestServer;
  let bootstrapTask = "";

  test("is parked in a signing session", async () => {
    server = await start(dataDir());
    const r = await server.api("POST", "/api/v1/bootstrap", bootstrap);
    expect(r.status).toBe(202);
    bootstrapTask = r.body.data.task_id;
    expect((await server.api("GET", "/api/v1/bootstrap")).body.data).toEqual({
      bootstrap: false,
      state: "signing",
      id: bootstrapTask,
    });
  });

  test("is still pending after a restart, with the same task", async () => {
    server = await restart(server);
    expect((await server.api("GET", "/api/v1/bootstrap")).body).toEqual({
      data: { bootstrap: false, state: "signing", id: bootstrapTask },
      message: "System LOCKED for bootstrap.",
    });
    const pending = await server.api("GET", "/api/v1/metadata/sign");
    expect(pending.status).toBe(200);
    expect(pending.body.message).toBe("Metadata role(s) pending signing");
    expect(Object.keys(pending.body.data.metadata)).toEqual(["root"]);
    // Exactly what was submitted, with the one signature it came with.
    expect(pending.body.data.metadata.root).toEqual(root);
    // As RSTUF's worker does: the bootstrap task finishes SUCCESS while root v1 waits for
    // signers (the rstuf CLI polls until a final state, so RUNNING would hang it).
    const task = await server.api("GET", `/api/v1/task?task_id=${bootstrapTask}`);
    expect(task.body.data.state).toBe("SUCCESS");
    expect(task.body.data.result.details).toEqual({ bootstrap: "Root v1 is pending signatures" });
    // The lock held across the restart too.
    const again = await server.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
    expect(again.status).toBe(404);
    expect(again.body.detail.error).toBe("System already has a Metadata. State: signing");
    expect((await fetch(`${server.url}/metadata/1.root.json`)).status).toBe(404);
  });

  test("the second signature (root-ecdsa) publishes it; tuf-js trusts the result", async () => {
    const r = await server.api("POST", "/api/v1/metadata/sign", {
      role: "root",
      signature: signatureFor(root, "root-ecdsa"),
    });
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("Metadata sign accepted.");
    const sign = await server.waitTask(r.body.data.task_id);
    expect(sign.state).toBe("SUCCESS");
    expect(sign.result.details).toEqual({ bootstrap: "Bootstrap Finished" });
    const boot = await server.waitTask(bootstrapTask);
    expect(boot.state).toBe("SUCCESS");
    expect(boot.result.task).toBe("bootstrap");
    expect((await server.api("GET", "/api/v1/bootstrap")).body.data).toEqual({
      bootstrap: true,
      state: "finished",
      id: bootstrapTask,
    });
    expect((await server.api("GET", "/api/v1/metadata/sign")).body).toEqual({
      message: "No metadata pending signing available",
    });

    const published: any = await (await fetch(`${server.url}/metadata/1.root.json`)).json();
    expect(published.signatures.map((s: any) => s.keyid).sort()).toEqual(
      [fixtureKey("root-ed25519").keyid, fixtureKey("root-ecdsa").keyid].sort(),
    );
    const trusted = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    const client = tufClient(server.url, join(dataDir(), "client"), trusted);
    await client.refresh();
    expect(client.version("timestamp")).toBe(1);
  });

  test("and stays published after another restart", async () => {
    server = await restart(server);
    expect(server.app.repo.bootstrapped).toBe(true);
    expect((await server.api("GET", "/api/v1/bootstrap")).body.data.state).toBe("finished");
    expect((await server.api("GET", "/api/v1/metadata/sign")).body).toEqual({
      message: "No metadata pending signing available",
    });
  });
});

describe("a cancelled bootstrap session stays cancelled across a restart", () => {
  test("sign/delete after a restart frees the repository for good", async () => {
    let server = await start(dataDir());
    const r = await server.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins-1-of-2-signatures.json"));
    expect(r.status).toBe(202);
    server = await restart(server);
    const del = await server.api("POST", "/api/v1/metadata/sign/delete", { role: "root" });
    expect(del.body.message).toBe("Metadata sign delete accepted.");
    expect((await server.waitTask(del.body.data.task_id)).state).toBe("SUCCESS");
    // The cancelled bootstrap's task ends REVOKED (tufbox: RSTUF's worker had already finished it).
    const cancelled = await server.api("GET", `/api/v1/task?task_id=${r.body.data.task_id}`);
    expect(cancelled.body.data.state).toBe("REVOKED");
    expect(cancelled.body.data.result.error).toBe("signing of root v1 was cancelled");
    server = await restart(server);
    expect((await server.api("GET", "/api/v1/bootstrap")).body.data).toEqual({
      bootstrap: false,
      state: null,
      id: null,
    });
    expect((await server.api("GET", "/api/v1/metadata/sign")).body).toEqual({
      message: "No metadata pending signing available",
    });
    // Free means free: a full bootstrap now goes through.
    const b = await server.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
    expect(b.status).toBe(202);
    expect((await server.waitTask(b.body.data.task_id)).state).toBe("SUCCESS");
  });
});

describe("a root update waiting for its second signature", () => {
  const v3 = fixture("metadata-update-root-v3-online-rsa-1-of-2.json");
  let server: TestServer;
  let updateTask = "";
  let trustedV1: Uint8Array;

  test("bins bootstrap, root v2 (online key → ecdsa), then root v3 (online key → rsa) signed 1 of 2", async () => {
    server = await start(dataDir());
    const b = await server.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
    expect((await server.waitTask(b.body.data.task_id)).state).toBe("SUCCESS");
    trustedV1 = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    const v2 = await server.api("POST", "/api/v1/metadata", fixture("metadata-update-root-v2-online-ecdsa.json"));
    expect((await server.waitTask(v2.body.data.task_id)).result.details).toEqual({ role: "root" });
    const r = await server.api("POST", "/api/v1/metadata", v3);
    expect(r.status).toBe(202);
    updateTask = r.body.data.task_id;
    expect((await server.waitTask(updateTask)).result.details).toEqual({ update: "Root v3 is pending signatures" });
  });

  test("is still pending after a restart, next to the trusted root v2", async () => {
    server = await restart(server);
    const pending = await server.api("GET", "/api/v1/metadata/sign");
    expect(pending.body.message).toBe("Metadata role(s) pending signing");
    expect(Object.keys(pending.body.data.metadata).sort()).toEqual(["root", "trusted_root"]);
    expect(pending.body.data.metadata.root).toEqual(v3.metadata.root);
    expect(pending.body.data.metadata.trusted_root.signed.version).toBe(2);
    expect((await fetch(`${server.url}/metadata/3.root.json`)).status).toBe(404);
    const ecdsa = fixture("metadata-update-root-v2-online-ecdsa.json").metadata.root.signed.roles.timestamp.keyids[0];
    const ts: any = await (await fetch(`${server.url}/metadata/timestamp.json`)).json();
    expect(ts.signatures.map((s: any) => s.keyid)).toEqual([ecdsa]);
  });

  test("the second signature (root-ecdsa) publishes root v3 and rotates the online key to rsa", async () => {
    const r = await server.api("POST", "/api/v1/metadata/sign", {
      role: "root",
      signature: signatureFor(v3.metadata.root, "root-ecdsa"),
    });
    const sign = await server.waitTask(r.body.data.task_id);
    expect(sign.state).toBe("SUCCESS");
    expect(sign.result.details).toEqual({ update: "Metadata update finished" });
    const update = await server.waitTask(updateTask);
    expect(update.state).toBe("SUCCESS");
    expect(update.result.task).toBe("metadata_update");
    expect(update.result.details).toEqual({ role: "root" });
    expect((await server.api("GET", "/api/v1/metadata/sign")).body).toEqual({
      message: "No metadata pending signing available",
    });

    expect((await fetch(`${server.url}/metadata/3.root.json`)).status).toBe(200);
    const rsa = v3.metadata.root.signed.roles.timestamp.keyids[0];
    const ts: any = await (await fetch(`${server.url}/metadata/timestamp.json`)).json();
    expect(ts.signatures.map((s: any) => s.keyid)).toEqual([rsa]);
    // A client that trusted root v1 walks v1 → v2 → v3.
    const client = tufClient(server.url, join(dataDir(), "client"), trustedV1);
    await client.refresh();
    expect(client.version("root")).toBe(3);
  });
});
