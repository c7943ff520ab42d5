/**
 * An attacker between the upstream and the mirror: a proxy in this test that
 * alters what passes through. For each alteration — a target's bytes,
 * timestamp.json, a newer root, a bin, a rolled-back timestamp, and a
 * validly signed but expired timestamp (freeze) — the mirror refuses it,
 * counts it under the right reason, keeps serving its last verified state,
 * and the real tuf-js client keeps updating and downloading through it. When
 * the proxy stops interfering, the next sync succeeds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { signText } from "../../src/tuf/document.ts";
import { canonicalJson } from "../../src/tuf/canonical.ts";
import { fixtureKey } from "../helpers/fixtures.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { tempDir } from "../helpers/server.ts";
import { artifact, publish, startMirror, startUpstream, type TestMirror, type Upstream } from "./helpers.ts";

type Mutation = (
  path: string,
  res: { status: number; bytes: Uint8Array },
) => { status: number; bytes: Uint8Array } | undefined;

/** Forwards everything to `upstream`; `mutate` may replace any answer. No change feed: syncs are explicit. */
function startProxy(upstream: string) {
  let mutate: Mutation | undefined;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/api/v1/events") return new Response("no feed through this proxy", { status: 404 });
      const res = await fetch(upstream + url.pathname + url.search);
      const answer = { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) };
      const changed = mutate?.(decodeURIComponent(url.pathname), answer) ?? answer;
      return new Response(changed.bytes, { status: changed.status });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    set(m: Mutation | undefined) {
      mutate = m;
    },
    stop: () => server.stop(true),
  };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

