import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { rolesSummary } from "../../src/repository/audit.ts";

describe("rolesSummary", () => {
  test("the first 20 distinct roles in code-unit order and how many there are, as sorting them all gives", () => {
    // Short strings from a small alphabet: many duplicates, ties and prefixes of one another.
    const role = fc.string({ unit: fc.constantFrom("a", "b", "B", "-", "0", "\u00e9", "\ud83d\ude00"), maxLength: 4 });
    fc.assert(
      fc.property(fc.array(role, { maxLength: 200 }), (roles) => {
        const all = [...new Set(roles)].sort();
        expect(rolesSummary(roles)).toEqual({ roles: all.slice(0, 20), roles_count: all.length });
      }),
      { numRuns: 500 },
    );
  });

  test("a request naming a thousand bins in random order", () => {
    const bins = Array.from({ length: 1000 }, (_, i) => `bins-${((i * 7919) % 16384).toString(16).padStart(4, "0")}`);
    const summary = rolesSummary([...bins, ...bins]);
    expect(summary.roles_count).toBe(1000);
    expect(summary.roles).toEqual([...new Set(bins)].sort().slice(0, 20));
    expect(summary.roles[0]).toBe("bins-0000");
  });
});
