import { expect, test } from "bun:test";
import { adaptiveLingerMs } from "../../src/repository/publisher.ts";

test("small batches keep the configured linger; large ones wait longer, at most 1 s", () => {
  expect(adaptiveLingerMs(5, 1, 30)).toBe(5);
  expect(adaptiveLingerMs(5, 999, 800)).toBe(5);
  expect(adaptiveLingerMs(5, 1000, 400)).toBe(200);
  expect(adaptiveLingerMs(5, 50_000, 4000)).toBe(1000);
  expect(adaptiveLingerMs(300, 5000, 100)).toBe(300);
});
