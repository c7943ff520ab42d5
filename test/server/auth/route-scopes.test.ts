/**
 * The route → scope table against the routes the API really registers, and
 * every line of it enforced: for each route, no token → 401, each scope
 * that does not grant it → 403, each that does → through (whatever the
 * route then answers). A route without a table line fails this file — and,
 * should it ship anyway, is refused at run time rather than left open.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SCOPES, grants, type Scope } from "../../../src/auth/scopes.ts";
import { apiRoutes } from "../../../src/server/api/index.ts";
import { Guard } from "../../../src/server/auth/guard.ts";
import { ROUTE_SCOPES, RouteTable, type Access } from "../../../src/server/auth/route-scopes.ts";
import { silentLogger } from "../../../src/log.ts";
import { startTestServer, TOKEN, type TestServer } from "../../helpers/server.ts";

let s: TestServer;
const tokens = new Map<Scope, string>();

beforeAll(async () => {
  s = await startTestServer();
  for (const scope of SCOPES) {
    const r = await s.api("POST", "/api/v1/tokens", { name: `only-${scope}`, scopes: [scope] });
    expect(r.status).toBe(201);
    tokens.set(scope, r.body.data.token);
  }
});
afterAll(() => s?.stop());

/** Every route Elysia registered, as "METHOD /path" without a trailing slash. */
function registeredRoutes(): string[] {
  const routes = apiRoutes(s.app).routes as { method: string; path: string }[];
  const keys = routes.map((r) => `${r.method} ${r.path.length > 1 ? r.path.replace(/\/+$/, "") : r.path}`);
  return [...new Set(keys)].sort();
}

describe("the table covers the API exactly", () => {
  test("every registered route has a line, and every line a route", () => {
    expect(registeredRoutes()).toEqual(Object.keys(ROUTE_SCOPES).sort());
  });

  test("every mutating route needs a scope other than read", () => {
    for (const [key, access] of Object.entries(ROUTE_SCOPES)) {
      if (key.startsWith("GET ")) continue;
      expect({ key, access }).toEqual({
        key,
        access: expect.stringMatching(/^(artifacts:write|metadata:sign|admin)$/),
      });
    }
  });

  test("a route the table forgot is refused, not opened", async () => {
    const { "GET /api/v1/task": _, ...partial } = ROUTE_SCOPES;
    const guard = new Guard({ auth: s.app.auth, log: silentLogger(), metricsPublic: true }, partial);
    const api = apiRoutes({ ...s.app, guard });
    const req = new Request("http://localhost/api/v1/task?task_id=x", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await guard.check(req, "/api/v1/task", "127.0.0.1")).toBeUndefined();
    const r = await api.handle(req);
    expect(r.status).toBe(403);
    expect(((await r.json()) as any).detail.error).toContain("no access rule");
  });
});

describe("RouteTable matching", () => {
  const table = new RouteTable({ "GET /a/b": "read", "DELETE /t/:id": "admin", "GET /": "public" } as Record<
    string,
    Access
  >);
  test.each([
    ["GET", "/a/b", "GET /a/b"],
    ["GET", "/a/b/", "GET /a/b"],
    ["HEAD", "/a/b", "GET /a/b"],
    ["POST", "/a/b", undefined],
    ["GET", "/a/b/c", undefined],
    ["GET", "/a", undefined],
    ["DELETE", "/t/123", "DELETE /t/:id"],
    ["DELETE", "/t/", undefined],
    ["DELETE", "/t/1/2", undefined],
    ["GET", "/", "GET /"],
  ])("%s %s → %s", (method, path, key) => {
    expect(table.find(method, path)?.key).toBe(key);
  });
});

function concrete(key: string): { method: string; path: string; body?: string } {
  const [method, pattern] = key.split(" ") as [string, string];
  const path = pattern.replace(/:[a-z_]+/g, "0000000000000000") + (pattern === "/api/v1/task" ? "?task_id=x" : "");
  return method === "GET" || method === "DELETE" ? { method, path } : { method, path, body: "{}" };
}

describe("every line is enforced", () => {
  for (const [key, access] of Object.entries(ROUTE_SCOPES) as [string, Access][]) {
    test(`${key} (${access})`, async () => {
      const { method, path, body } = concrete(key);
      const call = (token?: string) =>
        fetch(s.url + path, {
          method,
          body,
          headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        });
      const required = access === "metrics" ? "public" : access;
      const anonymous = await call();
      if (required === "public") {
        // /readyz is 503 on a repository not bootstrapped yet: any answer but a refusal.
        expect([401, 403]).not.toContain(anonymous.status);
        return;
      }
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toContain("Bearer");
      for (const scope of SCOPES) {
        const r = await call(tokens.get(scope));
        const text = await r.text();
        if (grants([scope], required)) expect({ scope, status: r.status }).not.toMatchObject({ status: 401 });
        if (grants([scope], required)) expect({ scope, status: r.status }).not.toMatchObject({ status: 403 });
        else {
          expect({ scope, status: r.status }).toEqual({ scope, status: 403 });
          expect(JSON.parse(text).detail.error).toContain(`needs the "${required}" scope`);
          expect(r.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
        }
      }
    });
  }
});
