/**
 * Request schemas: each API body and query is described once, as a TypeBox
 * schema (plain JSON Schema, so `Static<>` gives its TypeScript type and
 * openapi.ts publishes it as is). `validate` reads the same schema and
 * answers bad input the way RSTUF's FastAPI/pydantic does: a 422 whose
 * `detail` names the field (`loc`), says why (`msg`) and how (`type`).
 *
 * Why our own reader and not TypeBox's checker: TypeBox reports in its own
 * words and order (missing fields before unknown ones; "Expected integer"),
 * while RSTUF clients and this API's contract tests expect pydantic's words,
 * pydantic's order (unknown fields first, then each field in turn) and, where
 * tufbox has long answered in its own words, those words. So this walks the
 * schema itself — objects, arrays, strings, integers, booleans, null, unions
 * with null, records — and test/server/api/schema.test.ts proves it accepts
 * exactly what TypeBox's checker accepts on the structural part.
 *
 * Beyond JSON Schema, a node may carry (under the EXT symbol, so it never
 * reaches /openapi.json):
 * - `messages`: its own words for a failed keyword;
 * - `check`: TUF rules no JSON Schema can say (a target path, a root's
 *   signatures), run after the structural checks, possibly replacing the value;
 * - `opaque`: `check` alone decides (the schema only documents the shape);
 * - `steps`: for objects, the order fields are checked in, with cross-field
 *   checks between them.
 *
 * An optional field whose schema accepts null treats null as absent (RSTUF's
 * `X | None = None`, handed on with `exclude_none`): it is left out of the
 * result. A field whose schema is only `null` is one tufbox tolerates as null
 * but does not support: any other value is an unknown field.
 */
import type { TSchema } from "@sinclair/typebox";
import { ValidationError } from "../../repository/errors.ts";
import { TufError } from "../../tuf/errors.ts";

export type Loc = (string | number)[];

/** A failed keyword, in the words a client sees. */
export interface Words {
  msg: string;
  type: string;
}

export type Keyword =
  | "type"
  | "required"
  | "additional"
  | "minItems"
  | "maxItems"
  | "minLength"
  | "maxLength"
  | "pattern"
  | "minimum"
  | "exclusiveMinimum"
  | "maximum"
  | "minProperties"
  | "maxProperties";

/** Per validation run: state cross-field checks share (e.g. paths seen so far). */
export interface ValidationContext {
  memo<T>(key: string, init: () => T): T;
}

export type Step = (
  // biome-ignore lint/suspicious/noExplicitAny: a step sees the fields validated so far, whatever their types
  fields: Record<string, any>,
  loc: Loc,
  ctx: ValidationContext,
  raw: Record<string, unknown>,
) => void;

export interface SchemaExtension {
  messages?: Partial<Record<Keyword | "*", Words | ((value: unknown) => Words)>>;
  // biome-ignore lint/suspicious/noExplicitAny: checks receive the structurally valid value
  check?: (value: any, loc: Loc, ctx: ValidationContext) => unknown;
  opaque?: boolean;
  steps?: (string | Step)[];
}

export const EXT = Symbol.for("tufbox.schema-extension");

/** `schema` with `extension` attached (kept by TypeBox's Optional/Union wrappers, dropped from JSON). */
export function extend<T extends TSchema>(schema: T, extension: SchemaExtension): T {
  const merged = { ...(schema as unknown as Record<symbol, SchemaExtension | undefined>)[EXT], ...extension };
  Object.defineProperty(schema, EXT, { value: merged, enumerable: true, configurable: true });
  return schema;
}

/** The 422 issue every failure of this node reports. */
export function words(msg: string, type = "value_error"): Words {
  return { msg, type };
}

/** A check that runs a TUF-layer parser; its TufError's dotted field becomes a loc under `parent`. */
// biome-ignore lint/suspicious/noExplicitAny: the parser receives what the structural checks let through
export function tufCheck<T>(parse: (value: any, loc: Loc) => T, parentLevels = 1) {
  return (value: unknown, loc: Loc): T => {
    try {
      return parse(value, loc);
    } catch (err) {
      if (err instanceof TufError) throw ValidationError.fromTuf(err, loc.slice(0, loc.length - parentLevels));
      throw err;
    }
  };
}

/** Validate `value` against `schema`; the result has optional nulls removed and checks' replacements applied. */
export function validate<T>(schema: TSchema, value: unknown, loc: Loc): T {
  const memos = new Map<string, unknown>();
  const ctx: ValidationContext = {
    memo<M>(key: string, init: () => M): M {
      if (!memos.has(key)) memos.set(key, init());
      return memos.get(key) as M;
    },
  };
  return walk(schema, value, loc, ctx) as T;
}

