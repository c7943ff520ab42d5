/**
 * Signing sessions and root rotation end to end, with tuf-js:
 * - bootstrap with threshold 2 signed by one key → signing session →
 *   second signature → published;
 * - root v2 rotating the online key (ed25519 → ecdsa) while artifacts are
 *   being added → a returning client follows and every artifact is there;
 * - root v3 (online key → rsa) signed by one of two keys → pending → second
 *   signature → published, every online role re-signed with the rsa key.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { Updater } from "tuf-js";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { binsPayload, fixture, fixtureKey } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";

function signatureFor(root: any, keyName: string) {
  const { pem, keyid } = fixtureKey(keyName);
  const signer = signerFromPem(pem, { keyJSON: root.signed.keys[keyid], keyid });
  return { keyid, sig: signer.sign(utf8(canonicalJson(root.signed))) };
}

describe("signing sessions and root rotation", () => {
  let server: TestServer;
  const clientDir = tempDir("tufbox-sign-client-");
  let updaterDir: string;
  const added: string[] = [];

  const client = () =>
    new Updater({
      metadataBaseUrl: `${server.url}/metadata`,
      metadataDir: join(updaterDir, "metadata"),
      targetDir: join(updaterDir, "t"),
    });

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(clientDir, { recursive: true, force: true });
  });

  test("a bootstrap signed by 1 of 2 root keys waits in a signing session", async () => {
    const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(8, "bootstrap-bins-1-of-2-signatures.json"));
    expect(r.status).toBe(202);
    const b = await server.api("GET", "/api/v1/bootstrap");
    expect(b.body.data).toEqual({ bootstrap: false, state: "signing", id: r.body.data.task_id });
    expect(b.body.message).toBe("System LOCKED for bootstrap.");
    const again = await server.api("POST", "/api/v1/bootstrap", binsPayload(8));
    expect(again.status).toBe(404);
    expect(again.body.detail.error).toBe("System already has a Metadata. State: signing");
    const pending = await server.api("GET", "/api/v1/metadata/sign/");
    expect(pending.status).toBe(200);
    expect(pending.body.message).toBe("Metadata role(s) pending signing");
    expect(pending.body.data.metadata.root.signed.version).toBe(1);
    expect(pending.body.data.metadata.trusted_root).toBeUndefined();
    expect((await fetch(`${server.url}/metadata/timestamp.json`)).status).toBe(404);
  });

  test("an invalid signature is refused with RSTUF's error and changes nothing", async () => {
    const root = fixture("bootstrap-bins-1-of-2-signatures.json").metadata.root;
    const good = signatureFor(root, "root-ecdsa");
    const bad = { keyid: good.keyid, sig: signatureFor({ signed: { ...root.signed, version: 9 } }, "root-ecdsa").sig };
    const r = await server.api("POST", "/api/v1/metadata/sign", { role: "root", signature: bad });
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("Metadata sign accepted.");
    const task = await server.waitTask(r.body.data.task_id);
    expect(task.state).toBe("ERRORED");
    expect(task.result.error).toBe("Invalid signature");
    const none = await server.api("POST", "/api/v1/metadata/sign", { role: "releases", signature: good });
    expect((await server.waitTask(none.body.data.task_id)).result.error).toBe("No signatures pending for releases");
    expect(server.app.repo.bootstrapped).toBe(false);
  });

  test("the second signature publishes the repository", async () => {
    const root = fixture("bootstrap-bins-1-of-2-signatures.json").metadata.root;
    const r = await server.api("POST", "/api/v1/metadata/sign", {
      role: "root",
      signature: signatureFor(root, "root-ecdsa"),
    });
    const task = await server.waitTask(r.body.data.task_id);
    expect(task.state).toBe("SUCCESS");
    expect(task.result.details).toEqual({ bootstrap: "Bootstrap Finished" });
    expect(server.app.repo.bootstrapped).toBe(true);
    expect((await server.api("GET", "/api/v1/bootstrap")).body.data.state).toBe("finished");
    expect((await server.api("GET", "/api/v1/metadata/sign")).body).toEqual({
      message: "No metadata pending signing available",
    });

    updaterDir = join(clientDir, "returning");
    const trusted = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    await Bun.write(join(updaterDir, "metadata", "root.json"), trusted);
    const u = client();
    await u.refresh();
    expect(await u.getTargetInfo("nothing-yet")).toBeUndefined();
  });

  test("root v2 rotates the online key to ecdsa while artifacts are being added; a returning client follows", async () => {
    let stop = false;
    let n = 0;
    const adding = (async () => {
      while (!stop && n < 400) {
        const path = `rotation/a-${n++}.bin`;
        const r = await server.api("POST", "/api/v1/artifacts", {
          artifacts: [{ path, info: { length: 1, hashes: { sha256: "aa".repeat(32) } } }],
        });
        expect(r.status).toBe(202);
        added.push(path);
      }
    })();
    while (added.length < 20) await Bun.sleep(2);
    const update = fixture("metadata-update-root-v2-online-ecdsa.json");
    const r = await server.api("POST", "/api/v1/metadata/", update);
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("Metadata update accepted.");
    const task = await server.waitTask(r.body.data.task_id);
    expect(task.state).toBe("SUCCESS");
    expect(task.result.task).toBe("metadata_update");
    expect(task.result.details).toEqual({ role: "root" });
    while (added.length < 60) await Bun.sleep(2);
    stop = true;
    await adding;
    await server.app.publisher.idle();

    const newOnline = update.metadata.root.signed.roles.timestamp.keyids[0];
    const ts: any = await (await fetch(`${server.url}/metadata/timestamp.json`)).json();
    expect(ts.signatures.map((s: any) => s.keyid)).toEqual([newOnline]);
    const u = client();
    await u.refresh();
    for (const path of added) expect((await u.getTargetInfo(path))?.path).toBe(path);
    const cfg = await server.api("GET", "/api/v1/config");
    expect(cfg.body.data.online_key_id).toBe(newOnline);
  }, 60_000);

  test("root v3 signed by 1 of 2 waits, then the second signature rotates the online key to rsa", async () => {
    const update = fixture("metadata-update-root-v3-online-rsa-1-of-2.json");
    const r = await server.api("POST", "/api/v1/metadata", update);
    const task = await server.waitTask(r.body.data.task_id);
    expect(task.state).toBe("SUCCESS");
    expect(task.result.details).toEqual({ update: "Root v3 is pending signatures" });
    const pending = await server.api("GET", "/api/v1/metadata/sign");
    expect(pending.body.data.metadata.root.signed.version).toBe(3);
    expect(pending.body.data.metadata.trusted_root.signed.version).toBe(2);
    expect((await fetch(`${server.url}/metadata/3.root.json`)).status).toBe(404);

    const s = await server.api("POST", "/api/v1/metadata/sign", {
      role: "root",
      signature: signatureFor(update.metadata.root, "root-ecdsa"),
    });
    const st = await server.waitTask(s.body.data.task_id);
    expect(st.state).toBe("SUCCESS");
    expect(st.result.details).toEqual({ update: "Metadata update finished" });
    expect((await server.waitTask(r.body.data.task_id)).result.details).toEqual({ role: "root" });
    expect((await fetch(`${server.url}/metadata/3.root.json`)).status).toBe(200);
    const rsa = update.metadata.root.signed.roles.timestamp.keyids[0];
    const ts: any = await (await fetch(`${server.url}/metadata/timestamp.json`)).json();
    expect(ts.signatures.map((x: any) => x.keyid)).toEqual([rsa]);

    const u = client();
    await u.refresh();
    expect((await u.getTargetInfo(added[0]!))?.path).toBe(added[0]!);
  }, 60_000);

  test("a pending root update can be cancelled", async () => {
    const current = JSON.parse(await (await fetch(`${server.url}/metadata/root.json`)).text());
    expect(current.signed.version).toBe(3);
    const del = await server.api("POST", "/api/v1/metadata/sign/delete", { role: "root" });
    expect(del.body.message).toBe("Metadata sign delete accepted.");
    expect((await server.waitTask(del.body.data.task_id)).result.error).toBe("No signatures pending for root");
  });

  test("forced bump and settings update", async () => {
    const before = new Map(server.app.repo.heads().map((h) => [h.role, h.version]));
    const r = await server.api("POST", "/api/v1/metadata/online", { roles: ["targets"] });
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("Force online metadata update accepted.");
    const t = await server.waitTask(r.body.data.task_id);
    expect(t.result.task).toBe("force_online_metadata_update");
    const after = new Map(server.app.repo.heads().map((h) => [h.role, h.version]));
    expect(after.get("targets")).toBe(before.get("targets")! + 1);
    expect(after.get("snapshot")).toBe(before.get("snapshot")! + 1);
    expect(after.get("timestamp")).toBe(before.get("timestamp")! + 1);
    expect(after.get("bins-0")).toBe(before.get("bins-0")!);
    const bad = await server.api("POST", "/api/v1/metadata/online", { roles: ["root"] });
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0].loc).toEqual(["body", "roles", 0]);

    const c = await server.api("PUT", "/api/v1/config/", {
      settings: { expiration: { targets: 100, snapshot: 5, nosuch: 3 } },
    });
    expect(c.status).toBe(202);
    expect(c.body.message).toBe("Settings successfully submitted.");
    const ct = await server.waitTask(c.body.data.task_id);
    expect(ct.result.details).toEqual({ updated_roles: ["targets", "snapshot"], invalid_roles: ["nosuch"] });
    expect((await server.api("GET", "/api/v1/config")).body.data.targets_expiration).toBe(100);
  }, 30_000);
});
