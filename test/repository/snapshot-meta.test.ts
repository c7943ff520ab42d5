import { describe, expect, test } from "bun:test";
import { canonicalObjectFromEntries } from "../../src/tuf/canonical.ts";
import { applySnapshotMeta, snapshotMetaText } from "../../src/repository/snapshot-meta.ts";
import { prng } from "../helpers/random.ts";

describe("snapshot meta text", () => {
  test("equals a full canonical rebuild through many incremental changes, new names included", () => {
    const rand = prng(15);
    const meta = new Map<string, string>();
    for (let i = 0; i < 300; i++) meta.set(`bins-${i.toString(16).padStart(3, "0")}.json`, '{"version":1}');
    meta.set("targets.json", '{"version":1}');
    for (let round = 0; round < 50; round++) {
      const changes = new Map<string, string>();
      for (let j = 0; j < 1 + Math.floor(rand() * 5); j++) {
        const name =
          rand() < 0.1 ? `role-${Math.floor(rand() * 1000)}.json` : [...meta.keys()][Math.floor(rand() * meta.size)]!;
        changes.set(name, `{"version":${round + 2}}`);
      }
      const expected = canonicalObjectFromEntries([...new Map([...meta, ...changes])]);
      expect(snapshotMetaText(meta, changes)).toBe(expected);
      // Not applied until asked.
      expect(snapshotMetaText(meta, new Map())).toBe(canonicalObjectFromEntries([...meta]));
      applySnapshotMeta(meta, changes);
      expect(snapshotMetaText(meta, new Map())).toBe(expected);
    }
  });
});
