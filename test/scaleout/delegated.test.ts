/**
 * Issue 17 items 2 and 4 on PostgreSQL, across two replicas of one database:
 * a delegated role with hash bins of its own (bootstrapped on A) takes
 * artifacts through B, and a delegated role's next version signed offline
 * is uploaded to B; tuf-js reads both from A (targets → pypi → its bin, and
 * targets → team). Nothing of either lives outside the published targets and
 * the store, so a replica that did not do the work serves it the same.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Updater } from "tuf-js";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { formatExpires } from "../../src/tuf/dates.ts";
import { computeKeyId } from "../../src/tuf/keys.ts";
import { publicKeyJSONFor, signerFromPem } from "../../src/tuf/signer.ts";
import { fixture } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer, tempDir } from "../helpers/server.ts";
import { createDatabase, eventually, withServices } from "./helpers.ts";

withServices("test/scaleout/delegated.test.ts", {}, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let a: TestServer;
  let b: TestServer;
  const dir = tempDir("tufbox-scaleout-delegated-");
  const { privateKey } = generateKeyPairSync("ed25519");
  const teamKey = publicKeyJSONFor(privateKey);
  const teamKeyid = computeKeyId(teamKey);
  const teamSigner = signerFromPem(privateKey.export({ format: "pem", type: "pkcs8" }).toString(), {
    keyJSON: teamKey,
    keyid: teamKeyid,
  });
  const file = { length: 4, hashes: { sha256: "cd".repeat(32) } };

  beforeAll(async () => {
    db = await createDatabase("delegated");
    a = await startTestServer({ flags: { database: db.url } });
    b = await startTestServer({ flags: { database: db.url } });
    const p = fixture("bootstrap-delegations.json");
    p.settings.roles.delegations.keys[teamKeyid] = teamKey;
    p.settings.roles.delegations.roles.push(
      { name: "pypi", terminating: true, keyids: [], threshold: 1, paths: ["pypi/*"], "x-rstuf-num-bins": 32 },
      { name: "team", terminating: true, keyids: [teamKeyid], threshold: 1, paths: ["team/*"] },
    );
    const r = await a.api("POST", "/api/v1/bootstrap", p);
    expect((await a.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    await eventually("B bootstrapped", 30_000, async () => b.app.repo.bootstrapped);
    await Bun.write(join(dir, "m", "root.json"), await (await fetch(`${a.url}/metadata/1.root.json`)).arrayBuffer());
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("artifacts through B land in pypi's bins; an upload to B publishes team; tuf-js reads both from A", async () => {
    expect(a.app.store.kind).toBe("postgres");
    const paths = ["pypi/flask-3.0.tar.gz", "pypi/django-5.1.tar.gz"];
    const add = await b.api("POST", "/api/v1/artifacts", { artifacts: paths.map((path) => ({ path, info: file })) });
    const t = await b.waitTask(add.body.data.task_id);
    expect(t.state).toBe("SUCCESS");
    const bins = new SuccinctBins(5, "pypi-bins");
    expect([...t.result.details.artifact_roles].sort()).toEqual(
      [...new Set(paths.map((p) => bins.binForPath(p)))].sort(),
    );

    const signed = {
      _type: "targets",
      spec_version: "1.0.31",
      version: 1,
      expires: formatExpires(new Date(Date.now() + 7 * 86_400_000)),
      targets: { "team/tool.tar.gz": file },
    };
    const up = await b.api("POST", "/api/v1/delegations/metadata", {
      rolename: "team",
      metadata: { signed, signatures: [{ keyid: teamKeyid, sig: teamSigner.sign(utf8(canonicalJson(signed))) }] },
    });
    expect(up.status).toBe(202);
    const ut = await b.waitTask(up.body.data.task_id);
    expect(ut.result.error).toBeUndefined();
    expect(ut.state).toBe("SUCCESS");
    // A replay is refused by A as well, at once: it catches up with what B published before checking.
    const replay = await a.api("POST", "/api/v1/delegations/metadata", {
      rolename: "team",
      metadata: { signed, signatures: [{ keyid: teamKeyid, sig: teamSigner.sign(utf8(canonicalJson(signed))) }] },
    });
    expect(replay.status).toBe(422);
    expect(replay.body.detail[0].msg).toBe("expected version 2 (the published team is version 1), got 1");

    const u = new Updater({
      metadataBaseUrl: `${a.url}/metadata`,
      metadataDir: join(dir, "m"),
      targetDir: join(dir, "t"),
    });
    await u.refresh();
    for (const p of paths) expect((await u.getTargetInfo(p))?.path).toBe(p);
    expect((await u.getTargetInfo("team/tool.tar.gz"))?.path).toBe("team/tool.tar.gz");
  }, 60_000);
});
