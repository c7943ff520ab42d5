/**
 * Re-binning online, end to end with the real tuf-js client: a server with 4
 * bins and artifacts (their bytes in the targets directory), a client that
 * refreshed and downloaded before, then POST /api/v1/bins to 64 with adds
 * sent while it runs, more adds after, then 64 → 2. After each resize a
 * fresh client and the returning client (metadata cached from before the
 * resize) download every artifact, those added during and after included.
 * Also: the route's refusals (field and limit named), its scope, and the
 * settings views showing the new count.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { hashToken } from "../../src/auth/tokens.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { targetFile } from "../helpers/targets.ts";
import { type Client, tufClient } from "../helpers/tufjs.ts";

const READ = "tufbox_read-only-token-for-bins-resize";

let server: TestServer;
let trustedRoot: Uint8Array;
const clientDir = tempDir("tufbox-rebin-client-");
const files = new Map<string, Uint8Array>();
let returning: Client;

function artifact(path: string) {
  const { bytes, ...entry } = targetFile(server, path, `content of ${path}`);
  files.set(path, bytes);
  return entry;
}

async function addArtifacts(prefix: string, n: number): Promise<string> {
  const r = await server.api("POST", "/api/v1/artifacts", {
    artifacts: Array.from({ length: n }, (_, i) => artifact(`${prefix}/file-${i}.txt`)),
  });
  expect(r.status).toBe(202);
  return r.body.data.task_id;
}

async function expectEveryArtifact(client: Client) {
  await client.refresh();
  for (const [path, bytes] of files) expect(await client.download(path)).toEqual(bytes);
  expect(await client.download("never/added.txt")).toBeUndefined();
}

/** Resize to `count` while `rounds` add requests go out, one every few ms; all tasks must succeed. */
async function resizeWhileAdding(count: number, tag: string, rounds: number) {
  const resize = server.api("POST", "/api/v1/bins", { number_of_delegated_bins: count });
  const adds: string[] = [];
  for (let i = 0; i < rounds; i++) {
    adds.push(await addArtifacts(`${tag}-during-${i}`, 5));
    await Bun.sleep(2);
  }
  const r = await resize;
  expect(r.status).toBe(202);
  expect(r.body.message).toBe("Bins resize accepted.");
  const task = await server.waitTask(r.body.data.task_id, 60_000);
  expect(task.state).toBe("SUCCESS");
  expect(task.result.task).toBe("resize_bins");
  expect(task.result.details.to).toBe(count);
  for (const id of adds) expect((await server.waitTask(id)).state).toBe("SUCCESS");
  for (const id of [await addArtifacts(`${tag}-after`, 5)]) expect((await server.waitTask(id)).state).toBe("SUCCESS");
}

beforeAll(async () => {
  server = await startTestServer({ flags: { "scheduler-period-seconds": "3600" } as any });
  const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(4));
  expect((await server.waitTask(r.body.data.task_id, 60_000)).state).toBe("SUCCESS");
  trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
  expect((await server.waitTask(await addArtifacts("before", 12))).state).toBe("SUCCESS");
  await server.app.store.putToken({
    id: "viewer0000000002",
    hash: hashToken(READ),
    name: "viewer",
    scopes: ["read"],
    createdAt: new Date().toISOString(),
    expiresAt: null,
    createdBy: null,
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(clientDir, { recursive: true, force: true });
});

describe("POST /api/v1/bins", () => {
  test("refusals name the field and the limit; no token 401, a read-only token 403", async () => {
    for (const [body, msg] of [
      [{ number_of_delegated_bins: 3 }, "must be a power of two between 2 and 16384, got 3"],
      [{ number_of_delegated_bins: 32768 }, "must be a power of two between 2 and 16384, got 32768"],
      [{ number_of_delegated_bins: 1 }, "must be a power of two between 2 and 16384, got 1"],
      [{ number_of_delegated_bins: 4 }, "the repository already has 4 bins"],
      [{ number_of_delegated_bins: "64" }, "expected an integer"],
    ] as const) {
      const r = await server.api("POST", "/api/v1/bins", body);
      expect(r.status).toBe(422);
      expect(r.body.detail[0]).toMatchObject({ loc: ["body", "number_of_delegated_bins"], msg });
    }
    const missing = await server.api("POST", "/api/v1/bins", {});
    expect(missing.status).toBe(422);
    expect(missing.body.detail[0].loc).toEqual(["body", "number_of_delegated_bins"]);
    const none = await server.api("POST", "/api/v1/bins", { number_of_delegated_bins: 8 }, { authorization: "" });
    expect(none.status).toBe(401);
    const read = await server.api(
      "POST",
      "/api/v1/bins",
      { number_of_delegated_bins: 8 },
      { authorization: `Bearer ${READ}` },
    );
    expect(read.status).toBe(403);
    expect(server.app.repo.settings?.bins?.count).toBe(4);
  });
});

describe("tuf-js across resizes", () => {
  test("before: a client downloads everything with 4 bins", async () => {
    returning = tufClient(server.url, join(clientDir, "returning"), trustedRoot);
    await expectEveryArtifact(returning);
    expect(returning.version("bins-0")).toBeGreaterThanOrEqual(1);
  }, 60_000);

  test("4 → 64 while adding: fresh and returning clients download every artifact", async () => {
    await resizeWhileAdding(64, "up", 8);
    const config = await server.api("GET", "/api/v1/config");
    expect(config.body.data.number_of_delegated_bins).toBe(64);
    const roles = await server.api("GET", "/api/v1/roles");
    expect(roles.body.data.bins).toMatchObject({ count: 64, published: 64, bit_length: 6 });
    expect(roles.body.data.health.ready).toBe(true);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    await expectEveryArtifact(returning);
    await expectEveryArtifact(tufClient(server.url, join(clientDir, "fresh-64"), trustedRoot));
  }, 120_000);

  test("64 → 2 while adding: bins-0/bins-1 continue the 4-bin versions the returning client cached", async () => {
    const cached = returning.version("bins-0");
    await resizeWhileAdding(2, "down", 8);
    await expectEveryArtifact(returning);
    expect(returning.version("bins-0")).toBeGreaterThan(cached);
    await expectEveryArtifact(tufClient(server.url, join(clientDir, "fresh-2"), trustedRoot));
    const snapshot = await (await fetch(`${server.url}/metadata/timestamp.json`)).json();
    const snap = await (
      await fetch(`${server.url}/metadata/${(snapshot as any).signed.meta["snapshot.json"].version}.snapshot.json`)
    ).json();
    // targets + 4 + 64 names: every bin ever published stays listed (spec 5.5.5).
    expect(Object.keys((snap as any).signed.meta).length).toBe(1 + 4 + 64);
  }, 120_000);
});
