/**
 * Custom delegations end to end (RSTUF fixture bootstrap-delegations.json):
 * an online-key role publishes at once; an offline-key role goes through a
 * signing session, and artifacts routed to it publish when it is signed;
 * paths no delegation covers are reported as invalid. tuf-js checks it all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { Updater } from "tuf-js";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { fixture, fixtureKey } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";

const item = (path: string) => ({ path, info: { length: 4, hashes: { sha256: "cd".repeat(32) } } });

describe("custom delegations", () => {
  let server: TestServer;
  const dir = tempDir("tufbox-deleg-client-");
  const client = () =>
    new Updater({
      metadataBaseUrl: `${server.url}/metadata`,
      metadataDir: join(dir, "metadata"),
      targetDir: join(dir, "t"),
    });
  let releasesTask = "";

  beforeAll(async () => {
    server = await startTestServer();
    const r = await server.api("POST", "/api/v1/bootstrap", fixture("bootstrap-delegations.json"));
    expect(r.status).toBe(202);
    expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    await Bun.write(
      join(dir, "metadata", "root.json"),
      await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer(),
    );
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("bootstrap publishes the online role and parks the offline one for signing", async () => {
    expect((await fetch(`${server.url}/metadata/1.nightly.json`)).status).toBe(200);
    expect((await fetch(`${server.url}/metadata/1.releases.json`)).status).toBe(404);
    const targets: any = await (await fetch(`${server.url}/metadata/1.targets.json`)).json();
    const roles = targets.signed.delegations.roles;
    expect(roles.map((r: any) => r.name)).toEqual(["nightly", "releases"]);
    const online = server.app.repo.settings!.onlineKeyId;
    expect(roles[0].keyids).toEqual([online]);
    expect(roles[1]["x-rstuf-expire-policy"]).toBe(30);
    const pending = await server.api("GET", "/api/v1/metadata/sign");
    expect(Object.keys(pending.body.data.metadata).sort()).toEqual(["releases", "trusted_targets"]);
    expect(pending.body.data.metadata.releases.signed.version).toBe(1);
    expect(pending.body.data.metadata.trusted_targets.signed._type).toBe("targets");
  });

  test("artifacts route to the first matching role; uncovered paths are invalid", async () => {
    const r = await server.api("POST", "/api/v1/artifacts", {
      artifacts: [item("nightly/app-2026-11-22.tar.gz"), item("elsewhere/x.bin")],
    });
    const t = await server.waitTask(r.body.data.task_id);
    expect(t.state).toBe("SUCCESS");
    expect(t.result.details.added_artifacts).toEqual(["nightly/app-2026-11-22.tar.gz"]);
    expect(t.result.details.invalid_paths).toEqual(["elsewhere/x.bin"]);
    expect(t.result.details.artifact_roles).toEqual(["nightly"]);
    const u = client();
    await u.refresh();
    expect((await u.getTargetInfo("nightly/app-2026-11-22.tar.gz"))?.length).toBe(4);

    const rel = await server.api("POST", "/api/v1/artifacts", {
      artifacts: [item("releases/app-1.0.tar.gz"), item("releases/v1/app.tar.gz")],
    });
    releasesTask = rel.body.data.task_id;
    await server.app.publisher.idle();
    const waiting = await server.api("GET", `/api/v1/task?task_id=${releasesTask}`);
    expect(waiting.body.data.state).toBe("RUNNING");
    expect(waiting.body.data.result.details.update).toBe("releases v1 is pending signatures");
    const pending = await server.api("GET", "/api/v1/metadata/sign");
    expect(Object.keys(pending.body.data.metadata.releases.signed.targets).sort()).toEqual([
      "releases/app-1.0.tar.gz",
      "releases/v1/app.tar.gz",
    ]);
  });

  test("signing the offline role publishes it and finishes the waiting task", async () => {
    const pending = (await server.api("GET", "/api/v1/metadata/sign")).body.data.metadata.releases;
    const { pem, keyid } = fixtureKey("offline-ed25519");
    const delegationKeys = ((await (await fetch(`${server.url}/metadata/1.targets.json`)).json()) as any).signed
      .delegations.keys;
    const signer = signerFromPem(pem, { keyJSON: delegationKeys[keyid], keyid });
    const r = await server.api("POST", "/api/v1/metadata/sign", {
      role: "releases",
      signature: { keyid, sig: signer.sign(utf8(canonicalJson(pending.signed))) },
    });
    const t = await server.waitTask(r.body.data.task_id);
    expect(t.state).toBe("SUCCESS");
    expect(t.result.details).toEqual({ update: "Role releases signing complete" });
    const done = await server.waitTask(releasesTask);
    expect(done.state).toBe("SUCCESS");
    expect(done.result.details.added_artifacts).toEqual(["releases/app-1.0.tar.gz", "releases/v1/app.tar.gz"]);
    expect((await server.api("GET", "/api/v1/metadata/sign")).body).toEqual({
      message: "No metadata pending signing available",
    });

    const u = client();
    await u.refresh();
    expect((await u.getTargetInfo("releases/app-1.0.tar.gz"))?.path).toBe("releases/app-1.0.tar.gz");
    expect((await u.getTargetInfo("releases/v1/app.tar.gz"))?.path).toBe("releases/v1/app.tar.gz");
    expect((await u.getTargetInfo("nightly/app-2026-11-22.tar.gz"))?.path).toBe("nightly/app-2026-11-22.tar.gz");
  });

  test("a wrong key cannot sign a delegated role", async () => {
    await server.api("POST", "/api/v1/artifacts", { artifacts: [item("releases/app-2.0.tar.gz")] });
    await server.app.publisher.idle();
    const pending = (await server.api("GET", "/api/v1/metadata/sign")).body.data.metadata.releases;
    expect(pending.signed.version).toBe(2);
    const { pem, keyid } = fixtureKey("root-ed25519");
    const sig = signerFromPem(pem).sign(utf8(canonicalJson(pending.signed)));
    const r = await server.api("POST", "/api/v1/metadata/sign", { role: "releases", signature: { keyid, sig } });
    expect((await server.waitTask(r.body.data.task_id)).result.error).toBe("Invalid signature");
  });

  test("delegations can be added, updated and deleted; a deleted name is never reused", async () => {
    const add = await server.api("POST", "/api/v1/delegations", {
      delegations: {
        roles: [
          { name: "beta", terminating: true, keyids: [], threshold: 1, paths: ["beta/*"], "x-rstuf-expire-policy": 3 },
          { name: "nightly", terminating: true, keyids: [], threshold: 1, paths: ["x/*"] },
        ],
      },
    });
    expect(add.status).toBe(202);
    expect(add.body.message).toBe("Metadata delegation add accepted.");
    const t = await server.waitTask(add.body.data.task_id);
    expect(t.state).toBe("SUCCESS");
    expect(t.result.task).toBe("metadata_delegation");
    expect(t.result.details).toEqual({
      delegated_roles: ["beta"],
      failed_roles: [{ role: "nightly", reason: "role already exists" }],
    });
    expect((await fetch(`${server.url}/metadata/1.beta.json`)).status).toBe(200);
    const b = await server.api("POST", "/api/v1/artifacts", { artifacts: [item("beta/one.bin")] });
    expect((await server.waitTask(b.body.data.task_id)).result.details.artifact_roles).toEqual(["beta"]);

    const upd = await server.api("PUT", "/api/v1/delegations/", {
      delegations: {
        roles: [{ name: "beta", terminating: false, keyids: [], threshold: 1, paths: ["beta/*", "beta/*/*"] }],
      },
    });
    expect(upd.body.message).toBe("Metadata delegation update accepted.");
    expect((await server.waitTask(upd.body.data.task_id)).result.details.delegated_roles).toEqual(["beta"]);

    const u = client();
    await u.refresh();
    expect((await u.getTargetInfo("beta/one.bin"))?.path).toBe("beta/one.bin");

    const del = await server.api("POST", "/api/v1/delegations/delete", { delegations: { roles: [{ name: "beta" }] } });
    expect(del.body.message).toBe("Metadata delegation delete accepted.");
    expect((await server.waitTask(del.body.data.task_id)).result.details).toEqual({
      delegated_roles: ["beta"],
      failed_roles: [],
    });
    expect(await server.app.store.getArtifact("beta/one.bin")).toBeUndefined();
    const u2 = client();
    await u2.refresh();
    expect(await u2.getTargetInfo("beta/one.bin")).toBeUndefined();
    const snapshot: any = await (
      await fetch(
        `${server.url}/metadata/${server.app.repo.heads().find((h) => h.role === "snapshot")!.version}.snapshot.json`,
      )
    ).json();
    // Kept: clients reject a snapshot that drops a previously listed file.
    expect(Object.keys(snapshot.signed.meta)).toContain("beta.json");
    const targets: any = await (
      await fetch(
        `${server.url}/metadata/${server.app.repo.heads().find((h) => h.role === "targets")!.version}.targets.json`,
      )
    ).json();
    expect(targets.signed.delegations.roles.map((r: any) => r.name)).not.toContain("beta");

    const again = await server.api("POST", "/api/v1/delegations", {
      delegations: { roles: [{ name: "beta", terminating: true, keyids: [], threshold: 1, paths: ["beta/*"] }] },
    });
    const ta = await server.waitTask(again.body.data.task_id);
    expect(ta.state).toBe("ERRORED");
    expect(ta.result.details.failed_roles[0].reason).toBe("role name was deleted before and cannot be reused");
  }, 30_000);

  test("delegation payload errors name the field", async () => {
    const r = await server.api("POST", "/api/v1/delegations", {
      delegations: { roles: [{ name: "bad name", paths: ["x/*"] }] },
    });
    expect(r.status).toBe(422);
    expect(r.body.detail[0].loc).toEqual(["body", "delegations", "roles", 0, "name"]);
    const r2 = await server.api("POST", "/api/v1/delegations", {
      delegations: { roles: [{ name: "ok", paths: ["x/*"], path_hash_prefixes: ["ab"] }] },
    });
    expect(r2.status).toBe(422);
    expect(r2.body.detail[0].loc).toEqual(["body", "delegations", "roles", 0]);
  });
});
