/**
 * Hash bins inside a custom delegation (issue 17 item 2, RSTUF #876): a
 * delegated role with `x-rstuf-num-bins` delegates to `<role>-bins-<hex>`
 * (TAP 15) and its artifacts land in those bins. Set at bootstrap and by
 * POST /api/v1/delegations; tuf-js downloads through targets → role → bin.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Updater } from "tuf-js";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import { fixture } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer, tempDir } from "../helpers/server.ts";

const item = (path: string) => ({ path, info: { length: 4, hashes: { sha256: "cd".repeat(32) } } });

function payloadWithBinnedRole(): any {
  const p = fixture("bootstrap-delegations.json");
  p.settings.roles.delegations.roles.push({
    name: "pypi",
    terminating: true,
    keyids: [],
    threshold: 1,
    paths: ["pypi/*", "pypi/*/*"],
    "x-rstuf-expire-policy": 5,
    "x-rstuf-num-bins": 16,
  });
  return p;
}

describe("hash bins inside a custom delegation", () => {
  let server: TestServer;
  const dir = tempDir("tufbox-nested-bins-");
  const client = (name: string) =>
    new Updater({
      metadataBaseUrl: `${server.url}/metadata`,
      metadataDir: join(dir, name),
      targetDir: join(dir, `${name}-t`),
    });
  const head = (role: string) => server.app.repo.heads().find((h) => h.role === role)?.version;
  const doc = async (role: string, version = head(role)) =>
    (await (await fetch(`${server.url}/metadata/${version}.${role}.json`)).json()) as any;

  beforeAll(async () => {
    server = await startTestServer();
    const r = await server.api("POST", "/api/v1/bootstrap", payloadWithBinnedRole());
    expect(r.status).toBe(202);
    expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    for (const name of ["a", "b", "c"])
      await Bun.write(
        join(dir, name, "root.json"),
        await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer(),
      );
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("bootstrap publishes the role delegating to its bins, and every bin", async () => {
    const targets = await doc("targets", 1);
    const pypi = targets.signed.delegations.roles.find((r: any) => r.name === "pypi");
    expect(pypi["x-rstuf-num-bins"]).toBe(16);
    const online = server.app.repo.settings!.onlineKeyId;
    expect(pypi.keyids).toEqual([online]);
    const role = await doc("pypi", 1);
    expect(role.signed.targets).toEqual({});
    expect(role.signed.delegations.succinct_roles).toEqual({
      bit_length: 4,
      name_prefix: "pypi-bins",
      keyids: [online],
      threshold: 1,
    });
    expect(Object.keys(role.signed.delegations.keys)).toEqual([online]);
    const snapshot = await doc("snapshot");
    const meta = Object.keys(snapshot.signed.meta);
    expect(meta).toContain("pypi.json");
    for (const bin of new SuccinctBins(4, "pypi-bins").names()) expect(meta).toContain(`${bin}.json`);
    expect((await fetch(`${server.url}/metadata/1.pypi-bins-a.json`)).status).toBe(200);
  });

  test("artifacts go to the role's bin by hash; tuf-js finds them through targets → pypi → bin", async () => {
    const paths = ["pypi/requests-2.32.tar.gz", "pypi/numpy/numpy-2.1.whl", "pypi/six-1.16.tar.gz"];
    const r = await server.api("POST", "/api/v1/artifacts", {
      artifacts: [...paths.map(item), item("nightly/n.tar.gz")],
    });
    const t = await server.waitTask(r.body.data.task_id);
    expect(t.state).toBe("SUCCESS");
    const bins = new SuccinctBins(4, "pypi-bins");
    const expected = [...new Set([...paths.map((p) => bins.binForPath(p)), "nightly"])].sort();
    expect([...t.result.details.artifact_roles].sort()).toEqual(expected);
    for (const p of paths) {
      const bin = bins.binForPath(p);
      expect(Object.keys((await doc(bin)).signed.targets)).toContain(p);
    }
    // The role itself keeps no targets: they are in its bins.
    expect(head("pypi")).toBe(1);
    expect((await doc("pypi")).signed.targets).toEqual({});

    const u = client("a");
    await u.refresh();
    for (const p of paths) expect((await u.getTargetInfo(p))?.path).toBe(p);
    expect((await u.getTargetInfo("nightly/n.tar.gz"))?.path).toBe("nightly/n.tar.gz");
    expect(await u.getTargetInfo("pypi/absent.tar.gz")).toBeUndefined();

    // Removal empties the bin again.
    const del = await server.api("POST", "/api/v1/artifacts/delete", { artifacts: [paths[0]] });
    expect((await server.waitTask(del.body.data.task_id)).result.details.deleted_artifacts).toEqual([paths[0]]);
    const u2 = client("b");
    await u2.refresh();
    expect(await u2.getTargetInfo(paths[0]!)).toBeUndefined();
    expect((await u2.getTargetInfo(paths[1]!))?.path).toBe(paths[1]);
  });

  test("a re-sign of a bin or the role keeps the bins delegated", async () => {
    const bin = new SuccinctBins(4, "pypi-bins").binForPath("pypi/six-1.16.tar.gz");
    const r = await server.api("POST", "/api/v1/metadata/online", { roles: ["pypi", bin] });
    expect(r.status).toBe(202);
    expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    expect(head("pypi")).toBe(2);
    expect((await doc("pypi")).signed.delegations.succinct_roles.name_prefix).toBe("pypi-bins");
    expect(Object.keys((await doc(bin)).signed.targets)).toContain("pypi/six-1.16.tar.gz");
    const u = client("a");
    await u.refresh();
    expect((await u.getTargetInfo("pypi/six-1.16.tar.gz"))?.path).toBe("pypi/six-1.16.tar.gz");
  });

  test("POST /api/v1/delegations adds a role with bins; its count cannot change later; delete drops its bins", async () => {
    const add = await server.api("POST", "/api/v1/delegations", {
      delegations: {
        roles: [{ name: "npm", terminating: true, keyids: [], paths: ["npm/*"], "x-rstuf-num-bins": 4 }],
      },
    });
    expect(add.status).toBe(202);
    const t = await server.waitTask(add.body.data.task_id);
    expect(t.result.details).toEqual({ delegated_roles: ["npm"], failed_roles: [] });
    for (const bin of ["npm-bins-0", "npm-bins-1", "npm-bins-2", "npm-bins-3"]) expect(head(bin)).toBe(1);
    const a = await server.api("POST", "/api/v1/artifacts", { artifacts: [item("npm/left-pad-1.3.0.tgz")] });
    const ta = await server.waitTask(a.body.data.task_id);
    expect(ta.result.details.artifact_roles).toEqual([
      new SuccinctBins(2, "npm-bins").binForPath("npm/left-pad-1.3.0.tgz"),
    ]);
    const u = client("c");
    await u.refresh();
    expect((await u.getTargetInfo("npm/left-pad-1.3.0.tgz"))?.path).toBe("npm/left-pad-1.3.0.tgz");

    // Same count: an update goes through (new paths); another count is refused with the reason.
    const same = await server.api("PUT", "/api/v1/delegations", {
      delegations: {
        roles: [{ name: "npm", terminating: true, keyids: [], paths: ["npm/*", "npm/*/*"], "x-rstuf-num-bins": 4 }],
      },
    });
    expect((await server.waitTask(same.body.data.task_id)).result.details.delegated_roles).toEqual(["npm"]);
    expect((await doc("npm")).signed.delegations.succinct_roles.bit_length).toBe(2);
    const other = await server.api("PUT", "/api/v1/delegations", {
      delegations: { roles: [{ name: "npm", keyids: [], paths: ["npm/*"], "x-rstuf-num-bins": 8 }] },
    });
    const to = await server.waitTask(other.body.data.task_id);
    expect(to.state).toBe("ERRORED");
    expect(to.result.details.failed_roles[0].reason).toContain(
      "x-rstuf-num-bins cannot change on an existing role (4 → 8)",
    );

    // A new role cannot take the name of a published bin.
    const clash = await server.api("POST", "/api/v1/delegations", {
      delegations: { roles: [{ name: "npm-bins-2", keyids: [], paths: ["z/*"] }] },
    });
    expect((await server.waitTask(clash.body.data.task_id)).result.details.failed_roles[0].reason).toBe(
      "role name was published before and cannot be reused",
    );

    const del = await server.api("POST", "/api/v1/delegations/delete", { delegations: { roles: [{ name: "npm" }] } });
    expect((await server.waitTask(del.body.data.task_id)).result.details.delegated_roles).toEqual(["npm"]);
    expect(await server.app.store.getArtifact("npm/left-pad-1.3.0.tgz")).toBeUndefined();
    const u2 = client("c");
    await u2.refresh();
    expect(await u2.getTargetInfo("npm/left-pad-1.3.0.tgz")).toBeUndefined();
    // Kept in snapshot: clients reject a snapshot that drops a file they know.
    expect(Object.keys((await doc("snapshot")).signed.meta)).toContain("npm-bins-3.json");
  }, 30_000);

  test("bad x-rstuf-num-bins is refused with the field and the rule", async () => {
    const role = (extra: Record<string, unknown>) => ({
      delegations: { roles: [{ name: "x", keyids: [], paths: ["x/*"], ...extra }] },
    });
    const r1 = await server.api("POST", "/api/v1/delegations", role({ "x-rstuf-num-bins": 12 }));
    expect(r1.status).toBe(422);
    expect(r1.body.detail[0].loc).toEqual(["body", "delegations", "roles", 0, "x-rstuf-num-bins"]);
    expect(r1.body.detail[0].msg).toContain("power of two between 2 and 16384");
    const r2 = await server.api("POST", "/api/v1/delegations", role({ "x-rstuf-num-bins": 32768 }));
    expect(r2.status).toBe(422);
    const keyid = Object.keys(fixture("bootstrap-delegations.json").settings.roles.delegations.keys)[0]!;
    const r3 = await server.api("POST", "/api/v1/delegations", {
      delegations: {
        keys: fixture("bootstrap-delegations.json").settings.roles.delegations.keys,
        roles: [{ name: "x", keyids: [keyid], paths: ["x/*"], "x-rstuf-num-bins": 4 }],
      },
    });
    expect(r3.status).toBe(422);
    expect(r3.body.detail[0].msg).toContain("needs a role signed by the online key");
    const r4 = await server.api("POST", "/api/v1/delegations", {
      delegations: {
        roles: [
          { name: "y", keyids: [], paths: ["y/*"], "x-rstuf-num-bins": 2 },
          { name: "y-bins-1", keyids: [], paths: ["w/*"] },
        ],
      },
    });
    expect(r4.status).toBe(422);
    expect(r4.body.detail[0].msg).toBe("role name y-bins-1 is one of y's bin names");
  });
});
