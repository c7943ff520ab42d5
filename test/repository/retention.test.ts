/**
 * Retention of superseded metadata versions (issue 15): a client that read a
 * timestamp before newer publications still completes its update while the
 * grace lasts, and the versions only it could need go once every snapshot and
 * timestamp that pointed to them expired plus the grace. The retention clock
 * is injected, so a day passes in a line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { type Clock, SystemClock } from "../../src/clock.ts";

const DAY = 86_400_000;
const GRACE_HOURS = 2;

/** Real timers, wall time moved by hand: the App's clock as retention and signing see it. */
class OffsetClock implements Clock {
  offset = 0;
  readonly #system = new SystemClock();
  now(): number {
    return Date.now() + this.offset;
  }
  setTimer(ms: number, fn: () => void) {
    return this.#system.setTimer(ms, fn);
  }
  onJump(listener: (deltaMs: number) => void) {
    return this.#system.onJump(listener);
  }
  set(at: number): void {
    this.offset = at - Date.now();
  }
}
const clock = new OffsetClock();
let server: TestServer;
const dirs: string[] = [];

const BYTES = new TextEncoder().encode("artifact bytes");
const SHA256 = new Bun.CryptoHasher("sha256").update(BYTES).digest("hex");

async function addArtifact(path: string) {
  const r = await server.api("POST", "/api/v1/artifacts", {
    artifacts: [{ path, info: { length: BYTES.length, hashes: { sha256: SHA256 } } }],
  });
  expect(r.status).toBe(202);
  expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
}

const metadata = async (name: string) =>
  new Uint8Array(await (await fetch(`${server.url}/metadata/${name}`)).arrayBuffer());
const parse = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

beforeAll(async () => {
  server = await startTestServer({
    env: { TUFBOX_RETENTION_GRACE_HOURS: String(GRACE_HOURS) },
    clock,
  });
  const boot = await server.api("POST", "/api/v1/bootstrap", binsPayload(2));
  expect((await server.waitTask(boot.body.data.task_id)).state).toBe("SUCCESS");
});

afterAll(async () => {
  await server?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("retention", () => {
  test("a client holding an older timestamp completes its update during the grace; afterwards the versions go", async () => {
    await addArtifact("old/a.tar.gz");
    const file = join(server.app.config.targets.dir, "old/a.tar.gz");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, BYTES);
    const trustedRoot = await metadata("1.root.json");
    // The client's view: this timestamp, and what it points to.
    const oldTimestamp = await metadata("timestamp.json");
    const snapshotVersion = parse(oldTimestamp).signed.meta["snapshot.json"].version as number;
    const oldSnapshot = parse(await metadata(`${snapshotVersion}.snapshot.json`));
    const binVersions = Object.entries(oldSnapshot.signed.meta as Record<string, { version: number }>)
      .filter(([name]) => name.startsWith("bins-"))
      .map(([name, m]) => [name.slice(0, -5), m.version] as const);

    // Newer publications supersede everything that timestamp names.
    for (let i = 0; i < 6; i++) await addArtifact(`new/${i}.tar.gz`);
    const store = server.app.store;
    const before = await store.documentStats();
    const snapshotExpires = Date.parse(oldSnapshot.signed.expires);

    // Just before that snapshot's expiry plus the grace: nothing it names may go.
    clock.set(snapshotExpires + GRACE_HOURS * 3_600_000 - 60_000);
    await server.app.scheduler.runNow("prune-metadata");
    expect(await store.getDocument("snapshot", snapshotVersion)).toBeDefined();
    for (const [role, version] of binVersions) expect(await store.getDocument(role, version)).toBeDefined();

    // The real tuf-js client, served that older timestamp, completes its update.
    const proxy = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/metadata/timestamp.json") return new Response(oldTimestamp);
        return fetch(server.url + path);
      },
    });
    try {
      const dir = tempDir("tufbox-retention-client-");
      dirs.push(dir);
      const client = tufClient(`http://127.0.0.1:${proxy.port}`, dir, trustedRoot);
      await client.refresh();
      expect(client.version("snapshot")).toBe(snapshotVersion);
      expect(await client.download("old/a.tar.gz")).toEqual(BYTES);
    } finally {
      proxy.stop(true);
    }

    // Past expiry plus grace: every superseded version that timestamp needed is deleted.
    clock.set(snapshotExpires + GRACE_HOURS * 3_600_000 + 60_000);
    const result = await server.app.scheduler.runNow("prune-metadata");
    expect(result).toMatch(/^pruned [1-9]\d* metadata version/);
    expect(await store.getDocument("snapshot", snapshotVersion)).toBeUndefined();
    for (const [role, version] of binVersions) {
      const head = server.app.repo.heads().find((h) => h.role === role)!.version;
      if (version < head) expect(await store.getDocument(role, version)).toBeUndefined();
      else expect(await store.getDocument(role, version)).toBeDefined();
    }
    const after = await store.documentStats();
    expect(after.documents).toBeLessThan(before.documents);
    expect(after.bytes).toBeLessThan(before.bytes);
    // Root versions are kept; a fresh client (real time again) still updates.
    clock.offset = 0;
    expect(await store.getDocument("root", 1)).toBeDefined();
    const fresh = tempDir("tufbox-retention-fresh-");
    dirs.push(fresh);
    const client = tufClient(server.url, fresh, trustedRoot);
    await client.refresh();
    expect(client.version("timestamp")).toBe(server.app.repo.timestampVersion);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^tufbox_metadata_pruned_versions_total [1-9]\d*$/m);
    expect(metrics).toContain(`tufbox_metadata_stored_bytes ${after.bytes}`);
    expect(server.app.scheduler.list().map((j) => j.name)).toContain("prune-metadata");
  });

  test("nothing is pruned while the latest snapshot could still point to it", async () => {
    // One day of real time: every snapshot published in this test is unexpired.
    clock.set(Date.now() + DAY / 2);
    const r = await server.app.scheduler.runNow("prune-metadata");
    expect(r).toBe("pruned 0 metadata version(s), 0 bytes");
  });
});
