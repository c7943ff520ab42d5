/** The built-in alert sources, each against a state the test sets and a clock it moves. */
import { describe, expect, test } from "bun:test";
import {
  jobsSource,
  offlineExpirySource,
  onlineOverdueSource,
  publisherSource,
  targetsSizeSource,
  type AlertState,
} from "../../src/alerts/sources.ts";
import { parseOfflineExpiryDays } from "../../src/alerts/config.ts";
import type { TargetsSigned } from "../../src/tuf/metadata.ts";

const DAY = 86_400_000;
const NOW = new Date("2035-06-01T00:00:00Z");
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function state(over: Partial<AlertState> & { headsList?: { role: string; expires: string }[] } = {}): AlertState {
  const heads = (over.headsList ?? []).map((h, i) => ({ ...h, version: i + 1 }));
  return {
    bootstrapped: () => true,
    heads: () => heads,
    onlineKeyIds: () => new Set(["online"]),
    targets: async () => undefined,
    isBin: (r) => r.startsWith("bins-"),
    largestTargetsRole: () => null,
    publisherError: () => null,
    jobs: () => [],
    resignWindowMs: 6 * 3_600_000,
    ...over,
  };
}

const targetsWith = (roles: { name: string; keyids: string[] }[]) =>
  ({
    delegations: { keys: {}, roles: roles.map((r) => ({ ...r, threshold: 1, terminating: true, paths: ["*"] })) },
  }) as unknown as TargetsSigned;

describe("offline role expiry", () => {
  const days = parseOfflineExpiryDays({});
  test("root: nothing at 31 days, a warning at 29, critical in the last quarter, and once expired", async () => {
    const src = (ms: number) => offlineExpirySource(state({ headsList: [{ role: "root", expires: at(ms) }] }), days);
    expect(await src(31 * DAY).evaluate(NOW)).toEqual([]);
    const [w] = await src(29 * DAY).evaluate(NOW);
    expect(w).toMatchObject({ key: "offline_role_expiring:root", severity: "warning", value: 29 * 86_400 });
    expect(w!.summary).toContain("root expires in 29 days");
    expect((await src(7 * DAY).evaluate(NOW))[0]!.severity).toBe("critical");
    const [e] = await src(-3600_000).evaluate(NOW);
    expect(e!.summary).toContain("EXPIRED");
  });

  test("offline delegated roles use their own days or `default` (14); online ones are not offline", async () => {
    const s = state({
      headsList: [
        { role: "root", expires: at(300 * DAY) },
        { role: "release", expires: at(20 * DAY) },
        { role: "nightly", expires: at(10 * DAY) },
        { role: "online-role", expires: at(1 * DAY) },
      ],
      targets: async () =>
        targetsWith([
          { name: "release", keyids: ["k1", "k2"] },
          { name: "nightly", keyids: ["k3"] },
          { name: "online-role", keyids: ["online"] },
        ]),
    });
    const keys = async (d: Record<string, number>) =>
      (await offlineExpirySource(s, parseOfflineExpiryDays(d)).evaluate(NOW)).map((a) => a.subject);
    expect(await keys({})).toEqual(["nightly"]);
    expect(await keys({ release: 21 })).toEqual(["release", "nightly"]);
    expect(await keys({ default: 5 })).toEqual([]);
    expect(await keys({ root: 365 })).toEqual(["root", "nightly"]);
  });

  test("configuration: merged over the defaults; text form; bad values name the limit", () => {
    expect(parseOfflineExpiryDays({ release: 21 })).toEqual({ root: 30, default: 14, release: 21 });
    expect(parseOfflineExpiryDays("root=45, default=7")).toEqual({ root: 45, default: 7 });
    expect(() => parseOfflineExpiryDays({ root: 0 })).toThrow("1-3650");
    expect(() => parseOfflineExpiryDays([30])).toThrow("mapping of role name to days");
  });

  test("nothing before bootstrap", async () => {
    expect(await offlineExpirySource(state({ bootstrapped: () => false }), days).evaluate(NOW)).toEqual([]);
  });
});

describe("online roles not re-signed in time", () => {
  test("closer than half the re-sign window: warning; within 10 minutes or expired: critical; bins summarised", async () => {
    const s = state({
      headsList: [
        { role: "root", expires: at(1 * DAY) },
        { role: "timestamp", expires: at(2 * 3_600_000) },
        { role: "snapshot", expires: at(5 * 60_000) },
        { role: "targets", expires: at(300 * DAY) },
        { role: "bins-0", expires: at(3_600_000) },
        { role: "bins-1", expires: at(-60_000) },
        { role: "bins-2", expires: at(DAY) },
      ],
    });
    const alerts = await onlineOverdueSource(s).evaluate(NOW);
    expect(alerts.map((a) => [a.subject, a.severity])).toEqual([
      ["timestamp", "warning"],
      ["snapshot", "critical"],
      ["bins", "critical"],
    ]);
    expect(alerts[2]!.summary).toBe("2 bin(s) not re-signed in time; bins-1 EXPIRED 60 s ago");
  });
});

describe("publisher, jobs, document size", () => {
  test("the publisher alerts only once a failure has lasted a minute, and forgets it on success", () => {
    let error: string | null = "database is locked";
    const src = publisherSource(state({ publisherError: () => error }));
    expect(src.evaluate(NOW)).toEqual([]);
    expect(src.evaluate(new Date(NOW.getTime() + 59_000))).toEqual([]);
    const [a] = src.evaluate(new Date(NOW.getTime() + 60_000)) as any[];
    expect(a).toMatchObject({ kind: "publisher_failing", severity: "critical", since: NOW.toISOString() });
    error = null;
    expect(src.evaluate(new Date(NOW.getTime() + 61_000))).toEqual([]);
    error = "again";
    expect(src.evaluate(new Date(NOW.getTime() + 62_000))).toEqual([]);
  });

  test("a job whose last run failed", () => {
    const src = jobsSource(
      state({
        jobs: () => [
          { name: "resign-expiring", lastRun: NOW.toISOString(), lastResult: "failed: no online key" },
          { name: "prune-tasks", lastRun: NOW.toISOString(), lastResult: "pruned 3 task(s)" },
        ],
      }),
    );
    expect(src.evaluate(NOW)).toMatchObject([{ subject: "resign-expiring", severity: "critical" }]);
  });

  test("a targets document past 80 % of the 5,000,000-byte client limit; critical from 95 %", () => {
    const src = (bytes: number) => targetsSizeSource(state({ largestTargetsRole: () => ({ role: "bins-3f", bytes }) }));
    expect(src(3_999_999).evaluate(NOW)).toEqual([]);
    expect(src(4_000_000).evaluate(NOW)).toMatchObject([{ subject: "bins-3f", severity: "warning", value: 4_000_000 }]);
    expect(src(4_750_000).evaluate(NOW)).toMatchObject([{ severity: "critical" }]);
  });
});
