import { describe, expect, test } from "bun:test";
import { canonicalize } from "@tufjs/canonical-json";
import {
  TufError,
  assertCanonicalSafe,
  canonicalJson,
  canonicalJsonChecked,
  canonicalObjectFromEntries,
  canonicalString,
  jsonTextOf,
  utf8,
} from "../../src/tuf/index.ts";
import {
  PAYLOADS,
  clone,
  expectTufError,
  fixtureJson,
  fixtureJsonFiles,
  pick,
  prng,
  randInt,
  shuffle,
} from "./helpers.ts";

describe("canonicalJson: fixed vectors", () => {
  const vectors: [string, unknown, string][] = [
    ["empty object", {}, "{}"],
    ["empty array", [], "[]"],
    ["null", null, "null"],
    ["true", true, "true"],
    ["false", false, "false"],
    ["zero", 0, "0"],
    ["negative zero becomes 0", -0, "0"],
    ["positive integer", 42, "42"],
    ["negative integer", -17, "-17"],
    ["max safe integer", Number.MAX_SAFE_INTEGER, "9007199254740991"],
    ["min safe integer", -Number.MAX_SAFE_INTEGER, "-9007199254740991"],
    ["integral float written as integer", 1e15, "1000000000000000"],
    ["plain string", "abc", '"abc"'],
    ["empty string", "", '""'],
    ["quote escaped", 'a"b', '"a\\"b"'],
    ["backslash escaped", "a\\b", '"a\\\\b"'],
    ["backslash before quote", '\\"', '"\\\\\\""'],
    ["slash not escaped", "a/b", '"a/b"'],
    ["newline raw", "a\nb", '"a\nb"'],
    ["all control characters raw", "\u0000\u0001\b\t\n\u000b\f\r\u001f", '"\u0000\u0001\b\t\n\u000b\f\r\u001f"'],
    ["DEL and line separators raw", "\u007f\u2028\u2029", '"\u007f\u2028\u2029"'],
    ["BMP unicode raw", "é€中Ａ\ufffd", '"é€中Ａ\ufffd"'],
    ["astral unicode raw", "😀🎉", '"😀🎉"'],
    ["keys sorted", { b: 1, a: 2, c: 3 }, '{"a":2,"b":1,"c":3}'],
    ["upper case sorts before lower case", { a: 1, B: 2, A: 3, _: 4 }, '{"A":3,"B":2,"_":4,"a":1}'],
    ["empty key first", { a: 1, "": 0 }, '{"":0,"a":1}'],
    ["prefix sorts first", { ab: 1, a: 2, abc: 3 }, '{"a":2,"ab":1,"abc":3}'],
    ["keys by UTF-16 code unit, not locale", { é: 1, z: 2, Ａ: 3, e: 4 }, '{"e":4,"z":2,"é":1,"Ａ":3}'],
    ["numeric-looking keys sorted as strings", { "10": 1, "9": 2, "1": 3 }, '{"1":3,"10":1,"9":2}'],
    ["keys escaped like strings", { 'q"': 1, "b\\": 2, "n\n": 3 }, '{"b\\\\":2,"n\n":3,"q\\"":1}'],
    ["undefined values omitted", { a: undefined, b: 1, c: undefined }, '{"b":1}'],
    ["only undefined values", { a: undefined }, "{}"],
    [
      "nested",
      { z: [1, { y: [], x: {} }, [[]], null], a: { c: true, b: false }, m: "s" },
      '{"a":{"b":false,"c":true},"m":"s","z":[1,{"x":{},"y":[]},[[]],null]}',
    ],
    ["array order kept", [3, 1, 2, "b", "a"], '[3,1,2,"b","a"]'],
  ];
  for (const [name, value, expected] of vectors) {
    test(name, () => {
      expect(canonicalJson(value)).toBe(expected);
    });
  }

  test("astral keys: canonicalJson sorts by UTF-16 code unit (as JS clients do)", () => {
    // U+1F600 is \ud83d\ude00: by code unit it sorts before U+FF21, by code point after.
    expect(canonicalJson({ "\uff21": 1, "😀": 2 })).toBe('{"😀":2,"\uff21":1}');
  });

  test("canonicalString escapes only quote and backslash", () => {
    expect(canonicalString("")).toBe('""');
    expect(canonicalString('x"y\\z\n\t/é😀')).toBe('"x\\"y\\\\z\n\t/é😀"');
    expect(canonicalString('""')).toBe('"\\"\\""');
  });

  test("canonicalJson rejects what OLPC cannot encode", () => {
    for (const bad of [1.5, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 1e21, 0.1]) {
      expect(() => canonicalJson(bad)).toThrow(TufError);
      expect(() => canonicalJson({ a: [bad] })).toThrow(TufError);
    }
    expect(() => canonicalJson([undefined])).toThrow(TufError);
    expect(() => canonicalJson(undefined)).toThrow(TufError);
    expect(() => canonicalJson(() => 1)).toThrow(TufError);
    expect(() => canonicalJson(10n)).toThrow(TufError);
    expect(() => canonicalJson(Symbol("s"))).toThrow(TufError);
  });

  test("utf8 is UTF-8", () => {
    const s = 'é"\n😀中';
    expect(Buffer.from(utf8(s)).equals(Buffer.from(s, "utf8"))).toBe(true);
  });
});

