/**
 * The TUF-level bounds (src/tuf/limits.ts) and the checks that must never
 * recurse on untrusted depth.
 */
import { describe, expect, test } from "bun:test";
import { assertCanonicalSafe, canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { expiresIn } from "../../src/tuf/dates.ts";
import { TufError } from "../../src/tuf/errors.ts";
import {
  CLIENT_MAX_BYTES,
  CUSTOM_MAX_DEPTH,
  DOCUMENT_MAX_DEPTH,
  EXPIRATION_DAYS_MAX,
  checkCustomShape,
  checkExpirationDays,
  clientLimitViolation,
  documentDepth,
  nestingExceeds,
} from "../../src/tuf/limits.ts";
import { checkTargetPath } from "../../src/tuf/metadata.ts";

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe("no recursion on untrusted depth", () => {
  test("assertCanonicalSafe refuses 20,000 levels with a TufError, not a stack overflow", () => {
    // Today's main: RangeError: Maximum call stack size exceeded (a 500 through the API).
    let caught: unknown;
    try {
      assertCanonicalSafe(nested(20_000), "custom");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TufError);
    expect((caught as Error).message).toMatch(/nested deeper than 64 levels/);
  });

  test("assertCanonicalSafe still reports the first bad value by its field, in document order", () => {
    expect(() => assertCanonicalSafe({ a: [1, 2, { b: 1.5 }], c: 0.5 }, "x")).toThrow("x.a[2].b: number 1.5");
    expect(() => assertCanonicalSafe({ ok: [true, null, "s"] }, "x")).not.toThrow();
  });

  test("nestingExceeds answers a million levels without recursion", () => {
    const deep = JSON.parse(`${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`);
    expect(nestingExceeds(deep, 64)).toBe(true);
    expect(nestingExceeds(nested(32), 32)).toBe(false);
    expect(nestingExceeds(nested(33), 32)).toBe(true);
    expect(nestingExceeds("scalar", 0)).toBe(false);
    expect(nestingExceeds([], 1)).toBe(false);
    expect(nestingExceeds([[]], 1)).toBe(true);
  });

  test("documentDepth scans bytes and ignores brackets inside strings", () => {
    expect(documentDepth(utf8('{"a":[{"b":"[[[{{{\\"]]]"}]}'))).toBe(3);
    expect(documentDepth(utf8("1"))).toBe(0);
    expect(documentDepth(utf8(`${"[".repeat(5000)}${"]".repeat(5000)}`))).toBe(5000);
  });
});

describe("custom", () => {
  const size = (v: unknown) => () => utf8(canonicalJson(v)).length;
  test(`at most ${CUSTOM_MAX_DEPTH} levels, named`, () => {
    expect(() => checkCustomShape(nested(32), "custom", size(nested(32)), 16384)).not.toThrow();
    expect(() => checkCustomShape(nested(33), "custom", size(nested(33)), 16384)).toThrow(/deeper than 32 levels/);
  });
  test("at most max bytes of canonical JSON, naming the config key", () => {
    const big = { s: "x".repeat(20_000) };
    expect(() => checkCustomShape(big, "custom", size(big), 16384)).toThrow(/limits\.max_custom_bytes/);
  });
});

describe("expirations", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  test("1 … 36,500 days", () => {
    expect(checkExpirationDays(1, "e", now)).toBe(1);
    expect(checkExpirationDays(EXPIRATION_DAYS_MAX, "e", now)).toBe(36_500);
    expect(() => checkExpirationDays(0, "e", now)).toThrow(/between 1 and 36500/);
    expect(() => checkExpirationDays(3_000_000, "e", now)).toThrow(/between 1 and 36500/);
    expect(() => checkExpirationDays(100_000_001, "e", now)).toThrow(/between 1 and 36500/);
    expect(() => checkExpirationDays(1.5, "e", now)).toThrow(/integer/);
  });
  test("the resulting date must be before the year 10000", () => {
    const late = new Date("9999-06-01T00:00:00Z");
    expect(() => checkExpirationDays(365, "e", late)).toThrow(/after the year 9999/);
    // Today's main wrote "+010240-08-19T23:26:30Z" (or threw "Invalid Date" far later).
    expect(() => expiresIn(now, 3_000_000)).toThrow(/before the year 10000/);
    expect(() => expiresIn(now, 100_000_001)).toThrow(/before the year 10000/);
    expect(expiresIn(now, 36_500)).toBe("2125-12-08T00:00:00Z");
  });
});

describe("target paths", () => {
  test("at most 64 segments and 1024 characters", () => {
    expect(checkTargetPath(Array(64).fill("a").join("/"), "p")).toBeDefined();
    expect(() => checkTargetPath(Array(65).fill("a").join("/"), "p")).toThrow(/at most 64/);
    expect(() => checkTargetPath("a".repeat(1025), "p")).toThrow(/at most 1024/);
  });
});

describe("client limits", () => {
  test("caps per role", () => {
    expect(clientLimitViolation("timestamp", new Uint8Array(CLIENT_MAX_BYTES.timestamp))).toBeNull();
    expect(clientLimitViolation("timestamp", new Uint8Array(CLIENT_MAX_BYTES.timestamp + 1))).toMatch(/16384-byte/);
    expect(clientLimitViolation("root", new Uint8Array(512_001))).toMatch(/512000-byte/);
    expect(clientLimitViolation("snapshot", new Uint8Array(2_000_001))).toMatch(/2000000-byte/);
    expect(clientLimitViolation("bins-0a", new Uint8Array(5_000_001))).toMatch(/5000000-byte limit .* a targets role/);
    expect(clientLimitViolation("targets", new Uint8Array(5_000_000))).toBeNull();
  });
  test("depth", () => {
    const doc = (d: number) => utf8(canonicalJson({ signed: nested(d) }));
    expect(clientLimitViolation("bins-0", doc(DOCUMENT_MAX_DEPTH - 1))).toBeNull();
    expect(clientLimitViolation("bins-0", doc(DOCUMENT_MAX_DEPTH))).toMatch(/nest 49 levels deep/);
  });
});
