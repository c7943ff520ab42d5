/**
 * A mirror following a real tufbox, with the real tuf-js client downloading
 * through it: a fresh client, a returning client after the upstream publishes
 * more (which reaches the mirror through the change feed: the interval is an
 * hour), a second mirror following the first, and clients updating while
 * the upstream is stopped, including after the mirror itself restarted; then
 * the upstream comes back and the mirror is current again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { statusCommand } from "../../src/cli/status.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { startTestServer, tempDir } from "../helpers/server.ts";
import { testTerminal } from "../cli/helpers.ts";
import {
  artifact,
  publish,
  startMirror,
  startUpstream,
  timestampVersion,
  until,
  type TestMirror,
  type Upstream,
} from "./helpers.ts";

describe("a mirror following a tufbox", () => {
  const upstreamDir = tempDir("tufbox-upstream-");
  const clientDir = tempDir("tufbox-mirror-client-");
  const mirrorDir = tempDir("tufbox-mirror-data-");
  let up: Upstream;
  let m: TestMirror;
  let upstreamPort = 0;
  const a1 = artifact("releases/app-1.0.tgz", "app one");
  const a2 = artifact("docs/guide ü.txt", "a guide");
  const a3 = artifact("releases/app-1.1.tgz", "app one point one");
  const never = artifact("docs/never-asked.txt", "nobody asks for this before the outage");
  // Listed with blake2b-256 only, as RSTUF's CLI adds artifacts: clients ask for dir/<blake2b-256>.name.
  const b2 = artifact("docs/blake2b-only.bin", "hashed with blake2b-256 only", { "blake2b-256": "blake2b256" });
  let returning: ReturnType<typeof tufClient>;

  beforeAll(async () => {
    up = await startUpstream(16, upstreamDir);
    upstreamPort = Number(new URL(up.url).port);
    await publish(up, [a1, a2]);
    m = await startMirror(up.url, up.trustedRoot, { dataDir: mirrorDir, prefetch: ["releases/**"] });
    await m.mirror.syncNow();
  }, 60_000);

  afterAll(async () => {
    await m?.stop();
    await up?.server.stop();
    for (const d of [upstreamDir, clientDir, mirrorDir]) rmSync(d, { recursive: true, force: true });
  });

  test("serves the upstream's exact bytes; prefetches what matches, fetches the rest on first request", async () => {
    for (const name of ["timestamp.json", "1.root.json", "root.json", "1.targets.json"]) {
      const a = new Uint8Array(await (await fetch(`${up.url}/metadata/${name}`)).arrayBuffer());
      const b = new Uint8Array(await (await fetch(`${m.url}/metadata/${name}`)).arrayBuffer());
      expect(b).toEqual(a);
    }
    const listing = await (await fetch(`${m.url}/metadata/`)).text();
    expect(listing).toContain("1.targets.json");
    expect(listing).toContain("timestamp.json");
    expect((await fetch(`${m.url}/metadata/2.root.json`)).status).toBe(404);

    const a1Info = (await m.mirror.targets.resolve(a1.path))!;
    const a2Info = (await m.mirror.targets.resolve(a2.path))!;
    expect(await m.mirror.targets.has(a1.path, a1Info.file)).toBe(true);
    expect(await m.mirror.targets.has(a2.path, a2Info.file)).toBe(false);

    const client = tufClient(m.url, join(clientDir, "fresh"), up.trustedRoot);
    await client.refresh();
    expect(await client.download(a1.path)).toEqual(a1.bytes);
    expect(await client.download(a2.path)).toEqual(a2.bytes);
    expect(await client.download("not/there.txt")).toBeUndefined();
    expect(await m.mirror.targets.has(a2.path, a2Info.file)).toBe(true);
    // Stored under every listed hash, as clients may ask for any of them (spec 5.7.3).
    const sha512 = a2.info.hashes.sha512!;
    const viaSha512 = await fetch(`${m.url}/targets/docs/${sha512}.${encodeURIComponent("guide ü.txt")}`);
    expect(new Uint8Array(await viaSha512.arrayBuffer())).toEqual(a2.bytes);
    expect((await fetch(`${m.url}/targets/docs/${"0".repeat(64)}.guide.txt`)).status).toBe(404);
    returning = client;
  }, 30_000);

  test("new upstream versions reach the mirror through the change feed, and returning clients follow", async () => {
    await until("the mirror listens to the upstream's change feed", () => m.mirror.eventsConnected);
    const before = returning.version("timestamp");
    await publish(up, [a3, never, b2]);
    const upstreamTs = timestampVersion(up.server.app.metadata.peek("timestamp.json")!.bytes);
    expect(upstreamTs).toBeGreaterThan(before);
    // No interval sync happens within the hour: only the change feed can bring it.
    await until(
      "the mirror serves the new timestamp",
      () => m.mirror.state.timestamp?.doc.signed.version === upstreamTs,
    );
    await returning.refresh();
    expect(returning.version("timestamp")).toBe(upstreamTs);
    expect(await returning.download(a3.path)).toEqual(a3.bytes);
    expect(await returning.download(a1.path)).toEqual(a1.bytes);
    // tuf-js cannot compute blake2b-256 (test/e2e/tufjs-blake2b.test.ts): fetch the URL it builds.
    const b2Url = `${m.url}/targets/docs/${b2.info.hashes["blake2b-256"]}.blake2b-only.bin`;
    expect(new Uint8Array(await (await fetch(b2Url)).arrayBuffer())).toEqual(b2.bytes);
    const b2Found = (await m.mirror.targets.resolve(b2.path))!;
    expect(await m.mirror.targets.has(b2.path, b2Found.file)).toBe(true);
  }, 30_000);

  test("a mirror can follow another mirror", async () => {
    const second = await startMirror(m.url, up.trustedRoot);
    try {
      await second.mirror.syncNow();
      expect(second.mirror.state.timestamp?.doc.signed.version).toBe(m.mirror.state.timestamp?.doc.signed.version);
      const client = tufClient(second.url, join(clientDir, "chained"), up.trustedRoot);
      await client.refresh();
      expect(await client.download(a2.path)).toEqual(a2.bytes);
      expect(await client.download(a3.path)).toEqual(a3.bytes);
      await until("the second mirror listens to the first one's change feed", () => second.mirror.eventsConnected);
    } finally {
      await second.stop();
    }
  }, 30_000);

  test("clients keep updating through the mirror while the upstream is stopped, even after the mirror restarts", async () => {
    const servedBefore = m.mirror.state.timestamp!.doc.signed.version;
    await up.server.stop();
    await m.mirror.syncNow();
    const status = m.mirror.status();
    expect(status.failures.unreachable).toBeGreaterThan(0);
    expect(status.stale_since).not.toBeNull();
    expect(status.last_failure?.reason).toBe("unreachable");
    expect(m.mirror.state.timestamp!.doc.signed.version).toBe(servedBefore);

    const ready = await fetch(`${m.url}/readyz`);
    expect(ready.status).toBe(200);
    const readyBody = (await ready.json()) as any;
    expect(readyBody.stale_since).toBe(status.stale_since);
    const metrics = await (await fetch(`${m.url}/metrics`)).text();
    expect(metrics).toMatch(/tufbox_mirror_sync_failures_total\{reason="unreachable"\} [1-9]/);
    expect(metrics).toMatch(/tufbox_mirror_last_success_timestamp_seconds [1-9]\d+/);
    expect(metrics).toContain("tufbox_mirror_stale 1");

    const t = testTerminal();
    await statusCommand(["--server", m.url], t.term);
    expect(t.text()).toContain("STALE since");
    expect(t.text()).toContain("unreachable");
    const tj = testTerminal();
    await statusCommand(["--server", m.url, "--json"], tj.term);
    expect(JSON.parse(tj.out.join("\n")).stale_since).toBe(status.stale_since);

    await returning.refresh();
    expect(await returning.download(a1.path)).toEqual(a1.bytes);
    const fresh = tufClient(m.url, join(clientDir, "offline"), up.trustedRoot);
    await fresh.refresh();
    expect(await fresh.download(a2.path)).toEqual(a2.bytes);
    expect(await fresh.download(a3.path)).toEqual(a3.bytes);
    // Not prefetched (docs/) and never asked for: it cannot be had now, and nothing unverified is served.
    const missing = await fetch(`${m.url}/targets/docs/${never.info.hashes.sha256}.never-asked.txt`);
    expect(missing.status).toBe(502);
    expect(m.mirror.status().targets.failures.unreachable).toBeGreaterThan(0);

    // The mirror process restarts while the upstream is still down: it serves what it stored.
    await m.stop({ keepData: true });
    m = await startMirror(up.url, up.trustedRoot, { dataDir: mirrorDir, prefetch: ["releases/**"] });
    await m.mirror.syncNow();
    expect(m.mirror.state.timestamp!.doc.signed.version).toBe(servedBefore);
    expect(m.mirror.status().stale_since).toBe(status.stale_since);
    const afterRestart = tufClient(m.url, join(clientDir, "after-restart"), up.trustedRoot);
    await afterRestart.refresh();
    expect(await afterRestart.download(a3.path)).toEqual(a3.bytes);
    // The restarted mirror listens on a new port: the returning client keeps its metadata cache.
    returning = tufClient(m.url, returning.dir);
  }, 60_000);

  test("when the upstream is back, the mirror is current again", async () => {
    const server = await startTestServer({
      dataDir: upstreamDir,
      flags: { listen: `127.0.0.1:${upstreamPort}`, "scheduler-period-seconds": "3600" } as Record<string, string>,
    });
    up = { ...up, server };
    const a4 = artifact("releases/app-2.0.tgz", "two");
    await publish(up, [a4]);
    await m.mirror.syncNow();
    expect(m.mirror.status().stale_since).toBeNull();
    expect(m.mirror.state.timestamp!.doc.signed.version).toBe(
      timestampVersion(server.app.metadata.peek("timestamp.json")!.bytes),
    );
    await returning.refresh();
    expect(await returning.download(a4.path)).toEqual(a4.bytes);
  }, 60_000);
});