describe("assertCanonicalSafe / canonicalJsonChecked: rejections name the field", () => {
  const badNumbers: [string, number][] = [
    ["float", 1.5],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["2^53", 2 ** 53],
    ["-2^53", -(2 ** 53)],
    ["1e21", 1e21],
  ];
  for (const [name, n] of badNumbers) {
    test(`${name} at a.b[1].c`, () => {
      const value = { a: { b: [0, { c: n }] } };
      expectTufError(() => assertCanonicalSafe(value), "a.b[1].c", /number|integer/);
      expectTufError(() => canonicalJsonChecked(value), "a.b[1].c");
      expectTufError(() => canonicalJsonChecked(value, "signed"), "signed.a.b[1].c");
    });
  }

  test("number at the root has the given field", () => {
    expectTufError(() => canonicalJsonChecked(0.5), "");
    expectTufError(() => canonicalJsonChecked(0.5, "version"), "version");
  });

  test("top-level array index", () => {
    expectTufError(() => assertCanonicalSafe([1, 2, 3.25]), "[2]");
    expectTufError(() => assertCanonicalSafe([[1], [2, [NaN]]], "x"), "x[1][1][0]");
  });

  test("lone surrogates in values", () => {
    for (const s of ["\ud800", "abc\udc00", "\udbff x", "😀\ud83d"]) {
      expectTufError(() => assertCanonicalSafe({ x: ["ok", s] }), "x[1]", /surrogate/);
      expectTufError(() => canonicalJsonChecked({ x: ["ok", s] }, "p"), "p.x[1]");
    }
  });

  test("object keys with astral characters or lone surrogates", () => {
    expectTufError(() => assertCanonicalSafe({ a: { "k😀": 1 } }), "a.k😀", /Basic Multilingual Plane/);
    expectTufError(() => assertCanonicalSafe({ a: [{ "\ud800": 1 }] }), "a[0].\ud800");
    expectTufError(() => canonicalJsonChecked({ "😀": "v" }, "custom"), "custom.😀");
  });

  test("non-JSON types", () => {
    expectTufError(() => assertCanonicalSafe({ a: [() => 1] }), "a[0]", /function/);
    expectTufError(() => assertCanonicalSafe({ a: { b: 10n } }), "a.b", /bigint/);
    expectTufError(() => assertCanonicalSafe([undefined]), "[0]", /undefined/);
  });

  test("accepts everything the encoder writes: control chars, quotes, BMP and astral values, safe integers", () => {
    const value = {
      s: 'a"b\\c\n\u0000\u001f',
      u: "é中Ａ😀",
      n: [0, -0, 1, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
      t: true,
      f: false,
      z: null,
      e: {},
      ea: [],
      é: "BMP keys are fine",
    };
    expect(() => assertCanonicalSafe(value)).not.toThrow();
    expect(canonicalJsonChecked(value)).toBe(canonicalJson(value));
    expect(canonicalJsonChecked(value)).toBe(canonicalize(value));
  });

  test("object keys whose value is undefined are omitted, as canonicalJson does", () => {
    const value = { a: 1, b: undefined, c: { d: undefined, e: "x" } };
    expect(() => assertCanonicalSafe(value)).not.toThrow();
    expect(canonicalJsonChecked(value)).toBe('{"a":1,"c":{"e":"x"}}');
  });
});

// ------------------------------------------------------------------ differential

const CONTROL = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i));
const KEY_CHARS = [
  "a",
  "b",
  "c",
  "z",
  "A",
  "Z",
  "0",
  "9",
  "_",
  "-",
  ".",
  "/",
  " ",
  '"',
  "\\",
  "é",
  "ü",
  "ß",
  "中",
  "文",
  "Ａ",
  "\ue000",
  "\ufffd",
  "\uffff",
  "\u2028",
  "\u007f",
  ...CONTROL.slice(0, 4),
  "\n",
  "\t",
];
const VALUE_CHARS = [...KEY_CHARS, ...CONTROL, "😀", "🎉", "𝄞", "\u{10ffff}", "'", "{", "}", "[", "]", ":", ","];

