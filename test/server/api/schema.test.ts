/**
 * The request validator (src/server/api/schema.ts) reads TypeBox schemas
 * itself, to answer in pydantic's words and order. Two things must hold:
 * it accepts exactly what TypeBox's own checker accepts on every plain schema
 * (a differential test on generated values), and it answers like FastAPI.
 */
import { describe, expect, test } from "bun:test";
import { type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ValidationError } from "../../../src/repository/errors.ts";
import { extend, validate, words } from "../../../src/server/api/schema.ts";
import { prng } from "../../helpers/random.ts";

function issue(schema: TSchema, value: unknown): { loc: (string | number)[]; msg: string; type: string } | null {
  try {
    validate(schema, value, ["body"]);
    return null;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return err.issues[0]!;
  }
}

describe("accepts exactly what TypeBox's checker accepts", () => {
  const Item = Type.Object(
    { id: Type.Integer({ minimum: 0, maximum: 9 }), tag: Type.Optional(Type.String({ minLength: 1, maxLength: 3 })) },
    { additionalProperties: false },
  );
  /** [name, schema, a valid value the generator also mutates] */
  const schemas: [string, TSchema, unknown][] = [
    ["integer bounds", Type.Integer({ exclusiveMinimum: 0, maximum: 100 }), 5],
    ["string bounds and pattern", Type.String({ minLength: 1, maxLength: 4, pattern: "^[a-c]+$" }), "ab"],
    ["boolean", Type.Boolean(), true],
    ["null", Type.Null(), null],
    ["nullable string", Type.Union([Type.String(), Type.Null()]), "s"],
    ["array of objects", Type.Array(Item, { minItems: 1, maxItems: 3 }), [{ id: 1 }, { id: 2, tag: "t" }]],
    [
      "object with optional, nullable and closed fields",
      Type.Object(
        {
          a: Type.Integer(),
          b: Type.Optional(Type.Boolean()),
          c: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          d: Type.Optional(Type.Array(Type.String())),
        },
        { additionalProperties: false },
      ),
      { a: 1, c: null, d: ["x"] },
    ],
    ["open object", Type.Object({ a: Type.Optional(Type.String()) }, { additionalProperties: true }), { a: "x", b: 1 }],
    ["record of integers", Type.Record(Type.String(), Type.Integer({ minimum: 1 }), { minProperties: 1 }), { x: 1 }],
    ["unknown", Type.Unknown(), { any: ["thing"] }],
  ];

  /** `example` with one node replaced by a generated value or deleted. */
  function mutated(rnd: () => number, example: unknown, keys: string[]): unknown {
    const copy = structuredClone(example);
    const holders: [Record<string | number, unknown>, string | number][] = [];
    const visit = (v: unknown) => {
      if (typeof v !== "object" || v === null) return;
      for (const k of Object.keys(v)) {
        const key = Array.isArray(v) ? Number(k) : k;
        holders.push([v as Record<string | number, unknown>, key]);
        visit((v as Record<string, unknown>)[k]);
      }
    };
    visit(copy);
    if (holders.length === 0 || rnd() < 0.1) return rnd() < 0.5 ? copy : value(rnd, keys);
    const [holder, key] = holders[Math.floor(rnd() * holders.length)]!;
    if (rnd() < 0.3 && !Array.isArray(holder)) delete holder[key];
    else holder[key] = value(rnd, keys, 2);
    if (rnd() < 0.2 && !Array.isArray(holder)) holder.zz = 1;
    return copy;
  }

  // Values of every JSON type, near every bound above; integers stay safe (see below).
  function value(rnd: () => number, keys: string[], depth = 0): unknown {
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const kind = depth > 2 ? pick(["s", "n", "b", "z"]) : pick(["s", "n", "b", "z", "a", "o", "o"]);
    switch (kind) {
      case "s":
        return pick(["", "a", "abc", "abcd", "abcde", "x", "ab1", "c"]);
      case "n":
        return pick([-1, 0, 1, 2, 9, 10, 99, 100, 101, 1.5, -0.5]);
      case "b":
        return rnd() < 0.5;
      case "z":
        return null;
      case "a":
        return Array.from({ length: Math.floor(rnd() * 5) }, () => value(rnd, keys, depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (const k of keys) if (rnd() < 0.5) o[k] = value(rnd, keys, depth + 1);
        return o;
      }
    }
  }

  for (const [name, schema, example] of schemas) {
    test(name, () => {
      const rnd = prng(name.length * 7919);
      // Keys the schema knows, and one it does not.
      const keys = [...JSON.stringify(schema).matchAll(/"(\w+)":\{/g)]
        .map((m) => m[1]!)
        .filter((k) => k !== "properties");
      keys.push("zz");
      let accepted = 0;
      for (let i = 0; i < 3000; i++) {
        const v = rnd() < 0.5 ? mutated(rnd, example, keys) : value(rnd, keys);
        const ours = issue(schema, v) === null;
        const theirs = Value.Check(schema, v);
        if (ours !== theirs) throw new Error(`${JSON.stringify(v)}: ours ${ours}, TypeBox ${theirs}`);
        if (ours) accepted++;
      }
      expect(accepted).toBeGreaterThan(0);
    });
  }

  test("deliberate difference: integers must be safe (signed metadata cannot carry more than 2^53-1)", () => {
    expect(Value.Check(Type.Integer(), 2 ** 53)).toBe(true);
    expect(issue(Type.Integer(), 2 ** 53)?.type).toBe("int_type");
  });
});

describe("answers like FastAPI/pydantic", () => {
  const S = Type.Object(
    {
      name: Type.String(),
      n: Type.Optional(Type.Integer({ exclusiveMinimum: 0 })),
      list: Type.Optional(Type.Array(Type.Boolean(), { minItems: 1 })),
      opt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      legacy: Type.Optional(Type.Null()),
    },
    { additionalProperties: false },
  );

  test.each([
    [[], ["body"], "Input should be a valid dictionary", "dict_type"],
    [
      { name: "a", x: 1 },
      ["body", "x"],
      "Extra inputs are not permitted (allowed: name, n, list, opt)",
      "extra_forbidden",
    ],
    [{}, ["body", "name"], "Field required", "missing"],
    [{ name: 1 }, ["body", "name"], "Input should be a valid string", "string_type"],
    [{ name: "a", n: "1" }, ["body", "n"], "Input should be a valid integer", "int_type"],
    [{ name: "a", n: 0 }, ["body", "n"], "Input should be greater than 0", "greater_than"],
    [{ name: "a", list: {} }, ["body", "list"], "Input should be a valid list", "list_type"],
    [{ name: "a", list: [] }, ["body", "list"], "List should have at least 1 item", "too_short"],
    [{ name: "a", list: [1] }, ["body", "list", 0], "Input should be a valid boolean", "bool_type"],
    [
      { name: "a", legacy: {} },
      ["body", "legacy"],
      "Extra inputs are not permitted (allowed: name, n, list, opt)",
      "extra_forbidden",
    ],
  ])("%j", (body, loc, msg, type) => {
    expect(issue(S, body)).toEqual({ loc, msg, type });
  });

  test("unknown fields are reported before missing ones, then fields in order", () => {
    expect(issue(S, { x: 1 })?.loc).toEqual(["body", "x"]);
    expect(issue(S, { n: 0 })?.loc).toEqual(["body", "name"]);
  });

  test("an optional field that accepts null treats null as absent; null-only fields too", () => {
    expect(validate(S, { name: "a", opt: null, legacy: null }, ["body"])).toEqual({ name: "a" });
    expect(validate(S, { name: "a", opt: "o" }, ["body"])).toEqual({ name: "a", opt: "o" });
  });

  test("own words for a node, checks after the structure, and ordered steps", () => {
    const seen: string[] = [];
    const T = extend(
      Type.Object({
        a: extend(Type.Integer({ minimum: 0 }), { messages: { "*": words("a must be a count", "int_type") } }),
        b: extend(Type.String(), { check: (v: string) => v.toUpperCase() }),
      }),
      {
        steps: [
          "b",
          (f) => {
            seen.push(`b=${f.b}`);
          },
          "a",
        ],
      },
    );
    expect(issue(T, { a: -1, b: "x" })).toEqual({ loc: ["body", "a"], msg: "a must be a count", type: "int_type" });
    expect(seen).toEqual(["b=X"]);
    expect(issue(T, { b: "x" })).toEqual({ loc: ["body", "a"], msg: "Field required", type: "missing" });
    expect(validate(T, { a: 1, b: "x" }, ["body"])).toEqual({ a: 1, b: "X" });
  });
});
