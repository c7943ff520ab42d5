import { describe, expect, test } from "bun:test";
import { expiresIn, formatExpires, parseExpires } from "../../src/tuf/index.ts";
import { expectTufError } from "./helpers.ts";

describe("formatExpires", () => {
  test("UTC, whole seconds, Z", () => {
    expect(formatExpires(new Date(Date.UTC(2036, 0, 1, 0, 0, 0)))).toBe("2036-01-01T00:00:00Z");
    expect(formatExpires(new Date(Date.UTC(2030, 11, 31, 23, 59, 59, 999)))).toBe("2030-12-31T23:59:59Z"); // truncated, not rounded
    expect(formatExpires(new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 1)))).toBe("2024-02-29T12:34:56Z");
    expect(formatExpires(new Date(0))).toBe("1970-01-01T00:00:00Z");
  });
});

describe("parseExpires", () => {
  test("accepts real dates and returns the instant", () => {
    expect(parseExpires("2036-01-01T00:00:00Z").getTime()).toBe(Date.UTC(2036, 0, 1));
    expect(parseExpires("2028-02-29T23:59:59Z").getTime()).toBe(Date.UTC(2028, 1, 29, 23, 59, 59));
    expect(parseExpires("2000-02-29T00:00:00Z").getTime()).toBe(Date.UTC(2000, 1, 29));
  });

  const rejected: unknown[] = [
    "2030-02-30T00:00:00Z", // rolls over in JS Date: must be caught
    "2030-02-29T00:00:00Z", // not a leap year
    "1900-02-29T00:00:00Z",
    "2030-04-31T00:00:00Z",
    "2030-13-01T00:00:00Z",
    "2030-00-01T00:00:00Z",
    "2030-01-00T00:00:00Z",
    "2030-01-01T24:00:00Z",
    "2030-01-01T23:60:00Z",
    "2030-01-01T23:59:60Z",
    "2030-01-01T00:00:00.000Z",
    "2030-01-01T00:00:00",
    "2030-01-01T00:00:00z",
    "2030-01-01T00:00:00+00:00",
    "2030-01-01 00:00:00Z",
    "2030-01-01",
    " 2030-01-01T00:00:00Z",
    "2030-01-01T00:00:00Z ",
    "+02030-01-01T00:00:00Z",
    "2030-1-01T00:00:00Z",
    "",
    null,
    undefined,
    1893456000,
    new Date(Date.UTC(2030, 0, 1)),
  ];
  for (const value of rejected) {
    test(`rejects ${JSON.stringify(value) ?? String(value)}`, () => {
      expectTufError(() => parseExpires(value), "expires");
    });
  }

  test("the error names the given field", () => {
    expectTufError(() => parseExpires("2030-02-30T00:00:00Z", "signed.expires"), "signed.expires", /2030-02-30/);
  });
});

describe("expiresIn", () => {
  test("adds days and truncates milliseconds", () => {
    const now = new Date(Date.UTC(2030, 0, 1, 10, 20, 30, 999));
    expect(expiresIn(now, 1)).toBe("2030-01-02T10:20:30Z");
    expect(expiresIn(now, 0)).toBe("2030-01-01T10:20:30Z");
    expect(expiresIn(now, 365)).toBe("2031-01-01T10:20:30Z");
    expect(expiresIn(new Date(Date.UTC(2028, 1, 28, 0, 0, 0, 500)), 1)).toBe("2028-02-29T00:00:00Z");
  });

  test("result always parses and never lies after now + days", () => {
    for (let ms = 0; ms < 1000; ms += 37) {
      const now = new Date(Date.UTC(2030, 5, 15, 12, 0, 0, ms));
      const text = expiresIn(now, 7);
      const d = parseExpires(text);
      expect(d.getTime()).toBeLessThanOrEqual(now.getTime() + 7 * 86_400_000);
      expect(d.getTime()).toBeGreaterThan(now.getTime() + 7 * 86_400_000 - 1000);
    }
  });
});
