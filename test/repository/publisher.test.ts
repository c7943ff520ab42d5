import { expect, test } from "bun:test";
import { adaptiveLingerMs, lingerBeforeBatch } from "../../src/repository/publisher.ts";

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