// ------------------------------------------------------------------ the walk

type Node = TSchema & Record<string, unknown>;

function ext(schema: Node): SchemaExtension | undefined {
  return (schema as unknown as Record<symbol, SchemaExtension | undefined>)[EXT];
}

function fail(schema: Node, keyword: Keyword, loc: Loc, value: unknown, fallback: Words): never {
  const m = ext(schema)?.messages;
  // "*" is every way the value itself can be wrong; a missing field keeps its own words.
  const given = keyword === "required" ? m?.required : (m?.[keyword] ?? m?.["*"]);
  const w = typeof given === "function" ? given(value) : (given ?? fallback);
  throw ValidationError.at(loc, w.msg, w.type);
}

function walk(schema: Node, value: unknown, loc: Loc, ctx: ValidationContext): unknown {
  const x = ext(schema);
  let out = x?.opaque ? value : structure(schema, value, loc, ctx);
  if (x?.check) {
    const replaced = x.check(out, loc, ctx);
    if (replaced !== undefined) out = replaced;
  }
  return out;
}

const isNullSchema = (s: Node) => s.type === "null";

function acceptsNull(schema: Node): boolean {
  return isNullSchema(schema) || (Array.isArray(schema.anyOf) && (schema.anyOf as Node[]).some(isNullSchema));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function structure(schema: Node, value: unknown, loc: Loc, ctx: ValidationContext): unknown {
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as Node[];
    if (value === null && members.some(isNullSchema)) return null;
    const rest = members.filter((m) => !isNullSchema(m));
    if (rest.length !== 1) throw new Error("schema: only unions with null are supported");
    return walk(rest[0]!, value, loc, ctx);
  }
  switch (schema.type) {
    case "object":
      return object(schema, value, loc, ctx);
    case "array":
      return array(schema, value, loc, ctx);
    case "string":
      return string(schema, value, loc);
    case "integer":
      return integer(schema, value, loc);
    case "boolean":
      if (typeof value !== "boolean")
        fail(schema, "type", loc, value, words("Input should be a valid boolean", "bool_type"));
      return value;
    case "null":
      if (value !== null) fail(schema, "type", loc, value, words("Input should be None", "none_required"));
      return value;
    case undefined:
      return value;
    default:
      throw new Error(`schema: type ${String(schema.type)} is not supported`);
  }
}

/** What object() derives from a schema node, once per node rather than once per validated value. */
interface ObjectShape {
  props: Record<string, Node>;
  required: Set<string>;
  /** optional properties whose only allowed value is null */
  nullOnly: Set<string>;
  /** the first patternProperties entry, its pattern compiled (dotAll) */
  pattern?: { source: string; re: RegExp; item: Node };
  /** properties named in an "Extra inputs" message */
  allowed: string[];
  steps: (string | Step)[];
}

const shapes = new WeakMap<Node, ObjectShape>();

function shapeOf(schema: Node): ObjectShape {
  let shape = shapes.get(schema);
  if (shape) return shape;
  const props = (schema.properties ?? {}) as Record<string, Node>;
  const required = new Set((schema.required ?? []) as string[]);
  const nullOnly = new Set(Object.keys(props).filter((k) => isNullSchema(props[k]!) && !required.has(k)));
  const first = Object.entries((schema.patternProperties ?? {}) as Record<string, Node>)[0];
  shape = {
    props,
    required,
    nullOnly,
    // dotAll: TypeBox's "any key" pattern ^(.*)$ must match keys with newlines too.
    pattern: first && { source: first[0], re: new RegExp(first[0], "s"), item: first[1] },
    allowed: Object.keys(props).filter((k) => !nullOnly.has(k)),
    steps: ext(schema)?.steps ?? Object.keys(props),
  };
  shapes.set(schema, shape);
  return shape;
}