describe("a mirror behind a tampering proxy", () => {
  const clientDir = tempDir("tufbox-tamper-client-");
  let up: Upstream;
  let proxy: ReturnType<typeof startProxy>;
  let m: TestMirror;
  let client: ReturnType<typeof tufClient>;
  let firstTimestamp: Uint8Array;
  const good = artifact("releases/good-1.0.tgz", "good bytes");
  let n = 0;

  beforeAll(async () => {
    up = await startUpstream(8);
    await publish(up, [good]);
    proxy = startProxy(up.url);
    m = await startMirror(proxy.url, up.trustedRoot, { prefetch: ["**"] });
    await m.mirror.syncNow();
    firstTimestamp = new Uint8Array(await (await fetch(`${up.url}/metadata/timestamp.json`)).arrayBuffer());
    client = tufClient(m.url, join(clientDir, "client"), up.trustedRoot);
    await client.refresh();
    expect(await client.download(good.path)).toEqual(good.bytes);
  }, 60_000);

  afterAll(async () => {
    await m?.stop();
    proxy?.stop();
    await up?.server.stop();
    rmSync(clientDir, { recursive: true, force: true });
  });

  const served = () => m.mirror.state.timestamp!.doc.signed.version;

  /** Publishes something new upstream, syncs through the altering proxy, checks the refusal, then recovers. */
  async function refused(reason: string, about: RegExp, mutation: Mutation, opts: { publishFirst?: boolean } = {}) {
    const before = served();
    const failures = m.mirror.status().failures as Record<string, number>;
    const count = failures[reason] ?? 0;
    const fresh = artifact(`releases/new-${++n}.tgz`, `new artifact ${n}`);
    if (opts.publishFirst !== false) await publish(up, [fresh]);
    proxy.set(mutation);
    await m.mirror.syncNow();
    const after = m.mirror.status();
    expect(after.last_failure?.reason).toBe(reason as never);
    expect(after.last_failure?.message).toMatch(about);
    expect((after.failures as Record<string, number>)[reason]).toBe(count + 1);
    expect(after.stale_since).not.toBeNull();
    expect(served()).toBe(before);
    // Clients behind the mirror notice nothing: the last good state still verifies.
    await client.refresh();
    expect(client.version("timestamp")).toBe(before);
    expect(await client.download(good.path)).toEqual(good.bytes);
    const other = tufClient(m.url, join(clientDir, `fresh-${n}`), up.trustedRoot);
    await other.refresh();
    expect(await other.download(good.path)).toEqual(good.bytes);
    // The proxy stops interfering: the next sync brings the upstream's state.
    proxy.set(undefined);
    await m.mirror.syncNow();
    expect(m.mirror.status().stale_since).toBeNull();
    expect(served()).toBeGreaterThan(before);
    await client.refresh();
    if (opts.publishFirst !== false) expect(await client.download(fresh.path)).toEqual(fresh.bytes);
  }

  test("timestamp.json with an altered byte is refused (tampered)", async () => {
    await refused("tampered", /^timestamp\.json has 0 valid signature/, (path, res) =>
      path === "/metadata/timestamp.json"
        ? {
            ...res,
            bytes: bytes(text(res.bytes).replace(/"expires":"(\d{4})/, (_, y) => `"expires":"${Number(y) + 1}`)),
          }
        : undefined,
    );
  }, 30_000);

  test("a forged newer root is refused (tampered)", async () => {
    const rootVersion = m.mirror.state.root.signed.version;
    await refused("tampered", /^2\.root\.json has 0 valid signature/, (path) => {
      if (path !== `/metadata/${rootVersion + 1}.root.json`) return undefined;
      const doc = JSON.parse(text(up.trustedRoot));
      doc.signed.version = rootVersion + 1;
      // Still signed over version 1: the signatures do not cover this document.
      return { status: 200, bytes: bytes(JSON.stringify(doc)) };
    });
  }, 30_000);

  test("an altered bin is refused (tampered)", async () => {
    let altered = 0;
    await refused("tampered", /^\d+\.bins-[0-7]\.json has 0 valid signature/, (path, res) => {
      if (!/^\/metadata\/\d+\.bins-[0-9a-f]+\.json$/.test(path) || res.status !== 200) return undefined;
      altered++;
      // Point a listed target at other bytes: the bin's signature no longer covers it.
      return {
        ...res,
        bytes: bytes(
          text(res.bytes)
            .replace(/"sha256":"[0-9a-f]/, '"sha256":"f')
            .replace(/"sha256":"f([0-9a-f])/, '"sha256":"e$1'),
        ),
      };
    });
    expect(altered).toBeGreaterThan(0);
  }, 30_000);

  test("a rolled-back timestamp is refused (rollback)", async () => {
    await refused("rollback", /^timestamp\.json version \d+ is older/, (path) =>
      path === "/metadata/timestamp.json" ? { status: 200, bytes: firstTimestamp } : undefined,
    );
  }, 30_000);

  test("a validly signed but expired timestamp is refused (expired: freeze attack)", async () => {
    const online = fixtureKey("online-ed25519");
    const signer = signerFromPem(online.pem, { keyid: online.keyid });
    await refused("expired", /^timestamp\.json v\d+ expired at 2020-01-01/, (path, res) => {
      if (path !== "/metadata/timestamp.json") return undefined;
      const doc = JSON.parse(text(res.bytes));
      doc.signed.expires = "2020-01-01T00:00:00Z";
      return { status: 200, bytes: signText(canonicalJson(doc.signed), [signer]).bytes };
    });
  }, 30_000);

  test("altered target bytes are refused: never stored or served, other targets unaffected", async () => {
    const bad = artifact("releases/tampered-on-the-way.tgz", "the real bytes");
    await publish(up, [bad]);
    const mismatches = m.mirror.status().targets.failures.mismatch;
    proxy.set((path, res) =>
      path.startsWith("/targets/") && path.endsWith("tampered-on-the-way.tgz")
        ? { ...res, bytes: bytes("the evil bytes") }
        : undefined,
    );
    await m.mirror.syncNow();
    // The metadata is genuine, so the mirror moves on; the prefetch of the altered file is refused.
    expect(m.mirror.status().stale_since).toBeNull();
    expect(m.mirror.status().targets.failures.mismatch).toBe(mismatches + 1);
    const found = (await m.mirror.targets.resolve(bad.path))!;
    expect(await m.mirror.targets.has(bad.path, found.file)).toBe(false);
    const direct = await fetch(`${m.url}/targets/releases/${bad.info.hashes.sha256}.tampered-on-the-way.tgz`);
    expect(direct.status).toBe(502);
    expect(await direct.text()).not.toContain("evil");
    await client.refresh();
    expect(await client.download(good.path)).toEqual(good.bytes);
    await expect(client.download(bad.path)).rejects.toThrow();
    // Once the bytes arrive intact, they are verified, stored and served.
    proxy.set(undefined);
    expect(await client.download(bad.path)).toEqual(bad.bytes);
  }, 30_000);
});
