/**
 * The bin-count advice (src/tuf/bin-advice.ts): known cases, the tuf-js
 * cost table, and properties over random repositories (fast-check): the
 * advice is a power of two in range, never shrinks as artifacts grow, keeps
 * bins clear of the client cap whenever some count can, stays within the
 * tuf-js budget unless the cap forces more (and then says so), and warns
 * exactly when the current count is far off, over the cap or slow for tuf-js.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  ASSUMED_ENTRY_BYTES,
  BIN_CAP_HEADROOM_BYTES,
  BIN_ENVELOPE_BYTES,
  BIN_TARGET_BYTES,
  FAR_FACTOR,
  SMALL_REPOSITORY_BINS,
  TUFJS_BUDGET_SECONDS,
  TUFJS_REFRESH_MEASURED,
  adviseBins,
  estimateBins,
  largestBinEntries,
  measuredEntryBytes,
  tufjsRefreshSeconds,
} from "../../src/tuf/bin-advice.ts";
import { CLIENT_MAX_BYTES } from "../../src/tuf/limits.ts";
import { SuccinctBins } from "../../src/tuf/bins.ts";

const COUNTS = Array.from({ length: 14 }, (_, i) => 2 ** (i + 1)); // 2 … 16384
const codes = (a: ReturnType<typeof adviseBins>) => a.warnings.map((w) => w.code);

const repository = fc.record({
  artifacts: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 200_000_000 })),
  entryBytes: fc.option(fc.double({ min: 80, max: 20_000, noNaN: true }), { nil: undefined }),
  currentBins: fc.option(fc.constantFrom(...COUNTS), { nil: undefined }),
});

describe("known repositories", () => {
  test("an empty or small repository: 256 bins (room to grow), no warning at 256", () => {
    for (const artifacts of [0, 1, 1_000, 50_000, 100_000]) {
      const a = adviseBins({ artifacts, currentBins: 256 });
      expect(a.recommended.bins).toBe(SMALL_REPOSITORY_BINS);
      expect(a.warnings).toEqual([]);
    }
    expect(adviseBins({ artifacts: 0 }).holds_artifacts.within_target).toBeGreaterThan(100_000);
  });

  test("1M artifacts: 2048 bins (snapshot and bin of the same size); 16384 bins is slow for tuf-js", () => {
    const a = adviseBins({ artifacts: 1_000_000, currentBins: 16384 });
    expect(a.recommended.bins).toBe(2048);
    expect(Math.abs(a.recommended.snapshot_bytes - a.recommended.mean_bin_bytes)).toBeLessThan(20_000);
    expect(codes(a)).toEqual(["tufjs-slow", "far-from-recommended"]);
    expect(a.warnings[0]!.message).toMatch(/16384 bins a tuf-js client spends ~58 s .*2048 bins would take ~0\.4 s/);
  });

  test("10M artifacts in 256 bins (the issue's example): bins over the 5,000,000-byte cap, critical", () => {
    const a = adviseBins({ artifacts: 10_000_000, currentBins: 256 });
    expect(a.current!.largest_bin_bytes).toBeGreaterThan(CLIENT_MAX_BYTES.targets);
    expect(a.warnings[0]).toMatchObject({ severity: "critical", code: "bins-over-cap" });
    expect(a.recommended.bins).toBe(2048);
    expect(a.recommended.largest_bin_bytes).toBeLessThan(BIN_CAP_HEADROOM_BYTES);
  });

  test("100M artifacts: the cap needs 8192 bins, and the advice says tuf-js pays for it", () => {
    const a = adviseBins({ artifacts: 100_000_000 });
    expect(a.recommended.bins).toBe(8192);
    expect(codes(a)).toEqual(["cap-needs-slow-tufjs"]);
  });

  test("the trade-off is two lines with the recommended figures", () => {
    const a = adviseBins({ artifacts: 1_000_000 });
    expect(a.trade_off).toHaveLength(2);
    expect(a.trade_off[0]).toContain("~78 KB per bin download at 2048 bins for 1,000,000 artifacts");
    expect(a.trade_off[1]).toContain("68 KB at 2048 bins");
    expect(a.trade_off[1]).toContain("~0.4 s at 2048, ~8.7 s at 8192");
  });

  test("a measured entry size is used and said to be measured; nonsense falls back to the assumption", () => {
    expect(adviseBins({ artifacts: 10, entryBytes: 300 })).toMatchObject({
      entry_bytes: 300,
      entry_bytes_source: "measured",
    });
    for (const entryBytes of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(adviseBins({ artifacts: 10, entryBytes })).toMatchObject({
        entry_bytes: ASSUMED_ENTRY_BYTES,
        entry_bytes_source: "assumed",
      });
  });

  test("big entries (large custom) need more bins for the same artifacts", () => {
    expect(adviseBins({ artifacts: 100_000, entryBytes: 2_000 }).recommended.bins).toBe(2048);
    expect(adviseBins({ artifacts: 1_000_000, entryBytes: 2_000 }).recommended.bins).toBe(2048);
    expect(adviseBins({ artifacts: 5_000_000, entryBytes: 2_000 }).recommended.bins).toBe(8192);
  });
});

describe("tuf-js cost", () => {
  test("the estimate passes through every measured point and grows with the roles", () => {
    for (const [roles, seconds] of TUFJS_REFRESH_MEASURED) expect(tufjsRefreshSeconds(roles)).toBeCloseTo(seconds, 6);
    // the fixed cost below the first point, then growing with the roles
    expect(tufjsRefreshSeconds(3)).toBe(TUFJS_REFRESH_MEASURED[0]![1]);
    let last = 0;
    for (let roles = 2; roles <= 20_000; roles += 97) {
      const t = tufjsRefreshSeconds(roles);
      if (roles > TUFJS_REFRESH_MEASURED[0]![0]) expect(t).toBeGreaterThan(last);
      else expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
    // 2048 bins fit the budget, 4096 do not
    expect(estimateBins(2048, 0, 160).tufjs_refresh_seconds).toBeLessThanOrEqual(TUFJS_BUDGET_SECONDS);
    expect(estimateBins(4096, 0, 160).tufjs_refresh_seconds).toBeGreaterThan(TUFJS_BUDGET_SECONDS);
  });
});

describe("estimates", () => {
  test("the fullest bin estimate is not below what sha256 really does to paths", () => {
    for (const [bins, artifacts] of [
      [16, 200],
      [256, 10_000],
      [1024, 10_000],
      [4096, 5_000],
      [256, 100],
    ] as const) {
      const b = new SuccinctBins(Math.log2(bins));
      const load = new Map<number, number>();
      for (let i = 0; i < artifacts; i++) {
        const idx = b.indexForPath(`bench/pkg-${i}/pkg-${i}.tar.gz`);
        load.set(idx, (load.get(idx) ?? 0) + 1);
      }
      expect(largestBinEntries(artifacts, bins)).toBeGreaterThanOrEqual(Math.max(...load.values()));
      // … and not wildly above (within 3× of the real fullest bin)
      expect(largestBinEntries(artifacts, bins)).toBeLessThanOrEqual(3 * Math.max(...load.values()));
    }
  });

  test("measured entry bytes invert the bin size estimate", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COUNTS),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 60, max: 5000 }),
        (bins, artifacts, entry) => {
          const total = bins * BIN_ENVELOPE_BYTES + artifacts * entry;
          expect(measuredEntryBytes(total, bins, artifacts)).toBeCloseTo(entry, 0);
        },
      ),
    );
    expect(measuredEntryBytes(16 * BIN_ENVELOPE_BYTES, 16, 0)).toBeUndefined();
  });
});

describe("properties", () => {
  test("a power of two in 2..16384", () => {
    fc.assert(
      fc.property(repository, (r) => {
        const n = adviseBins(r).recommended.bins;
        expect(COUNTS).toContain(n);
      }),
    );
  });

  test("never fewer bins for more artifacts", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000_000 }),
        fc.integer({ min: 0, max: 100_000_000 }),
        fc.integer({ min: 80, max: 5000 }),
        (a, b, entryBytes) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(adviseBins({ artifacts: hi, entryBytes }).recommended.bins).toBeGreaterThanOrEqual(
            adviseBins({ artifacts: lo, entryBytes }).recommended.bins,
          );
        },
      ),
    );
  });

  test("bins clear of the cap whenever some count can; within the tuf-js budget unless the cap needs more, and then a warning", () => {
    fc.assert(
      fc.property(repository, (r) => {
        const a = adviseBins(r);
        const most = estimateBins(16384, a.artifacts, a.entry_bytes);
        if (most.largest_bin_bytes <= BIN_CAP_HEADROOM_BYTES)
          expect(a.recommended.largest_bin_bytes).toBeLessThanOrEqual(BIN_CAP_HEADROOM_BYTES);
        if (a.recommended.tufjs_refresh_seconds > TUFJS_BUDGET_SECONDS) {
          expect(codes(a)).toContain("cap-needs-slow-tufjs");
          // half as many bins would not have kept the bins clear of the cap
          const half = estimateBins(a.recommended.bins / 2, a.artifacts, a.entry_bytes);
          expect(half.largest_bin_bytes).toBeGreaterThan(BIN_CAP_HEADROOM_BYTES);
        } else expect(codes(a)).not.toContain("cap-needs-slow-tufjs");
        // bins over the download target only where more bins would cost tuf-js its budget
        if (a.recommended.mean_bin_bytes > BIN_TARGET_BYTES && a.recommended.bins < 16384)
          expect(estimateBins(a.recommended.bins * 2, 0, 1).tufjs_refresh_seconds).toBeGreaterThan(
            TUFJS_BUDGET_SECONDS,
          );
      }),
    );
  });

  test("warnings say exactly what is wrong with the current count", () => {
    fc.assert(
      fc.property(repository, (r) => {
        const a = adviseBins(r);
        if (r.currentBins === undefined) {
          expect(a.current).toBeNull();
          expect(codes(a).filter((c) => c !== "cap-needs-slow-tufjs")).toEqual([]);
          return;
        }
        const cur = a.current!;
        const n = cur.bins;
        const rec = a.recommended.bins;
        expect(codes(a).includes("far-from-recommended")).toBe(n >= rec * FAR_FACTOR || n * FAR_FACTOR <= rec);
        expect(codes(a).includes("bins-over-cap")).toBe(cur.largest_bin_bytes > CLIENT_MAX_BYTES.targets);
        expect(codes(a).includes("bins-near-cap")).toBe(
          cur.largest_bin_bytes > BIN_CAP_HEADROOM_BYTES && cur.largest_bin_bytes <= CLIENT_MAX_BYTES.targets,
        );
        expect(codes(a).includes("tufjs-slow")).toBe(cur.tufjs_refresh_seconds > TUFJS_BUDGET_SECONDS);
        for (const w of a.warnings) expect(w.severity).toBe(w.code === "bins-over-cap" ? "critical" : "warning");
        // following the advice leaves no warning about the count itself (unless no count is enough)
        const again = adviseBins({ ...r, currentBins: rec });
        const left = codes(again).filter((c) => c !== "cap-needs-slow-tufjs" && c !== "tufjs-slow");
        if (a.recommended.largest_bin_bytes <= BIN_CAP_HEADROOM_BYTES) expect(left).toEqual([]);
        else expect(left.every((c) => c === "bins-near-cap" || c === "bins-over-cap")).toBe(true);
      }),
    );
  });
});
