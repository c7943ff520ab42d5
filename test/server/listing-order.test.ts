import { expect, test } from "bun:test";
import { compareListedNames } from "../../src/server/listing-order.ts";

test("role first (root, timestamp, snapshot, targets, then delegated roles by name), then version as a number", () => {
  const names = [
    "1.bins-1.json",
    "10.snapshot.json",
    "targets.json",
    "2.root.json",
    "timestamp.json",
    "10.root.json",
    "1.targets.json",
    "2.bins-0.json",
    "9.root.json",
    "root.json",
    "1.snapshot.json",
    "1.bins-0.json",
    "1.root.json",
  ];
  expect(names.sort(compareListedNames)).toEqual([
    "root.json",
    "1.root.json",
    "2.root.json",
    "9.root.json",
    "10.root.json",
    "timestamp.json",
    "1.snapshot.json",
    "10.snapshot.json",
    "targets.json",
    "1.targets.json",
    "1.bins-0.json",
    "2.bins-0.json",
    "1.bins-1.json",
  ]);
});