function randString(rnd: () => number, chars: readonly string[], max: number): string {
  const n = randInt(rnd, 0, max);
  let s = "";
  for (let i = 0; i < n; i++) s += pick(rnd, chars);
  return s;
}

function randInteger(rnd: () => number): number {
  switch (randInt(rnd, 0, 5)) {
    case 0:
      return randInt(rnd, -10, 10);
    case 1:
      return randInt(rnd, -1_000_000, 1_000_000);
    case 2:
      return pick(rnd, [0, -0, 1, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 31, -(2 ** 31), 2 ** 32]);
    case 3:
      return Math.floor((rnd() * 2 - 1) * Number.MAX_SAFE_INTEGER);
    default:
      return randInt(rnd, 0, 1 << 30);
  }
}

function randValue(rnd: () => number, depth: number): unknown {
  const kind = depth <= 0 ? randInt(rnd, 0, 4) : randInt(rnd, 0, 7);
  switch (kind) {
    case 0:
      return randString(rnd, VALUE_CHARS, 12);
    case 1:
      return randInteger(rnd);
    case 2:
      return pick(rnd, [true, false]);
    case 3:
      return null;
    case 4:
      return randString(rnd, KEY_CHARS, 4);
    case 5: {
      const n = randInt(rnd, 0, 5);
      return Array.from({ length: n }, () => randValue(rnd, depth - 1));
    }
    default: {
      const n = randInt(rnd, 0, 6);
      const obj: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) obj[randString(rnd, KEY_CHARS, 6)] = randValue(rnd, depth - 1);
      return obj;
    }
  }
}

function corpus(): { name: string; value: unknown }[] {
  const out: { name: string; value: unknown }[] = [];
  for (const file of fixtureJsonFiles()) {
    const doc = fixtureJson(file);
    out.push({ name: file, value: doc });
    if (doc?.metadata?.root) {
      out.push({ name: `${file} metadata.root`, value: doc.metadata.root });
      out.push({ name: `${file} metadata.root.signed`, value: doc.metadata.root.signed });
    }
    if (doc?.settings) out.push({ name: `${file} settings`, value: doc.settings });
  }
  return out;
}

describe("differential against @tufjs/canonical-json", () => {
  test("the fixture corpus covers every payload", () => {
    const files = fixtureJsonFiles();
    for (const p of PAYLOADS) expect(files).toContain(p);
  });

  test("every fixture JSON file, its root and root.signed: byte-identical", () => {
    const items = corpus();
    expect(items.length).toBeGreaterThanOrEqual(PAYLOADS.length * 3);
    let sawNewline = false;
    for (const { name, value } of items) {
      const ours = canonicalJsonChecked(value);
      const theirs = canonicalize(value);
      expect({ name, bytes: Buffer.from(utf8(ours)).toString("hex") }).toEqual({
        name,
        bytes: Buffer.from(theirs, "utf8").toString("hex"),
      });
      if (ours.includes("\n")) sawNewline = true;
    }
    // the corpus does exercise raw control characters (PEM public keys)
    expect(sawNewline).toBe(true);
  });

  test("5000 generated values (seeded): byte-identical, checked, jsonTextOf round-trips", () => {
    const rnd = prng(20250101);
    let controlSeen = 0;
    let astralSeen = 0;
    for (let i = 0; i < 5000; i++) {
      const value = randValue(rnd, 4);
      const ours = canonicalJsonChecked(value);
      const theirs = canonicalize(value);
      if (ours !== theirs) {
        // report the failing case readably
        expect({ i, value, ours }).toEqual({ i, value, ours: theirs });
      }
      const text = jsonTextOf(ours);
      expect(/[\u0000-\u001f]/.test(text)).toBe(false);
      const parsed = JSON.parse(text);
      if (canonicalJson(parsed) !== ours) expect({ i, back: canonicalJson(parsed) }).toEqual({ i, back: ours });
      if (/[\u0000-\u001f]/.test(ours)) controlSeen++;
      if (/[\ud800-\udfff]/.test(ours)) astralSeen++;
    }
    // the generator really produces the hard cases
    expect(controlSeen).toBeGreaterThan(500);
    expect(astralSeen).toBeGreaterThan(200);
  });

  test("generated objects with many sibling keys (sorting stress)", () => {
    const rnd = prng(99);
    for (let i = 0; i < 300; i++) {
      const obj: Record<string, unknown> = {};
      const n = randInt(rnd, 20, 80);
      for (let j = 0; j < n; j++) obj[randString(rnd, KEY_CHARS, 3)] = randInteger(rnd);
      expect(canonicalJson(obj)).toBe(canonicalize(obj));
    }
  });
});

