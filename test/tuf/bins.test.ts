import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { MAX_BINS, MIN_BINS, SuccinctBins, TufError, bitLengthForBins } from "../../src/tuf/index.ts";
import { expectTufError, pick, prng, randInt } from "./helpers.ts";

const COUNTS = Array.from({ length: 14 }, (_, i) => 2 ** (i + 1)); // 2 … 16384

function sha256hex(path: string): string {
  return createHash("sha256").update(Buffer.from(path, "utf8")).digest("hex");
}

/** Independent TAP 15 bin index: the first bitLength bits of sha256(path). */
function refIndex(path: string, bitLength: number): number {
  return Number(BigInt(`0x${sha256hex(path)}`) >> BigInt(256 - bitLength));
}

function refName(index: number, count: number): string {
  const width = (count - 1).toString(16).length;
  return `bins-${index.toString(16).padStart(width, "0")}`;
}

const PATH_CHARS = ["a", "b", "z", "0", "9", "-", "_", ".", "/", " ", "é", "中", "Ａ", '"', "'"];
function randPaths(seed: number, n: number): string[] {
  const rnd = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let p = `pkg${i}/`;
    const len = randInt(rnd, 1, 30);
    for (let j = 0; j < len; j++) p += pick(rnd, PATH_CHARS);
    out.push(p);
  }
  return out;
}

describe("bitLengthForBins", () => {
  test("limits", () => {
    expect(MIN_BINS).toBe(2);
    expect(MAX_BINS).toBe(16384);
  });

  test("accepts every power of two from 2 to 16384", () => {
    for (const [i, count] of COUNTS.entries()) expect(bitLengthForBins(count)).toBe(i + 1);
  });

  test("rejects everything else, naming the field, never rounding", () => {
    for (const bad of [0, 1, 3, 6, 100, 1000, 16383, 16385, 32768, 65536, -2, -16, 2.5, NaN, Infinity]) {
      expectTufError(() => bitLengthForBins(bad), "number_of_delegated_bins");
    }
    for (const bad of ["16", null, undefined, true, [16], { n: 16 }, 16n]) {
      expectTufError(() => bitLengthForBins(bad), "number_of_delegated_bins", /integer/);
    }
    expectTufError(
      () => bitLengthForBins(100, "settings.roles.bins.number_of_delegated_bins"),
      "settings.roles.bins.number_of_delegated_bins",
      /power of two/,
    );
  });
});

