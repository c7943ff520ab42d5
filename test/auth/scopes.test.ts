/** Scope rules and external scope mapping (src/auth/scopes.ts), and JWT shape detection. */
import { describe, expect, test } from "bun:test";
import { SCOPES, defaultScopeNames, grants, mapScopes, scopeClaim, type Scope } from "../../src/auth/scopes.ts";
import { looksLikeJwt } from "../../src/auth/jwt.ts";

describe("grants", () => {
  const table: [Scope[], Scope, boolean][] = [
    [["admin"], "read", true],
    [["admin"], "artifacts:write", true],
    [["admin"], "metadata:sign", true],
    [["admin"], "admin", true],
    [["read"], "read", true],
    [["read"], "artifacts:write", false],
    [["read"], "admin", false],
    [["artifacts:write"], "read", true],
    [["artifacts:write"], "artifacts:write", true],
    [["artifacts:write"], "metadata:sign", false],
    [["artifacts:write"], "admin", false],
    [["metadata:sign"], "read", true],
    [["metadata:sign"], "artifacts:write", false],
    [["metadata:sign"], "admin", false],
    [["artifacts:write", "metadata:sign"], "admin", false],
    [[], "read", false],
  ];
  test.each(table)("%j → %s: %p", (held, required, expected) => {
    expect(grants(held, required)).toBe(expected);
  });
});

describe("mapping external scope names", () => {
  test("default names are tufbox:<scope>", () => {
    expect(defaultScopeNames()).toEqual({
      read: ["tufbox:read"],
      "artifacts:write": ["tufbox:artifacts:write"],
      "metadata:sign": ["tufbox:metadata:sign"],
      admin: ["tufbox:admin"],
    });
    expect(mapScopes(["openid", "tufbox:read", "tufbox:admin", "read"], defaultScopeNames())).toEqual([
      "read",
      "admin",
    ]);
  });

  test("a realm's own names, several per scope", () => {
    const names = { ...defaultScopeNames(), read: ["rdfm_admin_ro", "rdfm_admin_rw"], admin: ["rdfm_admin_rw"] };
    expect(mapScopes(["rdfm_admin_ro"], names)).toEqual(["read"]);
    expect(mapScopes(["rdfm_admin_rw"], names)).toEqual(["read", "admin"]);
    expect(mapScopes([], names)).toEqual([]);
  });

  test("scope (space-separated) and scp (array or string) claims", () => {
    expect(scopeClaim({ scope: "a  b c" })).toEqual(["a", "b", "c"]);
    expect(scopeClaim({ scp: ["a", 3, "b"] })).toEqual(["a", "b"]);
    expect(scopeClaim({ scp: "x y" })).toEqual(["x", "y"]);
    expect(scopeClaim({ scope: "a", scp: ["b"] })).toEqual(["a", "b"]);
    expect(scopeClaim({ scope: 42 })).toEqual([]);
    expect(scopeClaim({})).toEqual([]);
  });

  test("every scope has a default name", () => {
    expect(Object.keys(defaultScopeNames()).sort()).toEqual([...SCOPES].sort());
  });
});

describe("looksLikeJwt", () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  test.each([
    [`${b64({ alg: "ES256" })}.${b64({ sub: "x" })}.c2ln`, true],
    [`${b64({ alg: "none" })}.${b64({ sub: "x" })}.`, true],
    [`${b64({ typ: "JWT" })}.${b64({})}.c2ln`, false],
    ["tufbox_abc.def.ghi", false],
    ["opaque-token-without-dots", false],
    ["a.b", false],
    [`${b64({ alg: "ES256" })}.x.y.z`, false],
    ["not+base64url.e30.c2ln", false],
  ])("%s → %p", (token, expected) => {
    expect(looksLikeJwt(token)).toBe(expected);
  });
});
