/**
 * Time under control (issue 10): one clock in the App that tests drive. The
 * scheduler runs on it and wakes when it jumps; a request that finds
 * timestamp.json expired re-signs at once; and 30 simulated days with the
 * default expiries — suspends of several hours, restarts while time passes —
 * never serve an expired document at any sampled instant.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ManualClock, SystemClock } from "../src/clock.ts";
import { binsPayload } from "./helpers/fixtures.ts";
import { prng } from "./helpers/random.ts";
import { startTestServer, tempDir, type TestServer } from "./helpers/server.ts";
import { tufClient } from "./helpers/tufjs.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function bootstrapped(clock: ManualClock, dataDir?: string): Promise<TestServer> {
  const s = await startTestServer({ clock, dataDir });
  const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(4));
  expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  return s;
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.json();
}

/**
 * What a client would download right now, following timestamp → snapshot →
 * targets and every bin, with the expiry of each.
 */
async function served(s: TestServer): Promise<{ name: string; version: number; expires: number }[]> {
  const base = `${s.url}/metadata`;
  const ts = await getJson(`${base}/timestamp.json`);
  const out = [{ name: "timestamp", version: ts.signed.version, expires: Date.parse(ts.signed.expires) }];
  const snapVersion = ts.signed.meta["snapshot.json"].version;
  const snap = await getJson(`${base}/${snapVersion}.snapshot.json`);
  out.push({ name: "snapshot", version: snapVersion, expires: Date.parse(snap.signed.expires) });
  for (const [file, meta] of Object.entries<any>(snap.signed.meta)) {
    const role = file.slice(0, -".json".length);
    const doc = await getJson(`${base}/${meta.version}.${role}.json`);
    out.push({ name: role, version: meta.version, expires: Date.parse(doc.signed.expires) });
  }
  const root = await getJson(`${base}/root.json`);
  out.push({ name: "root", version: root.signed.version, expires: Date.parse(root.signed.expires) });
  return out;
}

async function settle(s: TestServer): Promise<void> {
  await s.app.scheduler.settled();
  await s.app.publisher.idle();
}

function version(s: TestServer, role: string): number {
  return s.app.repo.heads().find((h) => h.role === role)!.version;
}

describe("the clocks", () => {
  test("ManualClock: advance fires due timers in order; jump moves wall time only and is heard", () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimer(200, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(100, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(50, () => fired.push(`c@${clock.now()}`));
    });
    const jumps: number[] = [];
    clock.onJump((d) => jumps.push(d));
    clock.advance(160);
    expect(fired).toEqual(["a@100", "c@150"]);
    clock.jump(10_000);
    expect(jumps).toEqual([10_000]);
    expect(fired).toEqual(["a@100", "c@150"]);
    clock.advance(40);
    expect(fired).toEqual(["a@100", "c@150", "b@10200"]);
    expect(clock.now()).toBe(10_200);
  });

  test("SystemClock reports a wall-clock step that elapsed time does not account for", async () => {
    const clock = new SystemClock({ checkMs: 20, thresholdMs: 1000 });
    const jumps: number[] = [];
    const realNow = Date.now;
    const stop = clock.onJump((d) => jumps.push(d));
    try {
      await Bun.sleep(60);
      expect(jumps).toEqual([]);
      const skew = 5 * HOUR;
      Date.now = () => realNow() + skew; // as after a night of suspend
      for (let i = 0; i < 100 && jumps.length === 0; i++) await Bun.sleep(20);
      expect(jumps.length).toBe(1);
      expect(Math.abs(jumps[0]! - skew)).toBeLessThan(1000);
    } finally {
      Date.now = realNow;
      stop();
    }
  });
});

