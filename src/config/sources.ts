/**
 * Where configuration values come from, besides defaults: the YAML file
 * (unknown keys are errors, with a "did you mean"), TUFBOX_* environment
 * variables (with `…_FILE` for secrets), and command-line flags.
 */
import { readFileSync } from "node:fs";
import type { Node as YamlNode } from "yaml";
import type { AnyKeySpec, Secrecy } from "../config.ts";
import type { ConfigProblem } from "./types.ts";
import { bool } from "./values.ts";

export type Env = Record<string, string | undefined>;
export type Flags = Record<string, string | boolean | string[]>;

export interface Candidate {
  raw: unknown;
  source: string;
}

export function normalizeFlags(flags: Flags): Map<string, string | boolean> {
  const out = new Map<string, string | boolean>();
  for (const [k, v] of Object.entries(flags)) {
    // A repeated flag: the last one wins, as in most CLIs.
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out.set(k.replace(/^-+/, ""), last);
  }
  return out;
}

export function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

export function configFile(
  flags: Map<string, string | boolean>,
  env: Env,
  problems: ConfigProblem[],
): { path: string; source: string } | null {
  const flag = flags.get("config");
  if (typeof flag === "boolean") {
    problems.push({ key: "config", source: "--config", expected: "expected a file path after --config" });
    return null;
  }
  if (flag !== undefined) return { path: flag, source: "flag --config" };
  const fromEnv = nonEmpty(env.TUFBOX_CONFIG);
  return fromEnv !== undefined ? { path: fromEnv, source: "env TUFBOX_CONFIG" } : null;
}

export function readYaml(
  file: string,
  source: string,
  problems: ConfigProblem[],
  keys: readonly AnyKeySpec[],
): Map<string, Candidate> {
  const values = new Map<string, Candidate>();
  let textContent: string;
  try {
    textContent = readFileSync(file, "utf8");
  } catch (e) {
    problems.push({
      key: "config",
      value: JSON.stringify(file),
      source: sourceLabel(source),
      expected: `cannot read the file (${errCode(e)})`,
    });
    return values;
  }
  // Loaded only when there is a file to read: the YAML parser is ~2 MiB of
  // an idle server's heap, and most servers (quickstart, env-only) have none.
  const { isMap, isNode, isScalar, LineCounter, parseDocument } = require("yaml") as typeof import("yaml");
  const lineCounter = new LineCounter();
  const doc = parseDocument(textContent, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      problems.push({
        key: "config",
        value: JSON.stringify(file),
        expected: `not valid YAML: ${err.message.split("\n")[0]}`,
      });
    }
    return values;
  }
  const where = (node: unknown): string => {
    const range = isNode(node) ? node.range : undefined;
    return range ? `${file} line ${lineCounter.linePos(range[0]).line}` : file;
  };
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return values; // empty file
  if (!isMap(doc.contents)) {
    problems.push({
      key: "config",
      value: JSON.stringify(file),
      expected: "expected a YAML mapping of keys (see config/tufbox.example.yaml)",
    });
    return values;
  }
  const leaves = new Set(keys.map((k) => k.path));
  const walk = (map: YamlNode, prefix: string): void => {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const full = prefix + k;
      const valueNode = pair.value;
      const value = isNode(valueNode) ? valueNode.toJS(doc) : valueNode;
      if (leaves.has(full)) {
        // `key:` or `key: null` in the file means "not set here".
        if (value !== null && value !== undefined)
          values.set(full, { raw: value, source: where(valueNode ?? pair.key) });
      } else if ([...leaves].some((l) => l.startsWith(full + "."))) {
        if (isMap(valueNode)) walk(valueNode, full + ".");
        else if (value !== null && value !== undefined) {
          problems.push({
            key: full,
            value: showRaw(value),
            source: where(valueNode),
            expected: `expected a mapping with keys ${childKeys(keys, full).join(", ")}`,
          });
        }
      } else {
        problems.push({
          key: full,
          source: where(pair.key),
          expected: `unknown key${suggest(full, leaves)}; allowed here: ${siblings(keys, prefix).join(", ")}`,
        });
      }
    }
  };
  walk(doc.contents, "");
  return values;
}

