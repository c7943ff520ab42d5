/**
 * tufbox's native read routes (dashboard API), one table row per scenario:
 * who asks (admin token, read-only token, none, a wrong one), what comes
 * back. The coverage check fails when a route has no 2xx, no 401, or — for
 * paged routes — no 422 for a bad limit, and when the mutating route lacks a
 * 403 for a read-only token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hashToken } from "../../../src/auth/tokens.ts";
import { fixture } from "../../helpers/fixtures.ts";
import { TOKEN, startTestServer, type TestServer } from "../../helpers/server.ts";

// tufbox tokens carry the tufbox_ prefix (anything else is never looked up in the store).
const READ = "tufbox_read-only-token-for-native-routes";
type Who = "admin" | "read" | "none" | "wrong";

interface Row {
  name: string;
  method: "GET" | "POST";
  /** the route as documented; `path` is what is requested */
  route: string;
  path: string;
  who: Who;
  status: number;
  message?: string;
  check?: (body: any) => void | Promise<void>;
}

const ARTIFACTS = ["lib/a.tar.gz", "lib/b.tar.gz", "lib/c.tar.gz", "lib%/d", "other/x"];

const rows: Row[] = [
  {
    name: "the token's subject and scopes",
    method: "GET",
    route: "/api/v1/whoami",
    path: "/api/v1/whoami",
    who: "admin",
    status: 200,
    message: "Token is valid.",
    check: (b) =>
      expect(b.data).toEqual({
        subject: "admin (TUFBOX_ADMIN_TOKEN)",
        principal: "admin",
        kind: "admin",
        scopes: ["admin"],
        auth_disabled: false,
      }),
  },
  {
    name: "a read-only token",
    method: "GET",
    route: "/api/v1/whoami",
    path: "/api/v1/whoami/",
    who: "read",
    status: 200,
    check: (b) => expect(b.data.scopes).toEqual(["read"]),
  },
  { name: "no token", method: "GET", route: "/api/v1/whoami", path: "/api/v1/whoami", who: "none", status: 401 },
  { name: "a wrong token", method: "GET", route: "/api/v1/whoami", path: "/api/v1/whoami", who: "wrong", status: 401 },
  {
    name: "roles, bins, publisher and health",
    method: "GET",
    route: "/api/v1/roles",
    path: "/api/v1/roles",
    who: "read",
    status: 200,
    check: (b) => {
      expect(b.data.roles.map((r: any) => r.name)).toEqual(["root", "targets", "snapshot", "timestamp"]);
      expect(b.data.roles[0]).toMatchObject({ signing: "offline", threshold: 2, alert_days: 30 });
      expect(b.data.bins).toMatchObject({ count: 16, published: 16, prefix: "bins", signing: "online" });
      expect(b.data.bins_advice).toMatchObject({ artifacts: 5, current: { bins: 16 }, recommended: { bins: 256 } });
      expect(b.data.health.ready).toBe(true);
      expect(b.data.publisher.pending_changes).toBe(0);
    },
  },
  { name: "needs a token", method: "GET", route: "/api/v1/roles", path: "/api/v1/roles", who: "none", status: 401 },
  {
    name: "versions over time, newest first",
    method: "GET",
    route: "/api/v1/roles/history",
    path: "/api/v1/roles/history?limit=2",
    who: "read",
    status: 200,
    check: (b) => {
      const ts = b.data.roles.find((r: any) => r.name === "timestamp");
      expect(ts.versions.length).toBe(2);
      expect(ts.versions[0].version).toBeGreaterThan(ts.versions[1].version);
      expect(b.data.roles.at(-1).label).toMatch(/^bins \(bins-[0-9a-f], first to expire\)$/);
    },
  },
  {
    name: "limit out of range",
    method: "GET",
    route: "/api/v1/roles/history",
    path: "/api/v1/roles/history?limit=201",
    who: "read",
    status: 422,
  },
  {
    name: "needs a token",
    method: "GET",
    route: "/api/v1/roles/history",
    path: "/api/v1/roles/history",
    who: "none",
    status: 401,
  },
  {
    name: "a prefix is literal (% is not a wildcard); a page and the cursor to the next",
    method: "GET",
    route: "/api/v1/artifacts",
    path: "/api/v1/artifacts?prefix=lib%2F&limit=2",
    who: "read",
    status: 200,
    check: (b) => {
      expect(b.data.artifacts.map((a: any) => a.path)).toEqual(["lib/a.tar.gz", "lib/b.tar.gz"]);
      expect(b.data.artifacts[0]).toMatchObject({ length: 3, hashes: { sha256: "ab".repeat(32) } });
      expect(b.data.artifacts[0].role).toMatch(/^bins-[0-9a-f]$/);
      expect(b.data.artifacts[0].download).toBe("/targets/lib/a.tar.gz");
      expect(typeof b.data.next_cursor).toBe("string");
    },
  },
  {
    name: "limit 0",
    method: "GET",
    route: "/api/v1/artifacts",
    path: "/api/v1/artifacts?limit=0",
    who: "read",
    status: 422,
    check: (b) =>
      expect(b.detail).toEqual([
        { loc: ["query", "limit"], msg: "must be an integer from 1 to 500", type: "value_error" },
      ]),
  },
  {
    name: "a cursor this server did not hand out",
    method: "GET",
    route: "/api/v1/artifacts",
    path: "/api/v1/artifacts?cursor=bm9wZQ",
    who: "read",
    status: 422,
    check: (b) => expect(b.detail[0].loc).toEqual(["query", "cursor"]),
  },
  {
    name: "needs a token",
    method: "GET",
    route: "/api/v1/artifacts",
    path: "/api/v1/artifacts",
    who: "none",
    status: 401,
  },
  {
    name: "latest publications with what they put out",
    method: "GET",
    route: "/api/v1/publications",
    path: "/api/v1/publications?limit=1",
    who: "read",
    status: 200,
    check: (b) => {
      expect(b.data.publications.length).toBe(1);
      expect(b.data.publications[0].documents).toBeGreaterThanOrEqual(3);
      expect(b.data.publications[0].roles.every((r: any) => /^bins-/.test(r.role))).toBe(true);
    },
  },
  {
    name: "limit not a number",
    method: "GET",
    route: "/api/v1/publications",
    path: "/api/v1/publications?limit=ten",
    who: "read",
    status: 422,
  },
  {
    name: "needs a token",
    method: "GET",
    route: "/api/v1/publications",
    path: "/api/v1/publications",
    who: "none",
    status: 401,
  },
  {
    name: "recent tasks, newest first, with duration",
    method: "GET",
    route: "/api/v1/tasks",
    path: "/api/v1/tasks?limit=50",
    who: "read",
    status: 200,
    check: (b) => {
      const names = b.data.tasks.map((t: any) => t.name);
      expect(names.at(-1)).toBe("bootstrap");
      expect(names).toContain("add_artifacts");
      expect(b.data.tasks[0].duration_ms).toBeGreaterThanOrEqual(0);
      expect(b.data.next_cursor).toBeNull();
    },
  },
  {
    name: "limit too large",
    method: "GET",
    route: "/api/v1/tasks",
    path: "/api/v1/tasks?limit=1000",
    who: "read",
    status: 422,
  },
  { name: "needs a token", method: "GET", route: "/api/v1/tasks", path: "/api/v1/tasks", who: "none", status: 401 },
  {
    name: "nothing pending",
    method: "GET",
    route: "/api/v1/signing-sessions",
    path: "/api/v1/signing-sessions",
    who: "read",
    status: 200,
    check: (b) => expect(b.data.sessions).toEqual([]),
  },
  {
    name: "needs a token",
    method: "GET",
    route: "/api/v1/signing-sessions",
    path: "/api/v1/signing-sessions",
    who: "none",
    status: 401,
  },
  {
    name: "every job with last and next run",
    method: "GET",
    route: "/api/v1/jobs",
    path: "/api/v1/jobs",
    who: "read",
    status: 200,
    check: (b) => {
      expect(b.data.jobs.map((j: any) => j.name)).toEqual([
        "resign-expiring",
        "prune-metadata",
        "prune-tasks",
        "prune-audit",
        "gc-artifact-content",
        "check-alerts",
      ]);
      expect(b.data.jobs[0].next_run).toMatch(/^\d{4}-/);
    },
  },
  { name: "needs a token", method: "GET", route: "/api/v1/jobs", path: "/api/v1/jobs", who: "none", status: 401 },
  {
    name: "an admin runs a job now",
    method: "POST",
    route: "/api/v1/jobs/{name}/run",
    path: "/api/v1/jobs/prune-tasks/run",
    who: "admin",
    status: 200,
    message: "Job run.",
    check: (b) => expect(b.data).toMatchObject({ name: "prune-tasks", result: "pruned 0 task(s)" }),
  },
  {
    name: "a read-only token may not",
    method: "POST",
    route: "/api/v1/jobs/{name}/run",
    path: "/api/v1/jobs/prune-tasks/run/",
    who: "read",
    status: 403,
    check: (b) =>
      expect(b.detail.error).toContain('POST /api/v1/jobs/:name/run needs the "admin" scope; this token has "read"'),
  },
  {
    name: "no token",
    method: "POST",
    route: "/api/v1/jobs/{name}/run",
    path: "/api/v1/jobs/prune-tasks/run",
    who: "none",
    status: 401,
  },
  {
    name: "an unknown job, named with the jobs there are",
    method: "POST",
    route: "/api/v1/jobs/{name}/run",
    path: "/api/v1/jobs/nope/run",
    who: "admin",
    status: 404,
    check: (b) =>
      expect(b.detail.error).toBe(
        "no scheduled job named nope (jobs: resign-expiring, prune-metadata, prune-tasks, prune-audit, gc-artifact-content, check-alerts)",
      ),
  },
  {
    name: "no alerts; webhook state",
    method: "GET",
    route: "/api/v1/alerts",
    path: "/api/v1/alerts",
    who: "read",
    status: 200,
    message: "No alerts.",
    check: (b) => expect(b.data).toEqual({ alerts: [], webhooks: { configured: 0, pending: 0, deliveries: [] } }),
  },
  { name: "needs a token", method: "GET", route: "/api/v1/alerts", path: "/api/v1/alerts", who: "none", status: 401 },
];

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
  const boot = await s.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
  expect((await s.waitTask(boot.body.data.task_id)).state).toBe("SUCCESS");
  const add = await s.api("POST", "/api/v1/artifacts", {
    artifacts: ARTIFACTS.map((path) => ({ path, info: { length: 3, hashes: { sha256: "ab".repeat(32) } } })),
  });
  expect((await s.waitTask(add.body.data.task_id)).state).toBe("SUCCESS");
  await s.app.store.putToken({
    id: "viewer0000000001",
    hash: hashToken(READ),
    name: "viewer",
    scopes: ["read"],
    createdAt: new Date().toISOString(),
    expiresAt: null,
    createdBy: null,
  });
});

