/**
 * Renders this server's /openapi.json: every operation with its parameters,
 * request body and responses. Written here instead of bundling Swagger UI or
 * Redoc (~1 MB of script each, and both fetch fonts or assets from CDNs by
 * default): the page must work offline and stay small.
 */
import { append, clear, h } from "./lib/dom.ts";

type Json = any;
const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
const main = document.getElementById("main")!;

function resolve(spec: Json, node: Json, depth = 0): Json {
  if (!node || typeof node !== "object" || depth > 12) return node;
  if (typeof node.$ref === "string" && node.$ref.startsWith("#/")) {
    const target = node.$ref
      .slice(2)
      .split("/")
      .reduce((o: Json, k: string) => o?.[k.replace(/~1/g, "/").replace(/~0/g, "~")], spec);
    return resolve(spec, target, depth + 1);
  }
  if (Array.isArray(node)) return node.map((n) => resolve(spec, n, depth + 1));
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(spec, v, depth + 1)]));
}

function schemaBlock(spec: Json, schema: Json): HTMLElement {
  return h("pre", { class: "schema" }, JSON.stringify(resolve(spec, schema), null, 2));
}

function operation(spec: Json, path: string, method: string, op: Json): HTMLElement {
  const params = [...(spec.paths[path].parameters ?? []), ...(op.parameters ?? [])].map((p: Json) => resolve(spec, p));
  const body = op.requestBody ? resolve(spec, op.requestBody) : null;
  return h(
    "details",
    { class: "op", "data-op": `${method.toUpperCase()} ${path}` },
    h(
      "summary",
      null,
      h("span", { class: `method m-${method}` }, method.toUpperCase()),
      h("code", null, path),
      h("span", { class: "muted" }, op.summary ?? ""),
    ),
    h(
      "div",
      { class: "op-body" },
      op.description ? h("p", null, op.description) : null,
      op.security?.length || spec.security?.length ? h("p", { class: "small muted" }, "Needs a bearer token.") : null,
      params.length
        ? h(
            "table",
            null,
            h("caption", null, "Parameters"),
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                ...["Name", "In", "Required", "Schema", "Description"].map((c) => h("th", { scope: "col" }, c)),
              ),
            ),
            h(
              "tbody",
              null,
              params.map((p: Json) =>
                h(
                  "tr",
                  null,
                  h("th", { scope: "row" }, h("code", null, p.name)),
                  h("td", null, p.in),
                  h("td", null, p.required ? "yes" : "no"),
                  h("td", null, h("code", null, p.schema ? JSON.stringify(resolve(spec, p.schema)) : "")),
                  h("td", null, p.description ?? ""),
                ),
              ),
            ),
          )
        : null,
      body
        ? [
            h("h3", null, "Request body"),
            ...Object.entries(body.content ?? {}).map(([type, c]: [string, Json]) => [
              h("p", { class: "small muted" }, type),
              c.schema ? schemaBlock(spec, c.schema) : null,
            ]),
          ]
        : null,
      h("h3", null, "Responses"),
      h(
        "ul",
        null,
        Object.entries(op.responses ?? {}).map(([code, r]: [string, Json]) => {
          const res = resolve(spec, r);
          const schema = Object.values(res?.content ?? {})[0] as Json;
          return h(
            "li",
            null,
            h("strong", null, code),
            ` ${res?.description ?? ""}`,
            schema?.schema ? h("details", null, h("summary", null, "schema"), schemaBlock(spec, schema.schema)) : null,
          );
        }),
      ),
    ),
  );
}

async function start(): Promise<void> {
  let spec: Json;
  try {
    const res = await fetch("/openapi.json", { credentials: "omit" });
    if (!res.ok) throw new Error(`/openapi.json answered HTTP ${res.status}`);
    spec = await res.json();
  } catch (err) {
    clear(main);
    main.append(h("h1", null, "API documentation"), h("p", { class: "error", role: "alert" }, (err as Error).message));
    return;
  }
  const groups = new Map<string, HTMLElement[]>();
  for (const [path, item] of Object.entries(spec.paths ?? {}) as [string, Json][]) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? (path.startsWith("/api/") ? (path.split("/")[3] ?? "api") : "service");
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag)!.push(operation(spec, path, method, op));
    }
  }
  const filter = h("input", {
    id: "filter",
    type: "search",
    placeholder: "filter by path or summary",
    autocomplete: "off",
  });
  filter.addEventListener("input", () => {
    const q = filter.value.toLowerCase();
    for (const el of main.querySelectorAll<HTMLElement>(".op"))
      el.hidden = q !== "" && !(el.textContent ?? "").toLowerCase().includes(q);
  });
  clear(main);
  document.title = `${spec.info?.title ?? "API"} — documentation`;
  append(main, [
    h("h1", null, `${spec.info?.title ?? "API"} ${spec.info?.version ?? ""}`),
    spec.info?.description ? h("p", null, spec.info.description) : null,
    h("p", { class: "search" }, h("label", { for: "filter" }, "Filter"), filter),
    ...[...groups.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([tag, ops]) => h("section", { "aria-label": tag }, h("h2", null, tag), ...ops)),
  ]);
}

void start();