function object(schema: Node, value: unknown, loc: Loc, ctx: ValidationContext): Record<string, unknown> {
  if (!isRecord(value)) fail(schema, "type", loc, value, words("Input should be a valid dictionary", "dict_type"));
  const { props, required, nullOnly, pattern, allowed, steps } = shapeOf(schema);
  if (schema.additionalProperties === false && !pattern) {
    for (const k of Object.keys(value)) {
      if (Object.hasOwn(props, k) && !(nullOnly.has(k) && value[k] !== null)) continue;
      fail(
        schema,
        "additional",
        [...loc, k],
        value,
        words(`Extra inputs are not permitted (allowed: ${allowed.join(", ")})`, "extra_forbidden"),
      );
    }
  }
  // Counts first: a map too big is refused before any entry is looked at.
  const n = Object.keys(value).length;
  if (typeof schema.minProperties === "number" && n < schema.minProperties)
    fail(
      schema,
      "minProperties",
      loc,
      value,
      words(`Dictionary should have at least ${schema.minProperties} item(s)`, "too_short"),
    );
  if (typeof schema.maxProperties === "number" && n > schema.maxProperties)
    fail(
      schema,
      "maxProperties",
      loc,
      value,
      words(`Dictionary should have at most ${schema.maxProperties} item(s)`, "too_long"),
    );
  const out: Record<string, unknown> = {};
  for (const step of steps) {
    if (typeof step === "function") {
      step(out, loc, ctx, value);
      continue;
    }
    const prop = props[step];
    if (!prop) throw new Error(`schema: step ${step} is not a property`);
    const v = value[step];
    if (v === undefined || (v === null && !required.has(step) && acceptsNull(prop))) {
      if (required.has(step)) fail(prop, "required", [...loc, step], v, words("Field required", "missing"));
      continue;
    }
    out[step] = walk(prop, v, [...loc, step], ctx);
  }
  const names = schema.propertyNames as Node | undefined;
  // Every key was checked to be a property above: nothing more to look at.
  if (schema.additionalProperties === false && !pattern && !names) return out;
  for (const k of Object.keys(value)) {
    if (Object.hasOwn(props, k)) continue;
    const v = value[k];
    if (names) walk(names, k, [...loc, k], ctx);
    if (pattern) {
      if (!pattern.re.test(k))
        fail(
          schema,
          "pattern",
          [...loc, k],
          k,
          words(`Invalid key ${JSON.stringify(k)} (keys match ${pattern.source})`),
        );
      define(out, k, walk(pattern.item, v, [...loc, k], ctx));
    } else if (schema.additionalProperties !== false) {
      define(out, k, v);
    }
  }
  return out;
}

/** Keys come from requests: "__proto__" is a key like any other, never a prototype. */
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function array(schema: Node, value: unknown, loc: Loc, ctx: ValidationContext): unknown[] {
  if (!Array.isArray(value)) fail(schema, "type", loc, value, words("Input should be a valid list", "list_type"));
  const plural = (n: number) => `${n} item${n === 1 ? "" : "s"}`;
  if (typeof schema.minItems === "number" && value.length < schema.minItems)
    fail(schema, "minItems", loc, value, words(`List should have at least ${plural(schema.minItems)}`, "too_short"));
  if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
    fail(schema, "maxItems", loc, value, words(`List should have at most ${plural(schema.maxItems)}`, "too_long"));
  const items = schema.items as Node | undefined;
  return items ? value.map((item, i) => walk(items, item, [...loc, i], ctx)) : value;
}

function string(schema: Node, value: unknown, loc: Loc): string {
  if (typeof value !== "string")
    fail(schema, "type", loc, value, words("Input should be a valid string", "string_type"));
  if (typeof schema.minLength === "number" && value.length < schema.minLength)
    fail(
      schema,
      "minLength",
      loc,
      value,
      words(`String should have at least ${schema.minLength} characters`, "string_too_short"),
    );
  if (typeof schema.maxLength === "number" && value.length > schema.maxLength)
    fail(
      schema,
      "maxLength",
      loc,
      value,
      words(`String should have at most ${schema.maxLength} characters`, "string_too_long"),
    );
  if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value))
    fail(
      schema,
      "pattern",
      loc,
      value,
      words(`String should match pattern '${schema.pattern}'`, "string_pattern_mismatch"),
    );
  return value;
}

function integer(schema: Node, value: unknown, loc: Loc): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value))
    fail(schema, "type", loc, value, words("Input should be a valid integer", "int_type"));
  if (typeof schema.minimum === "number" && value < schema.minimum)
    fail(
      schema,
      "minimum",
      loc,
      value,
      words(`Input should be greater than or equal to ${schema.minimum}`, "greater_than_equal"),
    );
  if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum)
    fail(
      schema,
      "exclusiveMinimum",
      loc,
      value,
      words(`Input should be greater than ${schema.exclusiveMinimum}`, "greater_than"),
    );
  if (typeof schema.maximum === "number" && value > schema.maximum)
    fail(
      schema,
      "maximum",
      loc,
      value,
      words(`Input should be less than or equal to ${schema.maximum}`, "less_than_equal"),
    );
  return value;
}
