/**
 * Tokens across replicas on one PostgreSQL database: a token created on one
 * replica works on another, and a revocation on one is refused by the other
 * from its very next request (no cache to expire). The audit log is shared.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { createDatabase, withServices } from "./helpers.ts";

withServices("test/scaleout/tokens.test.ts", {}, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    db = await createDatabase("tokens");
    a = await startTestServer({ flags: { database: db.url } });
    b = await startTestServer({ flags: { database: db.url } });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  test("revoked on one replica, refused by the other on its next request", async () => {
    expect(a.app.store.kind).toBe("postgres");
    const created = await a.api("POST", "/api/v1/tokens", { name: "ci", scopes: ["read"] });
    expect(created.status).toBe(201);
    const { id, token } = created.body.data;
    const read = () => b.api("GET", "/api/v1/task?task_id=0", undefined, { authorization: `Bearer ${token}` });
    expect((await read()).status).toBe(200);
    expect((await a.api("DELETE", `/api/v1/tokens/${id}`)).status).toBe(200);
    const refused = await read();
    expect(refused.status).toBe(401);
    expect(refused.body.detail.error).toBe("invalid token");

    const log = (await b.api("GET", "/api/v1/audit")).body.data.entries;
    expect(log.map((e: any) => [e.action, e.summary.token_id])).toEqual([
      ["token_create", id],
      ["token_revoke", id],
    ]);
    expect(log[1]).toMatchObject({ principal: "admin", source: "127.0.0.1", route: "DELETE /api/v1/tokens/:id" });
  });
});
