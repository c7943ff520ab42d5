/** Hash bins inside a custom delegation: names, parents and the rules on them (src/tuf/delegated-bins.ts). */
import { describe, expect, test } from "bun:test";
import { nestedBinParent, nestedBinsOf, nestedBinsProblem } from "../../src/tuf/delegated-bins.ts";
import type { DelegatedRole } from "../../src/tuf/metadata.ts";

const ONLINE = "ab".repeat(32);
const role = (name: string, extra: Record<string, unknown> = {}): DelegatedRole => ({
  name,
  keyids: [ONLINE],
  threshold: 1,
  terminating: false,
  paths: [`${name}/*`],
  ...extra,
});

describe("hash bins inside a custom delegation", () => {
  test("bins are <role>-bins-<hex>, padded to the width of the last bin", () => {
    expect(nestedBinsOf(role("pypi"))).toBeNull();
    const bins = nestedBinsOf(role("pypi", { "x-rstuf-num-bins": 256 }))!;
    expect(bins.names()[0]).toBe("pypi-bins-00");
    expect(bins.names().at(-1)).toBe("pypi-bins-ff");
    expect(nestedBinsOf(role("a", { "x-rstuf-num-bins": 16384 }))!.nameOf(0)).toBe("a-bins-0000");
    expect(() => nestedBinsOf(role("c", { "x-rstuf-num-bins": 3 }))).toThrow("power of two");
  });

  test("a bin name leads to its role; other names, wrong widths and other roles' names do not", () => {
    const roles = [role("pypi", { "x-rstuf-num-bins": 16 }), role("npm"), role("my-bins-x")];
    expect(nestedBinParent(roles, "pypi-bins-a")?.role.name).toBe("pypi");
    expect(nestedBinParent(roles, "pypi-bins-0a")).toBeUndefined();
    expect(nestedBinParent(roles, "pypi-bins-g")).toBeUndefined();
    expect(nestedBinParent(roles, "npm-bins-0")).toBeUndefined();
    expect(nestedBinParent(roles, "pypi")).toBeUndefined();
    expect(nestedBinParent(roles, "my-bins-x")).toBeUndefined();
  });

  test("the rules: online key, names that fit and do not clash, 16384 bins in all", () => {
    expect(nestedBinsProblem([role("pypi", { "x-rstuf-num-bins": 16 })], ONLINE)).toBeNull();
    expect(nestedBinsProblem([role("pypi", { "x-rstuf-num-bins": 16, keyids: [] })], null)).toBeNull();
    expect(
      nestedBinsProblem([role("pypi", { "x-rstuf-num-bins": 16, keyids: ["cd".repeat(32)] })], ONLINE)?.reason,
    ).toContain("needs a role signed by the online key");
    expect(nestedBinsProblem([role("p".repeat(58), { "x-rstuf-num-bins": 16 })], ONLINE)?.reason).toContain(
      "longer than 64 characters",
    );
    expect(nestedBinsProblem([role("pypi", { "x-rstuf-num-bins": 16 }), role("pypi-bins-3")], ONLINE)?.reason).toBe(
      "role name pypi-bins-3 is one of pypi's bin names",
    );
    expect(
      nestedBinsProblem([role("a", { "x-rstuf-num-bins": 16384 }), role("b", { "x-rstuf-num-bins": 2 })], ONLINE)
        ?.reason,
    ).toBe("delegated roles would have 16386 bins together; at most 16384");
  });
});
