/**
 * The audit log over HTTP: every accepted change is recorded with its
 * principal, source address, route and task, in the same transaction as the
 * change (a refused request leaves nothing); never a token or a signature.
 * GET /api/v1/audit filters by since, limit and principal; the scheduler's
 * re-signing, jobs run by hand and the retention job show up too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { binsPayload } from "../../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer } from "../../helpers/server.ts";

let s: TestServer;
let ci: { id: string; token: string };
const item = (path: string) => ({ path, info: { length: 3, hashes: { sha256: "ab".repeat(32) } } });
const as = (token: string) => ({ authorization: `Bearer ${token}` });
const tasks: Record<string, string> = {};

async function audit(query = ""): Promise<any[]> {
  const r = await s.api("GET", `/api/v1/audit${query}`);
  expect(r.status).toBe(200);
  return r.body.data.entries;
}

beforeAll(async () => {
  s = await startTestServer({ env: { TUFBOX_AUDIT_RETENTION_DAYS: "30" } });
  const boot = await s.api("POST", "/api/v1/bootstrap", binsPayload(4));
  tasks.bootstrap = boot.body.data.task_id;
  await s.waitTask(tasks.bootstrap!);
  const created = await s.api("POST", "/api/v1/tokens", { name: "ci", scopes: ["artifacts:write"] });
  ci = created.body.data;
  const add = await s.api(
    "POST",
    "/api/v1/artifacts",
    { artifacts: [item("a/1"), item("b/2"), item("c/3")] },
    as(ci.token),
  );
  tasks.add = add.body.data.task_id;
  await s.waitTask(tasks.add!);
  const del = await s.api("POST", "/api/v1/artifacts/delete", { artifacts: ["a/1"] }, as(ci.token));
  tasks.remove = del.body.data.task_id;
  const config = await s.api("PUT", "/api/v1/config", { settings: { expiration: { timestamp: 2 } } });
  tasks.config = config.body.data.task_id;
  const bump = await s.api("POST", "/api/v1/metadata/online", { roles: ["snapshot"] });
  tasks.bump = bump.body.data.task_id;
  for (const id of [tasks.remove!, tasks.config!, tasks.bump!]) await s.waitTask(id);
});
afterAll(() => s?.stop());

describe("what is recorded", () => {
  test("each accepted change: principal, source, route, task, summary", async () => {
    const log = await audit();
    const byTask = (id: string) => log.find((e) => e.task_id === id);
    expect(byTask(tasks.bootstrap!)).toEqual({
      id: expect.any(Number),
      at: expect.any(String),
      principal: "admin",
      principal_name: "admin (TUFBOX_ADMIN_TOKEN)",
      source: "127.0.0.1",
      route: "POST /api/v1/bootstrap",
      task_id: tasks.bootstrap,
      action: "bootstrap",
      summary: { root_version: 1, root_signed: true, bins: 4 },
    });
    expect(byTask(tasks.add!)).toMatchObject({
      principal: `token:${ci.id}`,
      principal_name: "ci",
      source: "127.0.0.1",
      route: "POST /api/v1/artifacts",
      action: "add_artifacts",
      summary: { artifacts: 3, publish: true, roles_count: expect.any(Number) },
    });
    expect(byTask(tasks.remove!)).toMatchObject({ action: "remove_artifacts", summary: { artifacts: 1 } });
    expect(byTask(tasks.config!)).toMatchObject({
      principal: "admin",
      route: "PUT /api/v1/config",
      action: "update_settings",
      summary: { expiration: { timestamp: 2 } },
    });
    expect(byTask(tasks.bump!)).toMatchObject({
      action: "force_online_metadata_update",
      summary: { roles: ["snapshot"], roles_count: 1 },
    });
    const tokenEntry = log.find((e) => e.action === "token_create" && e.summary.name === "ci");
    expect(tokenEntry).toMatchObject({
      principal: "admin",
      route: "POST /api/v1/tokens",
      task_id: null,
      summary: { token_id: ci.id, name: "ci", scopes: ["artifacts:write"], expires_at: null },
    });
    // Oldest first, ids increasing.
    const ids = log.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  test("no token, hash or signature ever appears", async () => {
    const r = await s.api("GET", "/api/v1/audit?limit=1000");
    expect(r.text).not.toContain(ci.token);
    expect(r.text).not.toContain(TOKEN);
    expect(r.text).not.toContain("tufbox_");
    const root = binsPayload(4).metadata.root;
    for (const sig of root.signatures) expect(r.text).not.toContain(sig.sig);
  });

  test("a refused request leaves no entry", async () => {
    const before = await audit("?limit=1000");
    expect((await s.api("POST", "/api/v1/artifacts", { artifacts: [{ path: "x" }] })).status).toBe(422);
    expect(
      (await s.api("PUT", "/api/v1/config", { settings: { expiration: { timestamp: 2 } } }, as(ci.token))).status,
    ).toBe(403);
    expect((await s.api("POST", "/api/v1/bootstrap", binsPayload(4))).status).toBe(404);
    expect(await audit("?limit=1000")).toEqual(before);
  });

  test("revoking a token is recorded", async () => {
    const t = (await s.api("POST", "/api/v1/tokens", { name: "brief", scopes: ["read"] })).body.data;
    expect((await s.api("DELETE", `/api/v1/tokens/${t.id}`)).status).toBe(200);
    const last = (await audit("?limit=1")).at(-1);
    expect(last).toMatchObject({
      principal: "admin",
      route: "DELETE /api/v1/tokens/:id",
      action: "token_revoke",
      summary: { token_id: t.id },
    });
  });

  test("running a scheduled job by hand is recorded with the caller, the job and its result", async () => {
    const r = await s.api("POST", "/api/v1/jobs/prune-tasks/run");
    expect(r.status).toBe(200);
    const last = (await audit("?limit=1")).at(-1);
    expect(last).toMatchObject({
      principal: "admin",
      source: "127.0.0.1",
      route: "POST /api/v1/jobs/:name/run",
      action: "run_job",
      summary: { job: "prune-tasks", result: r.body.data.result },
    });
    const task = await s.api("GET", `/api/v1/task?task_id=${last.task_id}`);
    expect(task.body.data.state).toBe("SUCCESS");
    // an unknown job is refused before anything runs: no entry
    expect((await s.api("POST", "/api/v1/jobs/nope/run")).status).toBeGreaterThanOrEqual(400);
    expect((await audit("?limit=1")).at(-1).id).toBe(last.id);
  });

  test("the scheduler's re-signing is recorded as the scheduler, in the publication", async () => {
    s.app.repo.requestBump(["timestamp"]);
    await s.app.publisher.idle();
    const deadline = Date.now() + 10_000;
    let entry: any;
    while (!entry && Date.now() < deadline) {
      entry = (await audit("?principal=scheduler")).at(-1);
      if (!entry) await Bun.sleep(20);
    }
    expect(entry).toMatchObject({
      principal: "scheduler",
      source: null,
      route: null,
      task_id: null,
      action: "resign_online_roles",
      summary: { roles: ["timestamp"], roles_count: 1 },
    });
  });
});

describe("querying", () => {
  test("principal matches the id or the name; limit keeps the newest", async () => {
    const byName = await audit("?principal=ci");
    const byId = await audit(`?principal=token:${ci.id}`);
    expect(byName.map((e) => e.action)).toEqual(["add_artifacts", "remove_artifacts"]);
    expect(byId).toEqual(byName);
    const all = await audit("?limit=1000");
    expect(await audit("?limit=2")).toEqual(all.slice(-2));
  });

  test("since gives the entries from then on, oldest first", async () => {
    const all = await audit("?limit=1000");
    const third = all[2];
    const from = await audit(`?since=${encodeURIComponent(third.at)}&limit=1000`);
    expect(from[0].at >= third.at).toBe(true);
    expect(from.map((e) => e.id)).toEqual(all.filter((e) => e.at >= third.at).map((e) => e.id));
    expect(await audit("?since=2999-01-01")).toEqual([]);
    const after = await s.api("GET", `/api/v1/audit?after=${third.id}&limit=2`);
    expect(after.body.data.entries.map((e: any) => e.id)).toEqual(all.slice(3, 5).map((e) => e.id));
    expect(after.body.data.last_id).toBe(all[4].id);
  });

  test.each([
    ["since=yesterday", "since"],
    ["since=2024-13-45", "since"],
    ["limit=0", "limit"],
    ["limit=1001", "limit"],
    ["limit=ten", "limit"],
    ["after=-1", "after"],
  ])("422 for %s", async (q, field) => {
    const r = await s.api("GET", `/api/v1/audit?${q}`);
    expect(r.status).toBe(422);
    expect(r.body.detail[0].loc).toEqual(["query", field]);
  });

  test("needs the read scope", async () => {
    expect((await fetch(`${s.url}/api/v1/audit`)).status).toBe(401);
    expect((await s.api("GET", "/api/v1/audit", undefined, as(ci.token))).status).toBe(200);
  });
});

describe("retention", () => {
  test("the prune-audit job deletes entries older than audit.retention_days", async () => {
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await s.app.store.createTask(
      { id: "old-task", name: "x", state: "SUCCESS" },
      {
        principal: "internal",
        principalName: "internal",
        source: null,
        route: null,
        taskId: "old-task",
        action: "old",
        summary: {},
      },
    );
    await s.app.store.createTask(
      { id: "older-task", name: "x", state: "SUCCESS" },
      {
        principal: "internal",
        principalName: "internal",
        source: null,
        route: null,
        taskId: "older-task",
        action: "older",
        summary: {},
        at: old,
      },
    );
    expect(s.app.scheduler.list().map((j) => j.name)).toContain("prune-audit");
    expect(await s.app.scheduler.runNow("prune-audit")).toBe("pruned 1 audit entries");
    const actions = (await audit("?limit=1000")).map((e) => e.action);
    expect(actions).toContain("old");
    expect(actions).not.toContain("older");
  });
});
