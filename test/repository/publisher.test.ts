import { describe, expect, test } from "bun:test";
import { adaptiveLingerMs, gatherBurst, lingerBeforeBatch, Publisher } from "../../src/repository/publisher.ts";
import type { Repository } from "../../src/repository/repository.ts";
import { silentLogger } from "../../src/log.ts";

test("small batches keep the configured linger; large ones wait longer, at most 1 s", () => {
  expect(adaptiveLingerMs(5, 1, 30)).toBe(5);
  expect(adaptiveLingerMs(5, 999, 800)).toBe(5);
  expect(adaptiveLingerMs(5, 1000, 400)).toBe(200);
  expect(adaptiveLingerMs(5, 50_000, 4000)).toBe(1000);
  expect(adaptiveLingerMs(300, 5000, 100)).toBe(300);
});

test("the adaptive linger applies only while a burst's worth of changes is pending", () => {
  // after a large import: a lone add waits the configured linger, not the burst's
  expect(lingerBeforeBatch(1000, 2, 1)).toBe(2);
  expect(lingerBeforeBatch(1000, 2, 999)).toBe(2);
  // a burst still arriving keeps gathering
  expect(lingerBeforeBatch(1000, 2, 1000)).toBe(1000);
  expect(lingerBeforeBatch(400, 2, 50_000)).toBe(400);
});

describe("gatherBurst", () => {
  /** a queue whose pending count follows `counts`, one per look; the waits it was asked for */
  function queue(counts: number[]) {
    let i = 0;
    const waits: number[] = [];
    return {
      waits,
      pending: async () => counts[Math.min(i++, counts.length - 1)]!,
      sleep: async (ms: number) => void waits.push(ms),
    };
  }

  test("single adds are never held back", async () => {
    const q = queue([3, 5, 9]);
    expect(await gatherBurst(q.pending, { maxBatch: 200_000, maxMs: 5000, sleep: q.sleep })).toBe(3);
    expect(q.waits).toEqual([]);
  });

  test("a burst is gathered while it keeps growing, and no longer", async () => {
    const q = queue([1000, 26_000, 51_000, 77_000, 77_000, 90_000]);
    expect(await gatherBurst(q.pending, { maxBatch: 200_000, maxMs: 5000, stepMs: 100, sleep: q.sleep })).toBe(77_000);
    expect(q.waits).toEqual([100, 100, 100, 100]);
  });

  test("publisher.burst_wait_ms = 0 never waits", async () => {
    const q = queue([1000, 26_000, 51_000]);
    expect(await gatherBurst(q.pending, { maxBatch: 200_000, maxMs: 0, sleep: q.sleep })).toBe(1000);
    expect(q.waits).toEqual([]);
  });

  test("at most maxMs, and never beyond a full batch", async () => {
    const growing = Array.from({ length: 100 }, (_, i) => 1000 * (i + 1));
    const slow = queue(growing);
    expect(await gatherBurst(slow.pending, { maxBatch: 1_000_000, maxMs: 500, stepMs: 100, sleep: slow.sleep })).toBe(
      6000,
    );
    expect(slow.waits.length).toBe(5);
    const full = queue(growing.map((n) => n * 50));
    expect(await gatherBurst(full.pending, { maxBatch: 200_000, maxMs: 5000, stepMs: 100, sleep: full.sleep })).toBe(
      200_000,
    );
    expect(full.waits.length).toBe(3);
  });
});

test("the publisher starts a burst's batch once the queue stopped growing", async () => {
  // A queue a burst is still arriving in: each look sees more, until it stops.
  let growth = [1000, 5000, 9000, 9000];
  let looks = 0;
  let pending = 0;
  const batches: number[] = [];
  const repo = {
    onWake() {},
    async syncFromStore() {},
    async countPendingChanges() {
      pending = growth[Math.min(looks++, growth.length - 1)]!;
      return pending;
    },
    async publishOnce() {
      if (pending === 0) return { changes: 0, documents: 0, timestampVersion: null };
      batches.push(pending);
      const changes = pending;
      pending = 0;
      growth = [0];
      looks = 0;
      return { changes, documents: 1, timestampVersion: batches.length };
    },
  };
  const publisher = new Publisher(repo as unknown as Repository, silentLogger(), { lingerMs: 0, pollMs: 60_000 });
  publisher.start();
  await publisher.idle();
  await publisher.stop();
  // one batch with all of it, not one with the first 1000 and another with the rest
  expect(batches).toEqual([9000]);
});
