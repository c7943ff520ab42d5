/**
 * GET /openapi.json documents every route the API serves: each route Elysia
 * has registered appears with its method, request schema, response schemas
 * and auth requirement. A route added without a description (route.ts) fails here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiRoutes } from "../../../src/server/api/index.ts";
import { openApiPath } from "../../../src/server/api/openapi.ts";
import { startTestServer, type TestServer } from "../../helpers/server.ts";

let server: TestServer;
let doc: any;

beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(`${server.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  doc = await res.json();
});

afterAll(() => server?.stop());

/** Mutating routes that take no body at all. */
const NO_BODY = new Set([
  "POST /api/v1/artifacts/publish",
  "POST /api/v1/jobs/{name}/run",
  "POST /api/v1/publisher/resume",
  "DELETE /api/v1/tokens/{id}",
  "POST /api/v1/backup",
]);
/** Routes whose body is streamed (not JSON): their content type. */
const STREAMED: Record<string, string> = {
  "PUT /api/v1/artifacts/content/{path}": "application/octet-stream",
  "POST /api/v1/artifacts/upload": "multipart/form-data",
};

describe("/openapi.json", () => {
  test("is an OpenAPI 3.1 document with a bearer security scheme", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(typeof doc.info.title).toBe("string");
    expect(typeof doc.info.version).toBe("string");
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: "http", scheme: "bearer" }));
  });

  test("documents exactly the routes the server registers", () => {
    const served = apiRoutes(server.app)
      .routes.map((r: { method: string; path: string }) => `${r.method} ${openApiPath(r.path)}`)
      .sort();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(served);
    for (const route of [
      "POST /api/v1/bootstrap",
      "POST /api/v1/artifacts",
      "GET /api/v1/task",
      "PUT /api/v1/config",
      "POST /api/v1/metadata/sign",
      "POST /api/v1/delegations/delete",
    ])
      expect(documented).toContain(route);
  });

  test("every route has its request and response schemas and says whether it needs a token", () => {
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        const ok = Object.entries(op.responses as Record<string, any>).filter(([s]) => s.startsWith("2"));
        if (ok.length === 0 || ok.some(([, r]) => !r.content || !Object.values(r.content).every((c: any) => c.schema)))
          problems.push(`${name}: no success response schema`);
        if (!Array.isArray(op.security)) problems.push(`${name}: no security requirement`);
        const token = op.security.length > 0;
        if (token && (op.security.length !== 1 || !Array.isArray(op.security[0].bearer)))
          problems.push(`${name}: a token, but not a bearer token`);
        if (token && !op.responses["401"]) problems.push(`${name}: needs a token but documents no 401`);
        if (method === "post" || method === "put" || method === "delete") {
          if (!token) problems.push(`${name}: a mutating route without a token`);
          if (!NO_BODY.has(name)) {
            const schema = op.requestBody?.content?.[STREAMED[name] ?? "application/json"]?.schema;
            if (!schema?.type) problems.push(`${name}: no request body schema`);
            if (!op.responses["422"]) problems.push(`${name}: no 422`);
          }
        }
        for (const p of path.match(/\{\w+\}/g) ?? [])
          if (!op.parameters?.some((x: any) => x.in === "path" && `{${x.name}}` === p))
            problems.push(`${name}: ${p} undocumented`);
        if (!op.summary || !op.operationId) problems.push(`${name}: no summary or operationId`);
      }
    }
    expect(problems).toEqual([]);
  });

  test("each route's security is its line of the route → scope table", () => {
    const security = (path: string, method: string) => doc.paths[path][method].security;
    expect(security("/healthz", "get")).toEqual([]);
    expect(security("/openapi.json", "get")).toEqual([]);
    expect(security("/api/v1/task", "get")).toEqual([{ bearer: ["read"] }]);
    expect(security("/api/v1/bootstrap", "post")).toEqual([{ bearer: ["admin"] }]);
    expect(security("/api/v1/artifacts", "post")).toEqual([{ bearer: ["artifacts:write"] }]);
    expect(security("/api/v1/metadata/sign", "post")).toEqual([{ bearer: ["metadata:sign"] }]);
    expect(security("/api/v1/tasks", "get")).toEqual([{ bearer: ["read"] }]);
    expect(security("/api/v1/jobs/{name}/run", "post")).toEqual([{ bearer: ["admin"] }]);
    expect(security("/api/v1/tokens/{id}", "delete")).toEqual([{ bearer: ["admin"] }]);
  });

  test("request schemas say what the validator checks (fields, limits), never its internals", () => {
    const add = doc.paths["/api/v1/artifacts"].post.requestBody.content["application/json"].schema;
    expect(add.additionalProperties).toBe(false);
    expect(add.required).toEqual(["artifacts"]);
    expect(add.properties.artifacts.maxItems).toBe(server.app.config.limits.max_artifacts_per_request);
    expect(add.properties.artifacts.items.properties.info.properties.length).toEqual({ type: "integer", minimum: 0 });
    const task = doc.paths["/api/v1/task"].get.parameters;
    expect(task).toEqual([expect.objectContaining({ name: "task_id", in: "query", required: true })]);
    const text = JSON.stringify(doc);
    expect(text).not.toContain("opaque");
    expect(text).not.toContain("PRIVATE");
  });
});
