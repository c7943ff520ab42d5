/**
 * tufbox API tokens over HTTP: created once and shown once, listed without
 * secrets, scoped, expiring, revoked at once; the bootstrap admin token
 * (TUFBOX_ADMIN_TOKEN, or generated at first start) keeps working.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { hashToken } from "../../../src/auth/tokens.ts";
import { binsPayload } from "../../helpers/fixtures.ts";
import { startTestServer, tempDir, TOKEN, type TestServer } from "../../helpers/server.ts";

let s: TestServer;
const item = (path: string) => ({ path, info: { length: 3, hashes: { sha256: "ab".repeat(32) } } });
const as = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  s = await startTestServer();
  const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(4));
  expect(r.status).toBe(202);
  await s.waitTask(r.body.data.task_id);
});
afterAll(() => s?.stop());

async function create(body: unknown): Promise<any> {
  const r = await s.api("POST", "/api/v1/tokens", body);
  expect(r.status).toBe(201);
  return r.body.data;
}

describe("create and list", () => {
  test("the token is shown once; the list shows everything but secrets", async () => {
    const r = await s.api("POST", "/api/v1/tokens", { name: "ci", scopes: ["artifacts:write"] });
    expect(r.status).toBe(201);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.message).toContain("shown only once");
    const d = r.body.data;
    expect(d).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      name: "ci",
      scopes: ["artifacts:write"],
      created_at: expect.any(String),
      expires_at: null,
      created_by: "admin",
      token: expect.stringMatching(/^tufbox_[A-Za-z0-9_-]{43}$/),
    });
    const list = await s.api("GET", "/api/v1/tokens");
    expect(list.status).toBe(200);
    const listed = list.body.data.tokens.find((t: any) => t.id === d.id);
    expect(listed).toEqual({ ...d, token: undefined });
    expect(Object.keys(listed)).not.toContain("token");
    expect(list.text).not.toContain(d.token);
    expect(list.text).not.toContain(hashToken(d.token));
    // Stored hashed: the database holds the hash, never the token.
    expect((await s.app.store.findToken(hashToken(d.token)))?.id).toBe(d.id);
  });

  test("expires_in_days sets the expiry", async () => {
    const d = await create({ name: "short", scopes: ["read"], expires_in_days: 90 });
    const days = (Date.parse(d.expires_at) - Date.parse(d.created_at)) / 86_400_000;
    expect(days).toBe(90);
  });

  const bad: [string, unknown, (string | number)[]][] = [
    ["no name", { scopes: ["read"] }, ["body", "name"]],
    ["empty name", { name: "", scopes: ["read"] }, ["body", "name"]],
    ["name with a newline", { name: "a\nb", scopes: ["read"] }, ["body", "name"]],
    ["name too long", { name: "x".repeat(65), scopes: ["read"] }, ["body", "name"]],
    ["no scopes", { name: "n" }, ["body", "scopes"]],
    ["empty scopes", { name: "n", scopes: [] }, ["body", "scopes"]],
    ["unknown scope", { name: "n", scopes: ["read", "write:everything"] }, ["body", "scopes", 1]],
    ["expiry 0", { name: "n", scopes: ["read"], expires_in_days: 0 }, ["body", "expires_in_days"]],
    ["expiry too far", { name: "n", scopes: ["read"], expires_in_days: 3651 }, ["body", "expires_in_days"]],
    ["expiry not a number", { name: "n", scopes: ["read"], expires_in_days: "90d" }, ["body", "expires_in_days"]],
    ["unknown field", { name: "n", scopes: ["read"], token: "mine" }, ["body", "token"]],
  ];
  test.each(bad)("422 naming the field: %s", async (_name, body, loc) => {
    const before = (await s.app.store.listTokens()).length;
    const r = await s.api("POST", "/api/v1/tokens", body);
    expect(r.status).toBe(422);
    expect(r.body.detail[0].loc).toEqual(loc);
    expect((await s.app.store.listTokens()).length).toBe(before);
  });
});

describe("scopes", () => {
  test("a CI token can add artifacts and follow its task, and nothing else", async () => {
    const ci = (await create({ name: "ci-only", scopes: ["artifacts:write"] })).token;
    const add = await s.api("POST", "/api/v1/artifacts", { artifacts: [item("ci/app-1.0")] }, as(ci));
    expect(add.status).toBe(202);
    const task = await s.api("GET", `/api/v1/task?task_id=${add.body.data.task_id}`, undefined, as(ci));
    expect(task.status).toBe(200);
    for (const [method, path, body] of [
      ["PUT", "/api/v1/config", { settings: { expiration: { timestamp: 2 } } }],
      ["POST", "/api/v1/metadata/online", {}],
      ["POST", "/api/v1/tokens", { name: "escalate", scopes: ["admin"] }],
      ["GET", "/api/v1/tokens", undefined],
      ["POST", "/api/v1/metadata/sign", { role: "root", signature: { keyid: "a", sig: "b" } }],
    ] as const) {
      const r = await s.api(method, path, body, as(ci));
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
      expect(r.body.detail.message).toBe("Forbidden");
    }
  });

  test("a read token reads and changes nothing", async () => {
    const reader = (await create({ name: "dashboard", scopes: ["read"] })).token;
    expect((await s.api("GET", "/api/v1/config", undefined, as(reader))).status).toBe(200);
    expect((await s.api("GET", "/api/v1/audit", undefined, as(reader))).status).toBe(200);
    expect((await s.api("POST", "/api/v1/artifacts", { artifacts: [item("r/x")] }, as(reader))).status).toBe(403);
  });
});

describe("revocation and expiry", () => {
  test("a revoked token is refused from the next request on", async () => {
    const d = await create({ name: "to-revoke", scopes: ["read"] });
    expect((await s.api("GET", "/api/v1/config", undefined, as(d.token))).status).toBe(200);
    const del = await s.api("DELETE", `/api/v1/tokens/${d.id}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { id: d.id }, message: "Token revoked." });
    const after = await s.api("GET", "/api/v1/config", undefined, as(d.token));
    expect(after.status).toBe(401);
    expect(after.body.detail.error).toBe("invalid token");
    const again = await s.api("DELETE", `/api/v1/tokens/${d.id}`);
    expect(again.status).toBe(404);
    expect((await s.api("GET", "/api/v1/tokens")).body.data.tokens.map((t: any) => t.id)).not.toContain(d.id);
  });

  test("an expired token is refused, saying so", async () => {
    const token = "tufbox_expired-token-for-the-test-0000000000000";
    await s.app.store.putToken({
      id: "expiredexpired00",
      hash: hashToken(token),
      name: "old",
      scopes: ["admin"],
      createdAt: "2020-01-01T00:00:00Z",
      expiresAt: new Date(Date.now() - 1000).toISOString(),
      createdBy: "admin",
    });
    const r = await s.api("GET", "/api/v1/config", undefined, as(token));
    expect(r.status).toBe(401);
    expect(r.body.detail.error).toContain("token expired");
  });
});

describe("the bootstrap admin token", () => {
  test("TUFBOX_ADMIN_TOKEN is admin and coexists with stored tokens", async () => {
    expect((await s.api("GET", "/api/v1/tokens", undefined, as(TOKEN))).status).toBe(200);
  });

  test("without it, the first start generates one, stored hashed and listed as admin; later starts do not", async () => {
    const dataDir = tempDir();
    const env = { TUFBOX_ADMIN_TOKEN: "" };
    const first = await startTestServer({ dataDir, env });
    let generated: string;
    try {
      generated = first.app.generatedToken!;
      expect(generated).toMatch(/^tufbox_/);
      const list = await first.api("GET", "/api/v1/tokens", undefined, as(generated));
      expect(list.status).toBe(200);
      expect(list.body.data.tokens).toEqual([
        expect.objectContaining({ name: "admin", scopes: ["admin"], created_by: null }),
      ]);
    } finally {
      await first.stop();
    }
    const second = await startTestServer({ dataDir, env });
    try {
      expect(second.app.generatedToken).toBeNull();
      expect((await second.api("GET", "/api/v1/tokens", undefined, as(generated))).status).toBe(200);
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