function childKeys(keys: readonly AnyKeySpec[], section: string): string[] {
  return keys.filter((k) => k.path.startsWith(section + ".")).map((k) => k.path.slice(section.length + 1));
}

function siblings(keys: readonly AnyKeySpec[], prefix: string): string[] {
  const names = keys.filter((k) => k.path.startsWith(prefix)).map((k) => k.path.slice(prefix.length).split(".")[0]!);
  return [...new Set(names)];
}

function suggest(got: string, leaves: Set<string>): string {
  const candidates = new Set<string>();
  for (const l of leaves) {
    candidates.add(l);
    const dot = l.indexOf(".");
    if (dot > 0) candidates.add(l.slice(0, dot));
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(got, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(got.length / 4))
    ? ` (did you mean "${best}"?)`
    : "";
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

export function envCandidate(spec: AnyKeySpec, env: Env, problems: ConfigProblem[]): Candidate | undefined {
  for (const name of spec.env) {
    const direct = nonEmpty(env[name]);
    const fileName = `${name}_FILE`;
    const filePath = spec.secret ? nonEmpty(env[fileName]) : undefined;
    if (direct !== undefined && filePath !== undefined) {
      problems.push({ key: spec.path, source: `${name} and ${fileName}`, expected: "set only one of the two" });
      return undefined;
    }
    if (direct !== undefined) return { raw: direct, source: `env ${name}` };
    if (filePath !== undefined) {
      try {
        return { raw: readFileSync(filePath, "utf8").trim(), source: `env ${fileName}=${filePath}` };
      } catch (e) {
        problems.push({
          key: spec.path,
          source: `${fileName}=${filePath}`,
          expected: `cannot read the file (${errCode(e)})`,
        });
        return undefined;
      }
    }
  }
  return undefined;
}

export function flagCandidate(spec: AnyKeySpec, flags: Map<string, string | boolean>): Candidate | undefined {
  if (spec.flag === undefined) return undefined;
  const v = flags.get(spec.flag);
  if (v === undefined) return undefined;
  // `--data-dir` with no value reaches us as `true`; the parser then says
  // what it expected instead of using the string "true".
  return { raw: v === true && spec.parse !== bool ? undefined : v, source: `flag --${spec.flag}` };
}

export function sourceLabel(source: string): string {
  return source.replace(/^(env|flag) /, "");
}

/** Set to 1 to allow insecure_disable on a non-loopback listen address. */
export const I_KNOW_AUTH_IS_DISABLED = "TUFBOX_I_KNOW_AUTH_IS_DISABLED";

export function warnUnknownEnv(env: Env, warnings: string[], keys: readonly AnyKeySpec[]): void {
  const known = new Set([
    "TUFBOX_CONFIG",
    I_KNOW_AUTH_IS_DISABLED,
    ...keys.flatMap((k) => k.env.flatMap((e) => (k.secret ? [e, `${e}_FILE`] : [e]))),
  ]);
  for (const name of Object.keys(env)) {
    // TUFBOX_TEST_* belongs to the test suite, not to the service.
    if (
      name.startsWith("TUFBOX_") &&
      !name.startsWith("TUFBOX_TEST_") &&
      !known.has(name) &&
      nonEmpty(env[name]) !== undefined
    ) {
      warnings.push(`environment variable ${name} is not a tufbox setting and is ignored (typo?)`);
    }
  }
}

export function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/i, "$1:<redacted>@");
}

export function showRaw(raw: unknown, secret?: Secrecy): string {
  if (raw === undefined) return "(no value)";
  if (secret === "value") return "<redacted>";
  let s =
    typeof raw === "string"
      ? JSON.stringify(secret === "url" ? redactUrl(raw) : raw)
      : (JSON.stringify(raw) ?? String(raw));
  if (s.length > 120) s = s.slice(0, 117) + "...";
  return s;
}

export function errCode(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : e instanceof Error ? e.message : String(e);
}
