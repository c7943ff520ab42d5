/**
 * Bounds on every input that reaches signed metadata (issue 10), through the
 * real HTTP server: each case a 422 in RSTUF's shape whose `loc` names the
 * field and whose `msg` names the limit, and nothing changes (no task, no
 * queued change, no new document, no setting).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { binsPayload, fixture } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

let bins: TestServer;
let delegations: TestServer;
let empty: TestServer;

async function bootstrap(s: TestServer, payload: unknown) {
  const r = await s.api("POST", "/api/v1/bootstrap", payload);
  expect(r.status).toBe(202);
  expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
}

beforeAll(async () => {
  [bins, delegations, empty] = await Promise.all([startTestServer(), startTestServer(), startTestServer()]);
  await bootstrap(bins, binsPayload(4));
  await bootstrap(delegations, fixture("bootstrap-delegations.json"));
}, 60_000);

afterAll(async () => {
  await Promise.all([bins?.stop(), delegations?.stop(), empty?.stop()]);
});

/** Everything a rejected request must leave as it was. */
async function state(s: TestServer) {
  const store = s.app.store;
  return JSON.stringify({
    pending: await store.countPendingChanges(),
    artifacts: await store.countArtifacts(),
    unfinished: (await store.listUnfinishedTasks()).length,
    documents: (await store.listDocuments()).length,
    settings: await store.getSetting("repository"),
    bootstrap: await store.getSetting("bootstrap"),
  });
}

function nested(depth: number): unknown {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = { k: v };
  return v;
}

const sha = "ab".repeat(32);
const artifact = (over: Record<string, unknown> = {}, info: Record<string, unknown> = {}) => ({
  artifacts: [{ path: "a/b.tar.gz", info: { length: 3, hashes: { sha256: sha }, ...info }, ...over }],
});

function delegationRole(over: Record<string, unknown>) {
  return { delegations: { roles: [{ name: "extra", terminating: true, keyids: [], paths: ["extra/*"], ...over }] } };
}

function bootstrapWith(edit: (p: any) => void) {
  const p = binsPayload(4);
  edit(p);
  return p;
}

interface Case {
  name: string;
  server: () => TestServer;
  method?: "POST" | "PUT";
  path: string;
  body: unknown;
  loc: (string | number)[];
  msg: RegExp;
}