describe("jsonTextOf", () => {
  test("text without control characters is returned unchanged", () => {
    const t = canonicalJson({ a: 'x"\\é😀', b: [1, 2] });
    expect(jsonTextOf(t)).toBe(t);
  });

  test("escapes each control character so the text is valid JSON for the same value", () => {
    const value = {
      "k\n": Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join(""),
      pem: "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n",
    };
    const t = canonicalJson(value);
    expect(() => JSON.parse(t)).toThrow();
    const j = jsonTextOf(t);
    expect(JSON.parse(j)).toEqual(value);
    expect(canonicalJson(JSON.parse(j))).toBe(t);
    expect(j).toContain("\\n");
    expect(j).toContain("\\u0000");
    expect(j).toContain("\\u001f");
    expect(j).toContain("\\t");
    expect(j).toContain("\\r");
    expect(j).toContain("\\b");
    expect(j).toContain("\\f");
  });

  test("fixture roots (PEM keys): jsonTextOf(canonical) parses back to the same signed", () => {
    for (const p of PAYLOADS) {
      const signed = fixtureJson(p).metadata.root.signed;
      const t = canonicalJson(signed);
      const back = JSON.parse(jsonTextOf(t));
      expect(back).toEqual(signed);
      expect(canonicalJson(back)).toBe(t);
    }
  });
});

describe("canonicalObjectFromEntries", () => {
  test("equals canonicalJson of the same object, whatever the entry order", () => {
    const rnd = prng(7);
    for (let i = 0; i < 500; i++) {
      const obj: Record<string, unknown> = {};
      const n = randInt(rnd, 0, 12);
      for (let j = 0; j < n; j++) obj[randString(rnd, KEY_CHARS, 5)] = randValue(rnd, 2);
      const entries = shuffle(
        rnd,
        Object.entries(obj).map(([k, v]) => [k, canonicalJson(v)] as [string, string]),
      );
      expect(canonicalObjectFromEntries(entries)).toBe(canonicalJson(obj));
    }
  });

  test("a sorted run followed by unsorted entries (a bin's listed paths, then the new ones) sorts like any order", () => {
    const rnd = prng(11);
    for (let i = 0; i < 500; i++) {
      const obj: Record<string, unknown> = {};
      const n = randInt(rnd, 1, 40);
      for (let j = 0; j < n; j++) obj[randString(rnd, KEY_CHARS, 4)] = randValue(rnd, 1);
      const all = Object.entries(obj).map(([k, v]) => [k, canonicalJson(v)] as [string, string]);
      const cut = randInt(rnd, 0, all.length);
      const listed = all.slice(0, cut).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      const entries = [...listed, ...shuffle(rnd, all.slice(cut))];
      expect(canonicalObjectFromEntries(entries)).toBe(canonicalJson(obj));
    }
  });

  test("empty and fixed example", () => {
    expect(canonicalObjectFromEntries([])).toBe("{}");
    expect(
      canonicalObjectFromEntries([
        ["b", "1"],
        ['a"', "[]"],
        ["A", "{}"],
      ]),
    ).toBe('{"A":{},"a\\"":[],"b":1}');
  });

  test("fixture root.signed reassembled from entries", () => {
    const signed = clone(fixtureJson("bootstrap-bins.json").metadata.root.signed) as Record<string, unknown>;
    const entries = Object.entries(signed).map(([k, v]) => [k, canonicalJson(v)] as [string, string]);
    expect(canonicalObjectFromEntries(entries.reverse())).toBe(canonicalize(signed));
  });
});
