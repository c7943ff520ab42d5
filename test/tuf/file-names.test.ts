/** Metadata file names: built and parsed in one place (src/tuf/file-names.ts). */
import { describe, expect, test } from "bun:test";
import {
  clientFileName,
  metadataFileName,
  parseMetadataFileName,
  roleOfSnapshotMetaName,
  snapshotMetaName,
} from "../../src/tuf/file-names.ts";

describe("parseMetadataFileName", () => {
  test.each([
    ["12.root.json", { role: "root", version: 12 }],
    ["3.bins-0a3.json", { role: "bins-0a3", version: 3 }],
    ["timestamp.json", { role: "timestamp", version: null }],
    ["root.json", { role: "root", version: null }],
    ["2.my.role.json", { role: "my.role", version: 2 }],
  ])("%s", (name, parsed) => {
    expect(parseMetadataFileName(name)).toEqual(parsed);
  });

  test.each([
    "",
    "root",
    "0.root.json",
    "01.root.json",
    ".json",
    "../root.json",
    "a/b.json",
    "a\\b.json",
    "x\u0000.json",
    ".hidden.json",
    "99999999999999999.root.json",
    `${"a".repeat(300)}.json`,
  ])("rejects %p", (name) => {
    expect(parseMetadataFileName(name)).toBeUndefined();
  });
});

describe("metadataFileName", () => {
  test("every version is N.<role>.json; timestamp is only ever timestamp.json", () => {
    expect(metadataFileName("root", 3)).toBe("3.root.json");
    expect(metadataFileName("bins-0a3", 12)).toBe("12.bins-0a3.json");
    expect(metadataFileName("snapshot", 1)).toBe("1.snapshot.json");
    expect(metadataFileName("timestamp", 7)).toBe("timestamp.json");
  });

  test("what is built parses back to the same role and version", () => {
    for (const [role, version] of [
      ["root", 1],
      ["targets", 99],
      ["bins-fff", 2],
      ["my.role", 5],
      ["a-b_c", 9_007_199_254_740_991],
    ] as const) {
      expect(parseMetadataFileName(metadataFileName(role, version))).toEqual({ role, version });
    }
    expect(parseMetadataFileName(metadataFileName("timestamp", 4))).toEqual({ role: "timestamp", version: null });
  });

  test("clients ask for versioned names only with consistent snapshots, never for timestamp", () => {
    expect(clientFileName("snapshot", 4, true)).toBe("4.snapshot.json");
    expect(clientFileName("snapshot", 4, false)).toBe("snapshot.json");
    expect(clientFileName("targets", undefined, true)).toBe("targets.json");
    expect(clientFileName("timestamp", 4, true)).toBe("timestamp.json");
  });

  test("snapshot meta names a role by its unversioned file name", () => {
    expect(snapshotMetaName("bins-0a")).toBe("bins-0a.json");
    expect(snapshotMetaName("targets")).toBe("targets.json");
    for (const role of ["targets", "bins-0a", "my.role"])
      expect(roleOfSnapshotMetaName(snapshotMetaName(role))).toBe(role);
    expect(roleOfSnapshotMetaName(".json")).toBeUndefined();
    expect(roleOfSnapshotMetaName("targets")).toBeUndefined();
  });
});