afterAll(() => s?.stop());

const AUTH: Record<Who, string> = {
  admin: `Bearer ${TOKEN}`,
  read: `Bearer ${READ}`,
  none: "",
  wrong: "Bearer wrong-token-0123456789",
};

describe("native routes", () => {
  for (const row of rows) {
    test(`${row.method} ${row.path} as ${row.who} — ${row.name} → ${row.status}`, async () => {
      const r = await s.api(row.method, row.path, undefined, { authorization: AUTH[row.who] });
      expect({ status: r.status, body: r.body }).toMatchObject({ status: row.status });
      expect(r.headers.get("content-type")).toContain("application/json");
      if (row.status < 300) {
        expect(Object.keys(r.body).sort()).toEqual(["data", "message"]);
        if (row.message) expect(r.body.message).toBe(row.message);
      }
      if (row.status === 401) {
        expect(r.body).toEqual({ detail: { message: "Unauthorized", error: expect.any(String) } });
        expect(r.headers.get("www-authenticate")).toContain("Bearer");
      }
      await row.check?.(r.body);
    });
  }

  test("paging artifacts by cursor returns every path once, in order", async () => {
    const seen: string[] = [];
    let cursor = "";
    for (let i = 0; i < 10; i++) {
      const r = await s.api("GET", `/api/v1/artifacts?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...r.body.data.artifacts.map((a: any) => a.path));
      if (!r.body.data.next_cursor) break;
      cursor = r.body.data.next_cursor;
    }
    expect(seen).toEqual([...ARTIFACTS].sort());
    const pct = await s.api("GET", `/api/v1/artifacts?prefix=${encodeURIComponent("lib%")}`);
    expect(pct.body.data.artifacts.map((a: any) => a.path)).toEqual(["lib%/d"]);
  });
});

describe("coverage of the table", () => {
  test("every route has a 2xx and a 401; paged routes a 422; the mutating route a 403 for read-only", () => {
    const routes = new Set(rows.map((r) => `${r.method} ${r.route}`));
    expect(routes.size).toBe(10);
    for (const route of routes) {
      const of = rows.filter((r) => `${r.method} ${r.route}` === route);
      expect(of.some((r) => r.status >= 200 && r.status < 300)).toBe(true);
      expect(of.some((r) => r.status === 401)).toBe(true);
      if (of.some((r) => r.path.includes("limit="))) expect(of.some((r) => r.status === 422)).toBe(true);
      if (route.startsWith("POST")) expect(of.some((r) => r.status === 403 && r.who === "read")).toBe(true);
    }
  });
});
