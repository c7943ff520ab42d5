/**
 * Delegated-path matching (src/tuf/delegation.ts) against tuf-js's own
 * matcher (@tufjs/models DelegatedRole.isDelegatedPath: minimatch per
 * segment), on a generated corpus of patterns and paths. Where a repository
 * and its clients disagree, a client looks for a target in another role than
 * the one it was published in, and cannot download it.
 *
 * On the portable subset the two agree everywhere; outside it, every
 * difference is listed below with what python-tuf (fnmatch per segment) does.
 */
import { describe, expect, test } from "bun:test";
import { DelegatedRole as TufJsRole } from "@tufjs/models/dist/role.js";
import { createHash } from "node:crypto";
import { firstRoleForPath, pathMatchesPattern, roleMatchesPath } from "../../src/tuf/delegation.ts";
import type { DelegatedRole } from "../../src/tuf/metadata.ts";
import { prng } from "../helpers/random.ts";

function tufjsRole(role: { paths?: string[]; path_hash_prefixes?: string[] }): TufJsRole {
  return new TufJsRole({
    name: "r",
    keyIDs: [],
    threshold: 1,
    terminating: false,
    paths: role.paths,
    pathHashPrefixes: role.path_hash_prefixes,
  });
}

function tufjs(path: string, role: { paths?: string[]; path_hash_prefixes?: string[] }): boolean {
  return tufjsRole(role).isDelegatedPath(path);
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

// The portable subset: literals (no leading '.'), *, ?, classes with ranges, ! negation and a leading ].
const PATTERN_PARTS = [
  "a",
  "b",
  "c",
  "z",
  "1",
  "-",
  "_",
  "~",
  "ü",
  " ",
  "*",
  "?",
  "[ab]",
  "[a-c]",
  "[!a]",
  "[]a]",
  ".gz",
  ".tar",
];
const PATH_PARTS = ["a", "b", "c", "z", "1", "-", "_", "~", "ü", " ", "]", ".gz", ".tar", "x", "ab"];

function segment(rnd: () => number, parts: readonly string[]): string {
  let s = "";
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) s += pick(rnd, parts);
  // A leading '.' is where the clients part ways (see below): the corpus keeps to the portable subset.
  return s.startsWith(".") ? `a${s}` : s;
}

function pathOf(rnd: () => number, parts: readonly string[]): string {
  return Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => segment(rnd, parts)).join("/");
}

describe("paths: agrees with tuf-js on the portable subset", () => {
  test("a generated corpus of 100,000 pattern/path pairs", () => {
    const rnd = prng(20_241_130);
    let matched = 0;
    const disagreements: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const pattern = pathOf(rnd, PATTERN_PARTS);
      const theirs = tufjsRole({ paths: [pattern] });
      const paths = Array.from({ length: 100 }, () => pathOf(rnd, PATH_PARTS));
      // Also paths made from the pattern itself, so that matches are common.
      for (let k = 0; k < 10; k++) paths[k] = pattern.replace(/\*/g, pick(rnd, ["a", "xyz", "b"])).replace(/\?/g, "q");
      for (const path of paths) {
        const ours = pathMatchesPattern(path, pattern);
        if (ours) matched++;
        if (ours !== theirs.isDelegatedPath(path))
          disagreements.push(`${JSON.stringify(pattern)} ${JSON.stringify(path)}: tufbox ${ours}`);
      }
    }
    expect(disagreements.slice(0, 20)).toEqual([]);
    expect(matched).toBeGreaterThan(2_000);
  });

  test("a '*' never crosses a '/': patterns match segment by segment", () => {
    for (const [path, pattern, want] of [
      ["releases/app.tar.gz", "releases/*", true],
      ["releases/v1/app.tar.gz", "releases/*", false],
      ["releases/v1/app.tar.gz", "releases/*/*.tar.gz", true],
      ["app.tar.gz", "*.tar.gz", true],
      ["a/app.tar.gz", "*.tar.gz", false],
    ] as const) {
      expect(pathMatchesPattern(path, pattern)).toBe(want);
      expect(tufjs(path, { paths: [pattern] })).toBe(want);
    }
  });
});

describe("paths: where clients differ (documented in src/tuf/delegation.ts)", () => {
  // [pattern, path, tufbox, tuf-js, python-tuf (fnmatch), why]
  const table: [string, string, boolean, boolean, boolean, string][] = [
    ["*", ".hidden", true, false, true, "minimatch's wildcards never match a leading '.'"],
    ["*.gz", ".gz", true, false, true, "the same, for a pattern starting with a wildcard"],
    ["?a", ".a", true, false, true, "'?' and a leading '.'"],
    ["[!a]", ".", true, false, true, "classes and a leading '.'"],
    ["{a,b}", "a", false, true, false, "braces are minimatch syntax"],
    ["{a,b}", "{a,b}", true, false, true, "fnmatch and tufbox read braces literally"],
    ["+(a|b)", "a", false, true, false, "extglobs are minimatch syntax"],
    ["!a", "b", false, true, false, "a leading '!' negates in minimatch"],
    ["#a", "#a", true, false, true, "a leading '#' makes a minimatch comment, matching nothing"],
    ["\\*", "*", false, true, false, "'\\' escapes in minimatch; a character in fnmatch and tufbox"],
    ["[[:alpha:]]", "a", false, true, false, "POSIX classes are minimatch syntax"],
    ["[^a]", "b", true, true, false, "fnmatch reads '^' literally; tufbox and minimatch negate"],
  ];
  test.each(table)("%p vs %p", (pattern, path, ours, theirs) => {
    expect(pathMatchesPattern(path, pattern)).toBe(ours);
    expect(tufjs(path, { paths: [pattern] })).toBe(theirs);
  });

  test("no row is a difference that does not exist", () => {
    for (const [pattern, path, ours, theirs] of table)
      expect({ pattern, path, differs: ours !== theirs }).toEqual({ pattern, path, differs: pattern !== "[^a]" });
  });
});

describe("path_hash_prefixes", () => {
  test("agrees with tuf-js: sha256(path) starts with a prefix", () => {
    const rnd = prng(7);
    for (let i = 0; i < 5000; i++) {
      const path = pathOf(rnd, PATH_PARTS);
      const digest = createHash("sha256").update(path).digest("hex");
      const prefixes = [pick(rnd, ["0", "8", "f", "a3", "00"]), digest.slice(0, 1 + Math.floor(rnd() * 3))];
      const role = { path_hash_prefixes: rnd() < 0.5 ? prefixes.slice(0, 1) : prefixes };
      expect(roleMatchesPath(role, path)).toBe(tufjs(path, role));
    }
  });
});

describe("firstRoleForPath", () => {
  const role = (name: string, paths: string[]): DelegatedRole => ({
    name,
    keyids: [],
    threshold: 1,
    terminating: false,
    paths,
  });

  test("the first listed role that matches wins (spec 5.6.7, preorder in listed order)", () => {
    const roles = [
      role("nightly", ["nightly/*"]),
      role("releases", ["releases/*", "*/stable/*"]),
      role("all", ["*/*"]),
    ];
    expect(firstRoleForPath(roles, "nightly/app")?.name).toBe("nightly");
    expect(firstRoleForPath(roles, "releases/app")?.name).toBe("releases");
    expect(firstRoleForPath(roles, "x/stable/app")?.name).toBe("releases");
    expect(firstRoleForPath(roles, "docs/readme")?.name).toBe("all");
    expect(firstRoleForPath(roles, "top-level")).toBeUndefined();
  });
});