const cases: Case[] = [
  // --- custom: depth and size
  {
    // Today's main: 202, published; python-tuf and tuf-js then fail on the whole bin.
    name: "custom nested 1,000 levels",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { custom: nested(1000) }),
    loc: ["body"],
    msg: /nested deeper than 64 levels/,
  },
  {
    // Today's main: 500 (RangeError: Maximum call stack size exceeded).
    name: "custom nested 20,000 levels",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { custom: nested(20_000) }),
    loc: ["body"],
    msg: /nested deeper than 64 levels/,
  },
  {
    name: "custom nested 33 levels",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { custom: nested(33) }),
    loc: ["body", "artifacts", 0, "info", "custom"],
    msg: /deeper than 32 levels/,
  },
  {
    name: "custom over 16 KiB",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { custom: { blob: "x".repeat(17_000) } }),
    loc: ["body", "artifacts", 0, "info", "custom"],
    msg: /limit is 16384 bytes per artifact \(limits\.max_custom_bytes\)/,
  },
  // --- paths and hashes
  {
    name: "path with 65 segments",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({ path: Array(65).fill("d").join("/") }),
    loc: ["body", "artifacts", 0, "path"],
    msg: /at most 64 '\/'-separated segments/,
  },
  {
    name: "path over 1024 characters",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({ path: "p".repeat(1025) }),
    loc: ["body", "artifacts", 0, "path"],
    msg: /at most 1024 characters/,
  },
  {
    name: "path over 1024 characters (delete)",
    server: () => bins,
    path: "/api/v1/artifacts/delete",
    body: { artifacts: ["p".repeat(1025)] },
    loc: ["body", "artifacts", 0],
    msg: /at most 1024 characters/,
  },
  {
    name: "nine hashes",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { hashes: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, sha])) }),
    loc: ["body", "artifacts", 0, "info", "hashes"],
    msg: /at most 8 hashes/,
  },
  {
    name: "sha256 of the wrong length",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { hashes: { sha256: "abcd" } }),
    loc: ["body", "artifacts", 0, "info", "hashes", "sha256"],
    msg: /64 hex characters/,
  },
  {
    name: "unknown hash of an odd length",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { hashes: { whirl: "a".repeat(41) } }),
    loc: ["body", "artifacts", 0, "info", "hashes", "whirl"],
    msg: /between 32 and 128/,
  },
  {
    name: "hash algorithm name over 32 characters",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: artifact({}, { hashes: { ["h".repeat(33)]: sha } }),
    loc: ["body", "artifacts", 0, "info", "hashes", "h".repeat(33)],
    msg: /at most 32 characters/,
  },
  {
    name: "request body nested 100,000 levels",
    server: () => bins,
    path: "/api/v1/artifacts",
    body: `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
    loc: ["body"],
    msg: /nested deeper than 64 levels/,
  },
  // --- expirations
  {
    // Today's main: 202; the next timestamp expires +010240-08-19T23:26:30Z.
    name: "PUT /config timestamp 3,000,000 days",
    server: () => bins,
    method: "PUT",
    path: "/api/v1/config",
    body: { settings: { expiration: { timestamp: 3_000_000 } } },
    loc: ["body", "settings", "expiration", "timestamp"],
    msg: /less than or equal to 36500/,
  },
  {
    // Today's main: 202, then every publish fails ("Invalid Date").
    name: "PUT /config snapshot 100,000,001 days",
    server: () => bins,
    method: "PUT",
    path: "/api/v1/config",
    body: { settings: { expiration: { snapshot: 100_000_001 } } },
    loc: ["body", "settings", "expiration", "snapshot"],
    msg: /less than or equal to 36500/,
  },
  {
    name: "bootstrap targets expiration 36,501 days",
    server: () => empty,
    path: "/api/v1/bootstrap",
    body: bootstrapWith((p) => (p.settings.roles.targets.expiration = 36_501)),
    loc: ["body", "settings", "roles", "targets", "expiration"],
    msg: /less than or equal to 36500/,
  },
  {
    name: "bootstrap bins expiration 100,000,001 days",
    server: () => empty,
    path: "/api/v1/bootstrap",
    body: bootstrapWith((p) => (p.settings.roles.bins.expiration = 100_000_001)),
    loc: ["body", "settings", "roles", "bins", "expiration"],
    msg: /less than or equal to 36500/,
  },
  {
    name: "bootstrap x-rstuf-expire-policy 36,501 days",
    server: () => empty,
    path: "/api/v1/bootstrap",
    body: (() => {
      const p = fixture("bootstrap-delegations.json");
      p.settings.roles.delegations.roles[0]["x-rstuf-expire-policy"] = 36_501;
      return p;
    })(),
    loc: ["body", "settings", "roles", "delegations", "roles", 0, "x-rstuf-expire-policy"],
    msg: /less than or equal to 36500/,
  },
  {
    name: "delegation x-rstuf-expire-policy 3,000,000 days",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: delegationRole({ "x-rstuf-expire-policy": 3_000_000 }),
    loc: ["body", "delegations", "roles", 0, "x-rstuf-expire-policy"],
    msg: /less than or equal to 36500/,
  },
  // --- names and counts
  {
    name: "role name over 64 characters",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: delegationRole({ name: "r".repeat(65) }),
    loc: ["body", "delegations", "roles", 0, "name"],
    msg: /at most 64 characters/,
  },
  {
    name: "257 path patterns",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: delegationRole({ paths: Array.from({ length: 257 }, (_, i) => `p${i}/*`) }),
    loc: ["body", "delegations", "roles", 0, "paths"],
    msg: /at most 256 paths/,
  },
  {
    name: "a path pattern over 1024 characters",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: delegationRole({ paths: ["x".repeat(1025)] }),
    loc: ["body", "delegations", "roles", 0, "paths", 0],
    msg: /at most 1024 characters/,
  },
  {
    name: "a path hash prefix over 64 characters",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: delegationRole({ paths: undefined, path_hash_prefixes: ["a".repeat(65)] }),
    loc: ["body", "delegations", "roles", 0, "path_hash_prefixes", 0],
    msg: /at most 64 characters/,
  },
  {
    name: "1,025 delegated roles",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: {
      delegations: {
        roles: Array.from({ length: 1025 }, (_, i) => ({ name: `r${i}`, keyids: [], paths: [`r${i}/*`] })),
      },
    },
    loc: ["body", "delegations", "roles"],
    msg: /at most 1024 delegated roles/,
  },
  {
    name: "65 keyids on one role",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: delegationRole({ keyids: Array.from({ length: 65 }, (_, i) => i.toString(16).padStart(64, "0")) }),
    loc: ["body", "delegations", "roles", 0, "keyids"],
    msg: /at most 64 keyids/,
  },
  {
    name: "a key name over 256 characters",
    server: () => delegations,
    path: "/api/v1/delegations",
    body: (() => {
      const d = fixture("bootstrap-delegations.json").settings.roles.delegations;
      const [keyid, key] = Object.entries(d.keys)[0] as [string, any];
      return {
        delegations: {
          keys: { [keyid]: { ...key, "x-rstuf-key-name": "n".repeat(257) } },
          roles: [{ name: "extra", keyids: [keyid], paths: ["extra/*"] }],
        },
      };
    })(),
    loc: ["body", "delegations", "keys", expect.any(String), "x-rstuf-key-name"] as any,
    msg: /at most 256 characters/,
  },
  {
    name: "a signature over 2048 hex characters",
    server: () => bins,
    path: "/api/v1/metadata/sign",
    body: { role: "root", signature: { keyid: sha, sig: "ab".repeat(1025) } },
    loc: ["body", "signature", "sig"],
    msg: /at most 2048 hex characters/,
  },
  {
    name: "a role name over 64 characters (bump)",
    server: () => bins,
    path: "/api/v1/metadata/online",
    body: { roles: ["b".repeat(65)] },
    loc: ["body", "roles", 0],
    msg: /at most 64 characters/,
  },
];

describe("every input reaching signed metadata is bounded", () => {
  for (const c of cases) {
    test(`${c.name} → 422 naming the field and the limit`, async () => {
      const s = c.server();
      const before = await state(s);
      const r = await s.api(c.method ?? "POST", c.path, c.body);
      expect(r.status).toBe(422);
      expect(Object.keys(r.body)).toEqual(["detail"]);
      expect(r.body.detail[0].loc).toEqual(c.loc);
      expect(r.body.detail[0].msg).toMatch(c.msg);
      expect(typeof r.body.detail[0].type).toBe("string");
      expect(await state(s)).toBe(before);
    });
  }
});

describe("PUT /api/v1/config names roles by own properties only", () => {
  test('"toString" and "constructor" are invalid roles, not updated ones', async () => {
    // Today's main: SUCCESS "Settings Updated", updated_roles ["toString", "constructor"].
    const r = await bins.api("PUT", "/api/v1/config", { settings: { expiration: { toString: 3, constructor: 2 } } });
    expect(r.status).toBe(202);
    const task = await bins.waitTask(r.body.data.task_id);
    expect(task.state).toBe("ERRORED");
    expect(task.result.details).toEqual({ updated_roles: [], invalid_roles: ["toString", "constructor"] });
    const config = await bins.api("GET", "/api/v1/config");
    expect(Object.keys(config.body.data).some((k) => k.startsWith("toString") || k.startsWith("constructor"))).toBe(
      false,
    );
  });

  test("__proto__ changes nothing either", async () => {
    const r = await bins.api("PUT", "/api/v1/config", '{"settings":{"expiration":{"__proto__":5}}}');
    expect(r.status).toBe(202);
    const task = await bins.waitTask(r.body.data.task_id);
    expect(task.state).toBe("ERRORED");
    expect(task.result.details.updated_roles).toEqual([]);
  });

  test("the largest allowed expiration is accepted and signed as a valid date", async () => {
    const r = await bins.api("PUT", "/api/v1/config", { settings: { expiration: { timestamp: 36_500 } } });
    expect((await bins.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    const bump = await bins.api("POST", "/api/v1/metadata/online", { roles: ["timestamp"] });
    expect((await bins.waitTask(bump.body.data.task_id)).state).toBe("SUCCESS");
    const ts: any = await (await fetch(`${bins.url}/metadata/timestamp.json`)).json();
    expect(ts.signed.expires).toMatch(/^21\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const back = await bins.api("PUT", "/api/v1/config", { settings: { expiration: { timestamp: 1 } } });
    expect((await bins.waitTask(back.body.data.task_id)).state).toBe("SUCCESS");
  });
});

describe("role names are looked up as own properties everywhere", () => {
  for (const role of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    test(`signing "${role}" finds nothing pending, cleanly`, async () => {
      // Today's main: the prototype's member is taken for a signing session, and the task fails with a TypeError.
      const sign = await bins.api("POST", "/api/v1/metadata/sign", {
        role,
        signature: { keyid: sha, sig: "ab".repeat(32) },
      });
      expect(sign.status).toBe(202);
      const signed = await bins.waitTask(sign.body.data.task_id);
      expect({ state: signed.state, error: signed.result.error }).toEqual({
        state: "ERRORED",
        error: `No signatures pending for ${role}`,
      });
      const del = await bins.api("POST", "/api/v1/metadata/sign/delete", { role });
      expect(del.status).toBe(202);
      const deleted = await bins.waitTask(del.body.data.task_id);
      expect({ state: deleted.state, error: deleted.result.error }).toEqual({
        state: "ERRORED",
        error: `No signatures pending for ${role}`,
      });
    });
  }
});
