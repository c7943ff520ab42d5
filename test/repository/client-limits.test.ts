/**
 * Nothing TUF clients cannot load is ever published (issue 10): a bin that
 * would exceed the 5,000,000-byte download cap fails the task that would
 * have made it so, with the reason; the rest of the batch is published, and
 * the repository keeps verifying with tuf-js.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import { ClientLimitError, assertPublishable, rejectionFor } from "../../src/repository/client-limits.ts";
import { VerifyPool } from "../../src/repository/verify-pool.ts";
import { computeKeyId } from "../../src/tuf/keys.ts";
import { publicKeyJSONFor, signerFromPem } from "../../src/tuf/signer.ts";
import { createPrivateKey } from "node:crypto";
import { fixtureKey } from "../helpers/fixtures.ts";
import type { ChangeRecord, DocumentRecord } from "../../src/store/store.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { tufClient } from "../helpers/tufjs.ts";

describe("assertPublishable and rejectionFor", () => {
  const doc = (role: string, bytes: Uint8Array): DocumentRecord => ({
    role,
    version: 2,
    bytes,
    expires: "",
    sha256: "",
  });
  const change = (id: number, taskId: string, kind: ChangeRecord["kind"], role: string): ChangeRecord => ({
    id,
    taskId,
    kind,
    path: `p${id}`,
    role,
    fragment: kind === "add" ? "{}" : null,
    held: false,
  });

  test("a document nested deeper than clients parse is refused, naming its role", () => {
    const deep = new TextEncoder().encode(`{"signed":${"[".repeat(60)}${"]".repeat(60)}}`);
    expect(() => assertPublishable([doc("bins-1", new Uint8Array(10)), doc("bins-2", deep)])).toThrow(
      /bins-2 would nest 61 levels deep/,
    );
  });

  test("online-signed documents have their depth checked on the verification worker instead", async () => {
    const deep = new TextEncoder().encode(`{"signed":${"[".repeat(60)}${"]".repeat(60)}}`);
    const record = doc("bins-2", deep);
    expect(() => assertPublishable([record], new Set([record]))).not.toThrow();
    const { pem } = fixtureKey("online-ed25519");
    const keyJSON = publicKeyJSONFor(createPrivateKey(pem));
    const signer = signerFromPem(pem, { keyJSON, keyid: computeKeyId(keyJSON) });
    const pool = new VerifyPool();
    try {
      const shallow = new TextEncoder().encode('{"a":[1]}');
      const ok = pool.batch(signer.publicKey);
      ok.add("3.bins-1.json", shallow.slice(), signer.sign(shallow));
      await ok.done();
      const bad = pool.batch(signer.publicKey);
      bad.add("3.bins-1.json", shallow.slice(), signer.sign(shallow));
      bad.add("7.bins-0a.json", deep.slice(), signer.sign(deep));
      let caught: unknown;
      await bad.done().catch((err: unknown) => {
        caught = err;
      });
      expect(caught).toBeInstanceOf(ClientLimitError);
      expect((caught as ClientLimitError).role).toBe("bins-0a");
      expect((caught as Error).message).toMatch(/bins-0a would nest deeper than the limit of 48 levels/);
    } finally {
      pool.close();
    }
  });

  test("the tasks adding to the offending role are blamed, the others kept", () => {
    const changes = [
      change(1, "t1", "add", "bins-0"),
      change(2, "t1", "add", "bins-1"),
      change(3, "t2", "add", "bins-1"),
      change(4, "t3", "remove", "bins-0"),
      change(5, "t4", "bump", "bins-0"),
    ];
    const pub = rejectionFor(changes, new ClientLimitError("bins-0", "too big"), new Date())!;
    // The whole of t1 goes (a task is never split); the removal and the bump are not to blame.
    expect(pub.consumedChanges).toEqual([1, 2]);
    expect(pub.documents).toEqual([]);
    expect(pub.tasks!.map((t) => [t.id, t.state, t.result!.error])).toEqual([
      ["t1", "FAILURE", "refusing to publish: too big"],
    ]);
  });

  test("without an add, every task touching the role; without any, nobody", () => {
    const removes = [change(1, "t1", "remove", "bins-0"), change(2, "t2", "add", "bins-1")];
    expect(rejectionFor(removes, new ClientLimitError("bins-0", "x"), new Date())!.consumedChanges).toEqual([1]);
    expect(
      rejectionFor([change(1, "t1", "bump", "snapshot")], new ClientLimitError("snapshot", "x"), new Date()),
    ).toBeNull();
  });
});

describe("a bin that would exceed the client download cap", () => {
  let server: TestServer;
  const clientDir = tempDir("tufbox-client-");
  const bins = new SuccinctBins(1);
  const inBin = (bin: string, n: number, prefix: string) => {
    const out: string[] = [];
    for (let i = 0; out.length < n; i++)
      if (bins.binForPath(`${prefix}/${i}.bin`) === bin) out.push(`${prefix}/${i}.bin`);
    return out;
  };
  const blob = (path: string) => ({
    path,
    info: { length: 1, hashes: { sha256: "ab".repeat(32) }, custom: { blob: "x".repeat(1_000_000) } },
  });

  beforeAll(async () => {
    server = await startTestServer({ env: { TUFBOX_MAX_CUSTOM_BYTES: "1MiB" } });
    const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(2));
    expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(clientDir, { recursive: true, force: true });
  });

  test("fails the task that would overflow it, publishes the rest of the batch, serves nothing too big", async () => {
    const first = await server.api("POST", "/api/v1/artifacts", { artifacts: inBin("bins-0", 4, "a").map(blob) });
    expect((await server.waitTask(first.body.data.task_id)).state).toBe("SUCCESS");
    const binVersion = server.app.repo.heads().find((h) => h.role === "bins-0")!.version;

    // One batch: the overflowing task and an innocent one in the other bin.
    await server.app.publisher.stop();
    const overflow = await server.api("POST", "/api/v1/artifacts", { artifacts: inBin("bins-0", 2, "b").map(blob) });
    const bytes = new TextEncoder().encode("innocent");
    const innocentPath = inBin("bins-1", 1, "c")[0]!;
    const file = join(server.app.config.targets.dir, innocentPath);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
    const innocent = await server.api("POST", "/api/v1/artifacts", {
      artifacts: [
        {
          path: innocentPath,
          info: { length: bytes.length, hashes: { sha256: createHash("sha256").update(bytes).digest("hex") } },
        },
      ],
    });
    expect(overflow.status).toBe(202);
    expect(innocent.status).toBe(202);
    server.app.publisher.start();

    // Today's main: SUCCESS, and a ~6 MB bins-0 that no client downloads.
    const failed = await server.waitTask(overflow.body.data.task_id);
    expect(failed.state).toBe("FAILURE");
    expect(failed.result.error).toMatch(/bins-0 would be \d+ bytes, over the 5000000-byte limit/);
    // The task names the fix, not only the problem.
    expect(failed.result.error).toContain("fix: more hash bins");
    expect(failed.result.details.artifact_roles).toEqual(["bins-0"]);
    expect((await server.waitTask(innocent.body.data.task_id)).state).toBe("SUCCESS");

    await server.app.publisher.idle();
    expect(await server.app.store.countPendingChanges()).toBe(0);
    expect(server.app.repo.heads().find((h) => h.role === "bins-0")!.version).toBe(binVersion);
    for (const name of (await server.app.store.listDocuments()).filter((d) => d.role.startsWith("bins-")))
      expect(name.length).toBeLessThanOrEqual(5_000_000);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);

    const trusted = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    const client = tufClient(server.url, join(clientDir, "c"), trusted);
    await client.refresh();
    expect(await client.download(innocentPath)).toEqual(bytes);
    expect(await client.download(inBin("bins-0", 1, "b")[0]!)).toBeUndefined();
  }, 120_000);
});
