/**
 * The Helm chart (config/helm/tufbox), checked without Helm (it cannot be
 * installed here): Chart.yaml and values.yaml parse and say what they must;
 * every `.Values.x.y` a template uses is defined in values.yaml (Helm would
 * render a typo as an empty string, silently); every value is used; every
 * `include` names a defined template; actions and blocks are balanced. The
 * checker is tested on broken templates too, so it can fail.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import pkg from "../../package.json" with { type: "json" };
import { REPO } from "../helpers/release.ts";

const CHART = join(REPO, "config/helm/tufbox");

type Tree = Record<string, unknown>;

/** `.Values.a.b` and `$.Values.a.b` references, as paths. */
function valueRefs(template: string): string[] {
  const refs: string[] = [];
  for (const action of template.matchAll(/\{\{(.*?)\}\}/gs))
    for (const m of action[1]!.matchAll(/(?:^|[\s($])\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g))
      refs.push(m[1]!.slice(1));
  return refs;
}

function defined(values: Tree, path: string): boolean {
  let node: unknown = values;
  for (const part of path.split(".")) {
    if (node === null || typeof node !== "object" || Array.isArray(node) || !(part in (node as Tree))) return false;
    node = (node as Tree)[part];
  }
  return true;
}

/** Leaf paths of values.yaml (a map with no keys, a list or a scalar is a leaf). */
function leaves(tree: Tree, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0
      ? leaves(v as Tree, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );
}

/** Everything wrong with a chart's templates, as messages. */
function checkTemplates(values: Tree, templates: Record<string, string>): string[] {
  const problems: string[] = [];
  const all = Object.values(templates).join("\n");
  const defines = new Set([...all.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)].map((m) => m[1]!));
  const used = new Set<string>();
  for (const [file, text] of Object.entries(templates)) {
    if (text.split("{{").length !== text.split("}}").length) problems.push(`${file}: unbalanced {{ }}`);
    const opens = [...text.matchAll(/\{\{-?\s*(if|range|with|define|block)\b/g)].length;
    const ends = [...text.matchAll(/\{\{-?\s*end\b/g)].length;
    if (opens !== ends) problems.push(`${file}: ${opens} if/range/with/define blocks but ${ends} {{ end }}`);
    for (const ref of valueRefs(text)) {
      used.add(ref);
      if (!defined(values, ref)) problems.push(`${file}: .Values.${ref} is not defined in values.yaml`);
    }
    for (const m of text.matchAll(/\b(?:include|template)\s+"([^"]+)"/g))
      if (!defines.has(m[1]!)) problems.push(`${file}: include "${m[1]}" is not defined`);
  }
  for (const leaf of leaves(values)) {
    const parts = leaf.split(".");
    const usedSomehow = parts.some((_, i) => used.has(parts.slice(0, i + 1).join(".")));
    if (!usedSomehow) problems.push(`values.yaml: ${leaf} is not used by any template`);
  }
  return problems;
}

function chartTemplates(): Record<string, string> {
  const dir = join(CHART, "templates");
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]));
}

const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Tree;

describe("config/helm/tufbox", () => {
  test("Chart.yaml: a v2 application chart whose appVersion is this release", () => {
    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8"));
    expect(chart.apiVersion).toBe("v2");
    expect(chart.name).toBe("tufbox");
    expect(chart.type).toBe("application");
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(chart.appVersion).toBe(pkg.version);
  });

  test("values.yaml: one replica on SQLite by default; secrets named, not inlined", () => {
    expect(values.replicaCount).toBe(1);
    expect((values.database as Tree).existingSecret).toBe("");
    expect((values.secrets as Tree).existingSecret).toBeTruthy();
    expect(JSON.stringify(values)).not.toMatch(/BEGIN .*PRIVATE KEY|postgres:\/\/\w+:\w+@/);
  });

  test("templates use only values that values.yaml defines, and every value is used", () => {
    expect(checkTemplates(values, chartTemplates())).toEqual([]);
  });

  test("the deployment: probes on /healthz and /readyz, non-root, read-only root, secrets as files", () => {
    const d = chartTemplates()["deployment.yaml"]!;
    expect(d).toMatch(/livenessProbe:\s+httpGet:\s+path: \/healthz/);
    expect(d).toMatch(/readinessProbe:\s+httpGet:\s+path: \/readyz/);
    expect(d).toContain("runAsNonRoot: true");
    expect(d).toContain("runAsUser: 10001");
    expect(d).toContain("readOnlyRootFilesystem: true");
    expect(d).toContain("allowPrivilegeEscalation: false");
    for (const v of [
      "TUFBOX_ADMIN_TOKEN_FILE",
      "TUFBOX_ONLINE_KEY_FILE",
      "TUFBOX_DATABASE_URL_FILE",
      "TUFBOX_REDIS_URL_FILE",
    ])
      expect(d).toContain(`name: ${v}`);
    // A secret's value never goes into the environment directly.
    expect(d).not.toContain("secretKeyRef");
    expect(chartTemplates()["_helpers.tpl"]).toContain("replicaCount > 1 needs PostgreSQL");
  });
});

describe("the checker itself", () => {
  const base = { "ok.yaml": 'name: {{ include "x" . }}\n{{- define "x" }}{{ .Values.a.b }}{{ end }}' };
  const vals = { a: { b: 1 } };

  test("accepts a correct chart", () => {
    expect(checkTemplates(vals, base)).toEqual([]);
  });

  test("reports an undefined value, an unused value, an unknown include and unbalanced blocks", () => {
    expect(checkTemplates(vals, { ...base, "typo.yaml": "x: {{ .Values.a.c }}" })).toContain(
      "typo.yaml: .Values.a.c is not defined in values.yaml",
    );
    expect(checkTemplates(vals, { ...base, "deep.yaml": "x: {{ $.Values.a.b.c | quote }}" })).toContain(
      "deep.yaml: .Values.a.b.c is not defined in values.yaml",
    );
    expect(checkTemplates({ ...vals, unused: true }, base)).toContain(
      "values.yaml: unused is not used by any template",
    );
    expect(checkTemplates(vals, { ...base, "inc.yaml": '{{ include "nope" . }}' })).toContain(
      'inc.yaml: include "nope" is not defined',
    );
    expect(checkTemplates(vals, { ...base, "if.yaml": "{{- if .Values.a.b }}x" })).toContain(
      "if.yaml: 1 if/range/with/define blocks but 0 {{ end }}",
    );
  });
});