describe("SuccinctBins for every count 2 … 16384", () => {
  for (const count of COUNTS) {
    const bitLength = Math.log2(count);
    test(`${count} bins (bit_length ${bitLength})`, () => {
      const bins = new SuccinctBins(bitLengthForBins(count));
      expect(bins.bitLength).toBe(bitLength);
      expect(bins.count).toBe(count);
      expect(bins.prefix).toBe("bins");

      const names = bins.names();
      expect(names.length).toBe(count);
      expect(new Set(names).size).toBe(count);
      expect(bins.names()).toBe(names); // cached
      const width = (count - 1).toString(16).length;
      names.forEach((n, i) => {
        if (n !== refName(i, count)) expect(n).toBe(refName(i, count));
        if (bins.nameOf(i) !== n) expect(bins.nameOf(i)).toBe(n);
      });
      expect(names[0]).toBe(`bins-${"0".repeat(width)}`);
      expect(names[count - 1]).toBe(`bins-${(count - 1).toString(16)}`);
      // names sort in index order (fixed width), as TAP 15 clients list them
      expect([...names].sort()).toEqual(names);
      for (const n of names) if (!bins.isBin(n)) expect(n).toBe("accepted by isBin");

      // out of range / wrong width / wrong form
      const rejected = [
        `bins-${count.toString(16).padStart(width, "0")}`, // == count: out of range (or wrong width)
        `bins-${"0".repeat(width + 1)}`,
        width > 1 ? "bins-0" : "bins-00",
        `bins-${"f".repeat(width + 1)}`,
        "bins-",
        "bins",
        `bins-${"A".repeat(width)}`,
        `Bins-${"0".repeat(width)}`,
        `xbins-${"0".repeat(width)}`,
        `bins_${"0".repeat(width)}`,
        `bins-${"0".repeat(width)}.json`,
        `bins--${"0".repeat(Math.max(width - 1, 1))}`,
        `bins-${"g".repeat(width)}`,
        "targets",
        "",
      ];
      for (const r of rejected) if (bins.isBin(r)) expect(r).toBe("rejected by isBin");

      // binForPath matches the independent BigInt computation
      for (const p of randPaths(count, 300)) {
        const want = refIndex(p, bitLength);
        const got = bins.indexForPath(p);
        if (got !== want) expect({ p, got }).toEqual({ p, got: want });
        expect(bins.binForPath(p)).toBe(refName(want, count));
      }
    });
  }

  test("width examples from the design", () => {
    expect(new SuccinctBins(4).names()).toEqual("0123456789abcdef".split("").map((c) => `bins-${c}`));
    expect(new SuccinctBins(1).names()).toEqual(["bins-0", "bins-1"]);
    expect(new SuccinctBins(8).names().slice(0, 2)).toEqual(["bins-00", "bins-01"]);
    expect(new SuccinctBins(8).names().at(-1)).toBe("bins-ff");
    const b4096 = new SuccinctBins(12);
    expect(b4096.names()[0]).toBe("bins-000");
    expect(b4096.names().at(-1)).toBe("bins-fff");
    const b16384 = new SuccinctBins(14);
    expect(b16384.names()[0]).toBe("bins-0000");
    expect(b16384.names().at(-1)).toBe("bins-3fff");
    expect(b16384.isBin("bins-3fff")).toBe(true);
    expect(b16384.isBin("bins-4000")).toBe(false);
    expect(b16384.isBin("bins-fff")).toBe(false);
    expect(b4096.isBin("bins-fff")).toBe(true);
    expect(b4096.isBin("bins-0fff")).toBe(false);
    expect(new SuccinctBins(1).isBin("bins-2")).toBe(false);
    expect(new SuccinctBins(3).isBin("bins-8")).toBe(false);
    expect(new SuccinctBins(3).isBin("bins-7")).toBe(true);
  });

  test("fixed vectors: first bits of sha256", () => {
    // sha256("") = e3b0c442…; sha256("abc") = ba7816bf…
    expect(new SuccinctBins(4).binForPath("")).toBe("bins-e");
    expect(new SuccinctBins(8).binForPath("")).toBe("bins-e3");
    expect(new SuccinctBins(12).binForPath("abc")).toBe("bins-ba7");
    expect(new SuccinctBins(14).binForPath("abc")).toBe(refName(0xba78 >> 2, 16384));
    expect(new SuccinctBins(1).binForPath("abc")).toBe("bins-1");
  });

  test("paths are hashed as UTF-8", () => {
    const b = new SuccinctBins(14);
    for (const p of ["é", "中文/文件.txt", "Ａ", 'a"b']) expect(b.indexForPath(p)).toBe(refIndex(p, 14));
  });

  test("bit lengths beyond 14 (up to 32) compute the same prefix", () => {
    for (const bits of [15, 20, 31, 32]) {
      const b = new SuccinctBins(bits);
      expect(b.count).toBe(2 ** bits);
      for (const p of randPaths(bits, 50)) expect(b.indexForPath(p)).toBe(refIndex(p, bits));
    }
    expect(new SuccinctBins(32).nameOf(0xffffffff)).toBe("bins-ffffffff");
  });

  test("custom prefix", () => {
    const b = new SuccinctBins(2, "hb");
    expect(b.names()).toEqual(["hb-0", "hb-1", "hb-2", "hb-3"]);
    expect(b.isBin("hb-3")).toBe(true);
    expect(b.isBin("bins-3")).toBe(false);
  });

  test("constructor rejects bad bit lengths", () => {
    for (const bad of [0, -1, 33, 1.5, NaN]) expect(() => new SuccinctBins(bad)).toThrow(TufError);
  });

  test("distribution: each of 16 bins gets a fair share of 10,000 paths", () => {
    const b = new SuccinctBins(4);
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 10_000; i++) counts[b.indexForPath(`releases/pkg-${i}/pkg-${i}.tar.gz`)]++;
    expect(counts.reduce((a, c) => a + c, 0)).toBe(10_000);
    for (const c of counts) {
      expect(c).toBeGreaterThan(450); // expected 625
      expect(c).toBeLessThan(800);
    }
  });
});
