/**
 * Role names and online roles (src/tuf/roles.ts). Two online-role lists once
 * disagreed in this code base (one with "bins", one without); these tests
 * settle what each list means and that both are right for their use.
 */
import { describe, expect, test } from "bun:test";
import {
  BINS,
  EXPIRING_ROLES,
  ONLINE_ROLES,
  ONLINE_TOP_LEVEL_ROLES,
  ROLE_NAME,
  SuccinctBins,
  TOP_LEVEL_ROLES,
  isBinLikeName,
  isSignedByOnlineKey,
  isTargetsRole,
  isTopLevelRole,
  onlineKeyId,
  onlineRoleProblem,
  parseRoot,
  publicationRank,
} from "../../src/tuf/index.ts";
import { PAYLOADS, clone, fixtureJson } from "./helpers.ts";

describe("online roles", () => {
  test("root assigns targets, snapshot and timestamp to the online key: every fixture root agrees", () => {
    expect([...ONLINE_TOP_LEVEL_ROLES]).toEqual(["targets", "snapshot", "timestamp"]);
    for (const p of PAYLOADS) {
      const root = parseRoot(clone(fixtureJson(p).metadata.root)).signed;
      const online = onlineKeyId(root)!;
      expect(root.roles.root.keyids).not.toContain(online);
      for (const role of ONLINE_TOP_LEVEL_ROLES) {
        expect(root.roles[role]).toEqual({ keyids: [online], threshold: 1 });
        expect(onlineRoleProblem(root, role)).toBeNull();
      }
    }
  });

  test('"bins" is not a root role: it is a re-sign name for every hash bin, so only ONLINE_ROLES has it', () => {
    const root = parseRoot(clone(fixtureJson("bootstrap-bins.json").metadata.root)).signed;
    expect(Object.keys(root.roles).sort()).toEqual([...TOP_LEVEL_ROLES].sort());
    expect((root.roles as Record<string, unknown>)[BINS]).toBeUndefined();
    expect([...ONLINE_ROLES]).toEqual([...ONLINE_TOP_LEVEL_ROLES, "bins"]);
    expect(ONLINE_TOP_LEVEL_ROLES as readonly string[]).not.toContain(BINS);
    // RSTUF's bins are signed by the same online key, but delegated by targets (TAP 15).
    expect(new SuccinctBins(4).names().every(isBinLikeName)).toBe(true);
  });

  test("roles with an expiry setting: the top-level roles and bins", () => {
    expect([...EXPIRING_ROLES]).toEqual(["root", "targets", "snapshot", "timestamp", "bins"]);
  });

  test("onlineRoleProblem names the first thing wrong: keys/threshold, then a key other than timestamp's", () => {
    const root = parseRoot(clone(fixtureJson("bootstrap-bins.json").metadata.root)).signed;
    const online = onlineKeyId(root)!;
    const rootKey = root.roles.root.keyids[0]!;
    const two = { ...root, roles: { ...root.roles, snapshot: { keyids: [online, rootKey], threshold: 1 } } };
    expect(onlineRoleProblem(two, "snapshot")).toBe("keys");
    const t2 = { ...root, roles: { ...root.roles, targets: { keyids: [online], threshold: 2 } } };
    expect(onlineRoleProblem(t2, "targets")).toBe("keys");
    const other = { ...root, roles: { ...root.roles, targets: { keyids: [rootKey], threshold: 1 } } };
    // A key of its own per role is allowed (issue 17: per-role online keys).
    expect(onlineRoleProblem(other, "targets")).toBeNull();
    expect(onlineRoleProblem(other, "timestamp")).toBeNull();
  });

  test("a delegated role is online when the online key alone signs it", () => {
    expect(isSignedByOnlineKey({ keyids: ["a"] }, "a")).toBe(true);
    expect(isSignedByOnlineKey({ keyids: ["a", "b"] }, "a")).toBe(false);
    expect(isSignedByOnlineKey({ keyids: ["b"] }, "a")).toBe(false);
    expect(isSignedByOnlineKey({ keyids: [] }, undefined)).toBe(false);
  });
});

describe("role names", () => {
  test("top-level, targets and reserved names", () => {
    for (const r of TOP_LEVEL_ROLES) expect(isTopLevelRole(r)).toBe(true);
    expect(isTopLevelRole("bins")).toBe(false);
    expect(isTopLevelRole("Root")).toBe(false);
    expect(["targets", "bins-0a", "releases"].every(isTargetsRole)).toBe(true);
    expect(["root", "snapshot", "timestamp"].some(isTargetsRole)).toBe(false);
    expect(isBinLikeName("bins-3")).toBe(true);
    expect(isBinLikeName("binsx")).toBe(false);
    expect(ROLE_NAME.test("my-role_2")).toBe(true);
    for (const bad of ["", "a.b", "a/b", "a b", "ü"]) expect(ROLE_NAME.test(bad)).toBe(false);
  });

  test("publication order: root, targets roles, snapshot, timestamp", () => {
    const roles = ["timestamp", "snapshot", "bins-1", "targets", "root", "releases"];
    const sorted = [...roles].sort((a, b) => publicationRank(a) - publicationRank(b));
    expect(sorted[0]).toBe("root");
    expect(sorted.slice(-2)).toEqual(["snapshot", "timestamp"]);
  });
});