describe("time in the App", () => {
  test("the scheduler runs on the App's clock: a period of simulated time re-signs what nears expiry", async () => {
    const clock = new ManualClock();
    const s = await bootstrapped(clock);
    try {
      const before = version(s, "timestamp");
      clock.advance(17 * HOUR); // nothing within the 6-hour window yet
      await settle(s);
      expect(version(s, "timestamp")).toBe(before);
      clock.advance(2 * HOUR); // 5 hours left: re-signed on the next period
      await settle(s);
      expect(version(s, "timestamp")).toBe(before + 1);
      expect(Date.parse(s.app.repo.heads().find((h) => h.role === "timestamp")!.expires)).toBeGreaterThan(
        clock.now() + 23 * HOUR,
      );
    } finally {
      await s.stop();
    }
  }, 60_000);

  test("a jump of the clock wakes the scheduler at once (no period passes)", async () => {
    const clock = new ManualClock();
    const s = await bootstrapped(clock);
    try {
      const before = version(s, "timestamp");
      // Today's main: nothing happens until the next 60-s timer, whatever the wall clock says.
      clock.jump(20 * HOUR);
      await settle(s);
      expect(version(s, "timestamp")).toBe(before + 1);
      for (const doc of await served(s)) expect([doc.name, doc.expires > clock.now()]).toEqual([doc.name, true]);
    } finally {
      await s.stop();
    }
  }, 60_000);

  test("a request for an expired timestamp.json re-signs at once and gets the new one", async () => {
    const clock = new ManualClock();
    const s = await bootstrapped(clock);
    try {
      // No scheduler at all: only the request itself can notice.
      s.app.scheduler.stop();
      const before = version(s, "timestamp");
      clock.jump(50 * HOUR);
      expect(s.app.freshness.expired("timestamp.json")).toBe(true);
      const ts = await getJson(`${s.url}/metadata/timestamp.json`);
      expect(ts.signed.version).toBeGreaterThan(before);
      expect(Date.parse(ts.signed.expires)).toBeGreaterThan(clock.now());
      // The whole chain it points to was re-signed in the same batch.
      for (const doc of await served(s)) expect([doc.name, doc.expires > clock.now()]).toEqual([doc.name, true]);
    } finally {
      await s.stop();
    }
  }, 60_000);
});

describe("30 simulated days with the default expiries", () => {
  test("no served document is ever expired, across suspends and restarts", async () => {
    const seed = Number(process.env.TUFBOX_TEST_SEED ?? 20_261_130);
    const random = prng(seed);
    const clock = new ManualClock();
    const dataDir = tempDir("tufbox-sim-");
    dirs.push(dataDir);
    let s = await bootstrapped(clock, dataDir);
    const start = clock.now();
    const firstTimestamp = version(s, "timestamp");
    const stats = { events: 0, samples: 0, suspends: 0, restarts: 0, artifacts: 0, longestSuspendH: 0 };
    const check = async (when: string) => {
      stats.samples++;
      const now = clock.now();
      for (const doc of await served(s)) {
        if (doc.expires <= now)
          throw new Error(
            `seed ${seed}, day ${((now - start) / DAY).toFixed(2)} (${when}): ${doc.version}.${doc.name} expired at ${new Date(doc.expires).toISOString()}, now ${new Date(now).toISOString()}`,
          );
      }
    };
    try {
      while (clock.now() - start < 30 * DAY) {
        stats.events++;
        const r = random();
        if (r < 0.06) {
          // Suspend: wall time moves, elapsed time does not (2 to 40 hours).
          const hours = 2 + Math.floor(random() * 38);
          stats.suspends++;
          stats.longestSuspendH = Math.max(stats.longestSuspendH, hours);
          clock.jump(hours * HOUR);
          await check(`right after a ${hours}-hour suspend`);
        } else if (r < 0.09) {
          // Restart, with time passing while nothing runs (1 to 30 hours).
          stats.restarts++;
          await s.stop();
          clock.jump((1 + Math.floor(random() * 30)) * HOUR);
          s = await startTestServer({ clock, dataDir });
          await check("right after a restart");
        } else {
          clock.advance((10 + Math.floor(random() * 80)) * 60_000);
          await check("right after time passed");
          if (random() < 0.1) {
            stats.artifacts++;
            const a = await s.api("POST", "/api/v1/artifacts", {
              artifacts: [
                { path: `day-${stats.events}.bin`, info: { length: 1, hashes: { sha256: "ef".repeat(32) } } },
              ],
            });
            expect(a.status).toBe(202);
          }
        }
        await settle(s);
        if (stats.events % 3 === 0) await check("after settling");
      }
      // Time really was simulated, and re-signing really happened, many times.
      expect(clock.now() - start).toBeGreaterThanOrEqual(30 * DAY);
      expect(stats.suspends).toBeGreaterThan(5);
      expect(stats.restarts).toBeGreaterThan(3);
      expect(stats.longestSuspendH).toBeGreaterThan(24);
      expect(version(s, "timestamp") - firstTimestamp).toBeGreaterThan(30);
      // And the repository it ends with verifies with the real client.
      const trusted = new Uint8Array(await (await fetch(`${s.url}/metadata/1.root.json`)).arrayBuffer());
      const client = tufClient(s.url, join(dataDir, "client"), trusted);
      await client.refresh();
      expect(client.version("timestamp")).toBe(version(s, "timestamp"));
    } finally {
      await s.stop();
    }
    console.log(`30-day simulation (seed ${seed}):`, JSON.stringify(stats));
  }, 300_000);
});
