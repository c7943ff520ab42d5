/**
 * Bad input through the real HTTP server: each case a clear 4xx naming the
 * field, never a 500, and no state change (no task, no queued change, no new
 * document).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { binsPayload } from "../../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer } from "../../helpers/server.ts";

let server: TestServer;

async function snapshotState() {
  return {
    pending: await server.app.store.countPendingChanges(),
    artifacts: await server.app.store.countArtifacts(),
    heads: JSON.stringify(server.app.repo.heads().sort((a, b) => a.role.localeCompare(b.role))),
  };
}

beforeAll(async () => {
  server = await startTestServer({ env: { TUFBOX_MAX_BODY_BYTES: "65536" } });
  const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(16));
  expect(r.status).toBe(202);
  await server.waitTask(r.body.data.task_id);
});

afterAll(() => server?.stop());

const good = { path: "a/b.tar.gz", info: { length: 3, hashes: { sha256: "ab".repeat(32) } } };

const cases: { name: string; path: string; body: unknown; status: number; loc?: (string | number)[]; msg?: RegExp }[] =
  [
    {
      name: "malformed JSON",
      path: "/api/v1/artifacts",
      body: '{"artifacts": [',
      status: 422,
      loc: ["body"],
      msg: /JSON decode error/,
    },
    { name: "empty body", path: "/api/v1/artifacts", body: "", status: 422, loc: ["body"] },
    { name: "body is an array", path: "/api/v1/artifacts", body: [good], status: 422, loc: ["body"] },
    {
      name: "artifacts missing",
      path: "/api/v1/artifacts",
      body: {},
      status: 422,
      loc: ["body", "artifacts"],
      msg: /required/,
    },
    {
      name: "artifacts not a list",
      path: "/api/v1/artifacts",
      body: { artifacts: "x" },
      status: 422,
      loc: ["body", "artifacts"],
    },
    {
      name: "artifacts empty",
      path: "/api/v1/artifacts",
      body: { artifacts: [] },
      status: 422,
      loc: ["body", "artifacts"],
    },
    {
      name: "length is a string",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, info: { ...good.info, length: "3" } }] },
      status: 422,
      loc: ["body", "artifacts", 0, "info", "length"],
    },
    {
      name: "negative length",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, info: { ...good.info, length: -1 } }] },
      status: 422,
      loc: ["body", "artifacts", 0, "info", "length"],
    },
    {
      name: "float length",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, info: { ...good.info, length: 1.5 } }] },
      status: 422,
      loc: ["body", "artifacts", 0, "info", "length"],
    },
    {
      name: "hashes empty",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, info: { length: 3, hashes: {} } }] },
      status: 422,
      loc: ["body", "artifacts", 0, "info", "hashes"],
    },
    {
      name: "hash not hex",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, info: { length: 3, hashes: { sha256: "xyz" } } }] },
      status: 422,
      loc: ["body", "artifacts", 0, "info", "hashes", "sha256"],
    },
    {
      name: "path traversal ..",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, path: "../etc/passwd" }] },
      status: 422,
      loc: ["body", "artifacts", 0, "path"],
      msg: /'\.\.'/,
    },
    {
      name: "path traversal in the middle",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, path: "a/../../b" }] },
      status: 422,
      loc: ["body", "artifacts", 0, "path"],
    },
    {
      name: "absolute path",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, path: "/etc/passwd" }] },
      status: 422,
      loc: ["body", "artifacts", 0, "path"],
    },
    {
      name: "backslash path",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, path: "a\\..\\b" }] },
      status: 422,
      loc: ["body", "artifacts", 0, "path"],
    },
    {
      name: "control character in path",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, path: "a\nb" }] },
      status: 422,
      loc: ["body", "artifacts", 0, "path"],
    },
    {
      name: "duplicate path",
      path: "/api/v1/artifacts",
      body: { artifacts: [good, good] },
      status: 422,
      loc: ["body", "artifacts", 1, "path"],
    },
    {
      name: "unknown top-level field",
      path: "/api/v1/artifacts",
      body: { artifacts: [good], publish_artifact: false },
      status: 422,
      loc: ["body", "publish_artifact"],
      msg: /Extra inputs/,
    },
    {
      name: "unknown artifact field",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, size: 3 }] },
      status: 422,
      loc: ["body", "artifacts", 0, "size"],
    },
    {
      name: "unknown info field",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, info: { ...good.info, sha: 1 } }] },
      status: 422,
      loc: ["body", "artifacts", 0, "info", "sha"],
    },
    {
      name: "float in custom",
      path: "/api/v1/artifacts",
      body: { artifacts: [{ ...good, info: { ...good.info, custom: { v: 1.5 } } }] },
      status: 422,
      loc: ["body", "artifacts", 0, "info", "custom", "v"],
    },
    {
      name: "publish_artifacts not boolean",
      path: "/api/v1/artifacts",
      body: { artifacts: [good], publish_artifacts: "yes" },
      status: 422,
      loc: ["body", "publish_artifacts"],
    },
    {
      name: "delete: paths not strings",
      path: "/api/v1/artifacts/delete",
      body: { artifacts: [1] },
      status: 422,
      loc: ["body", "artifacts", 0],
    },
    {
      name: "delete: traversal",
      path: "/api/v1/artifacts/delete",
      body: { artifacts: ["../x"] },
      status: 422,
      loc: ["body", "artifacts", 0],
    },
    {
      name: "oversized body",
      path: "/api/v1/artifacts",
      body: JSON.stringify({ artifacts: [{ ...good, info: { ...good.info, custom: { pad: "x".repeat(70_000) } } }] }),
      status: 413,
    },
  ];

describe("bad input is a clear 4xx with no state change", () => {
  for (const c of cases) {
    test(c.name, async () => {
      const before = await snapshotState();
      const r = await server.api("POST", c.path, c.body);
      expect(r.status).toBe(c.status);
      if (c.status === 422) {
        expect(Array.isArray(r.body.detail)).toBe(true);
        const issue = r.body.detail[0];
        expect(typeof issue.msg).toBe("string");
        expect(typeof issue.type).toBe("string");
        if (c.loc) expect(issue.loc).toEqual(c.loc);
        if (c.msg) expect(issue.msg).toMatch(c.msg);
      } else {
        expect(typeof r.body.detail.error).toBe("string");
      }
      await server.app.publisher.idle();
      expect(await snapshotState()).toEqual(before);
    });
  }
});

describe("authentication", () => {
  for (const [name, headers] of [
    ["no header", { authorization: "" }],
    ["wrong token", { authorization: "Bearer nope" }],
    ["not bearer", { authorization: `Basic ${TOKEN}` }],
  ] as const) {
    test(`mutating route refused: ${name}`, async () => {
      const before = await snapshotState();
      const r = await server.api("POST", "/api/v1/artifacts", { artifacts: [good] }, headers);
      expect(r.status).toBe(401);
      expect(r.body.detail.message).toBe("Unauthorized");
      await server.app.publisher.idle();
      expect(await snapshotState()).toEqual(before);
    });
  }

  test("API reads need a token too; health does not", async () => {
    expect((await fetch(`${server.url}/api/v1/bootstrap`)).status).toBe(401);
    expect((await server.api("GET", "/api/v1/bootstrap")).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("routes and state conflicts", () => {
  test("GET /api/v1/bootstrap on a bootstrapped repository, both slash forms", async () => {
    for (const p of ["/api/v1/bootstrap", "/api/v1/bootstrap/"]) {
      const r = await server.api("GET", p);
      expect(r.status).toBe(200);
      expect(r.body.message).toBe("System LOCKED for bootstrap.");
      expect(r.body.data.bootstrap).toBe(true);
      expect(r.body.data.state).toBe("finished");
    }
  });

  test("a second bootstrap is a 404 with RSTUF's message", async () => {
    const r = await server.api("POST", "/api/v1/bootstrap/", binsPayload(16));
    expect(r.status).toBe(404);
    expect(r.body.detail.error).toBe("System already has a Metadata. State: finished");
  });

  test("GET /api/v1/task without task_id is a 422 naming it; unknown id is PENDING", async () => {
    const r = await server.api("GET", "/api/v1/task");
    expect(r.status).toBe(422);
    expect(r.body.detail[0].loc).toEqual(["query", "task_id"]);
    const u = await server.api("GET", "/api/v1/task/?task_id=ffffffffffffffffffffffffffffffff");
    expect(u.status).toBe(200);
    expect(u.body).toEqual({
      data: { task_id: "ffffffffffffffffffffffffffffffff", state: "PENDING", result: null },
      message: "Task state.",
    });
  });

  test("GET /api/v1/config shows the settings and no key material", async () => {
    const r = await server.api("GET", "/api/v1/config/");
    expect(r.status).toBe(200);
    expect(r.body.message).toBe("Current Settings");
    expect(r.body.data.number_of_delegated_bins).toBe(16);
    expect(r.body.data.root_threshold).toBe(2);
    expect(r.body.data.bins_expiration).toBe(1);
    expect(r.text).not.toContain("PRIVATE");
  });

  test("publish_artifacts false holds changes until /artifacts/publish", async () => {
    const item = { path: "held/one.txt", info: { length: 1, hashes: { sha256: "cd".repeat(32) } } };
    const r = await server.api("POST", "/api/v1/artifacts", { artifacts: [item], publish_artifacts: false });
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("New Artifact(s) successfully submitted. Publishing will be skipped.");
    await server.app.publisher.idle();
    expect(await server.app.store.getArtifact("held/one.txt")).toBeUndefined();
    const p = await server.api("POST", "/api/v1/artifacts/publish/", undefined);
    expect(p.status).toBe(202);
    expect(p.body.message).toBe("Publish artifacts successfully submitted.");
    expect(p.body.data.artifacts).toEqual([]);
    const task = await server.waitTask(p.body.data.task_id);
    expect(task.state).toBe("SUCCESS");
    expect(task.result.task).toBe("publish_artifacts");
    expect((await server.app.store.getArtifact("held/one.txt"))?.role).toMatch(/^bins-[0-9a-f]$/);
  });

  test("unknown routes are 404, healthz answers", async () => {
    expect((await server.api("GET", "/api/v1/nope")).status).toBe(404);
    const h = await server.api("GET", "/healthz");
    expect(h.status).toBe(200);
  });
});

describe("before bootstrap", () => {
  test("artifacts are refused with 404 and bootstrap reports available", async () => {
    const fresh = await startTestServer();
    try {
      const b = await fresh.api("GET", "/api/v1/bootstrap");
      expect(b.body).toEqual({
        data: { bootstrap: false, state: null, id: null },
        message: "System available for bootstrap.",
      });
      const r = await fresh.api("POST", "/api/v1/artifacts", { artifacts: [good] });
      expect(r.status).toBe(404);
      expect(r.body.detail.error).toBe("System has not a Repository Metadata");
    } finally {
      await fresh.stop();
    }
  });

  test("bootstrap payload errors name the field", async () => {
    const fresh = await startTestServer();
    try {
      const bad = binsPayload(16);
      bad.settings.roles.bins.number_of_delegated_bins = 100;
      let r = await fresh.api("POST", "/api/v1/bootstrap", bad);
      expect(r.status).toBe(422);
      expect(r.body.detail[0].loc).toEqual(["body", "settings", "roles", "bins", "number_of_delegated_bins"]);
      const tampered = binsPayload(16);
      tampered.metadata.root.signed.expires = "2037-01-01T00:00:00Z";
      r = await fresh.api("POST", "/api/v1/bootstrap", tampered);
      expect(r.status).toBe(422);
      expect(r.body.detail[0].loc).toEqual(["body", "metadata", "root", "signatures"]);
      expect((await fresh.api("GET", "/api/v1/bootstrap")).body.data.state).toBeNull();
    } finally {
      await fresh.stop();
    }
  });
});

describe("metrics", () => {
  test("/metrics reports versions, expiry, queue and the largest bin in Prometheus text", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1]);
    expect(value("tufbox_bootstrapped")).toBe(1);
    const ts = server.app.repo.heads().find((h) => h.role === "timestamp")!;
    expect(text).toContain(`tufbox_role_version{role="timestamp"} ${ts.version}`);
    expect(value('tufbox_role_expires_in_seconds\\{role="timestamp"\\}')).toBeGreaterThan(0);
    expect(value("tufbox_targets_roles")).toBe(16);
    expect(value("tufbox_largest_targets_role_bytes")).toBeGreaterThan(100);
    expect(value("tufbox_store_up")).toBe(1);
    expect(text).not.toContain("PRIVATE");
  });
});
