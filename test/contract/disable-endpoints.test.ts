/**
 * Disabling routes by configuration (RSTUF-API.md "Global rules"):
 * TUFBOX_DISABLE_ENDPOINTS, and RSTUF's own RSTUF_DISABLE_ENDPOINTS as RSTUF
 * writes it (`:`-separated route prefixes, each optionally preceded by
 * FastAPI's method set such as `{'POST'}` or `{'GET', 'HEAD'}`).
 *
 * Each case starts a real server with one setting and probes it: a disabled
 * route answers 404 with a message saying it is disabled — in both slash
 * forms, before any authentication or validation, and without changing
 * anything — while other routes, and other methods on the same path, keep
 * working.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { fixture } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

type Given = "empty" | "bins" | "delegations";

interface Probe {
  method: "GET" | "HEAD" | "POST" | "PUT";
  /** without the trailing slash; both forms are probed */
  path: string;
  body?: () => unknown;
  /** "disabled", or the status the enabled route answers */
  expect: "disabled" | number;
  /** probe without the token (a disabled route must not ask for one) */
  noToken?: boolean;
}

interface Case {
  name: string;
  env: Record<string, string>;
  given: Given;
  probes: Probe[];
}

const item = (path: string) => ({ path, info: { length: 1, hashes: { sha256: "ef".repeat(32) } } });
let n = 0;
const fresh = () => `p${++n}`;

const cases: Case[] = [
  {
    name: "TUFBOX_DISABLE_ENDPOINTS, tufbox's own form: POST on a route prefix",
    env: { TUFBOX_DISABLE_ENDPOINTS: "POST /api/v1/artifacts" },
    given: "bins",
    probes: [
      {
        method: "POST",
        path: "/api/v1/artifacts",
        body: () => ({ artifacts: [item(`d/${fresh()}.txt`)] }),
        expect: "disabled",
      },
      {
        method: "POST",
        path: "/api/v1/artifacts",
        body: () => ({ artifacts: [item(`d/${fresh()}.txt`)] }),
        expect: "disabled",
        noToken: true,
      },
      // Disabled before validation: a malformed body is not looked at.
      { method: "POST", path: "/api/v1/artifacts", body: () => "{not json", expect: "disabled" },
      // Rules are route prefixes (RSTUF-API.md): the routes below /artifacts go with it.
      { method: "POST", path: "/api/v1/artifacts/delete", body: () => ({ artifacts: ["x.txt"] }), expect: "disabled" },
      { method: "POST", path: "/api/v1/artifacts/publish", expect: "disabled" },
      { method: "GET", path: "/api/v1/bootstrap", expect: 200 },
      { method: "POST", path: "/api/v1/metadata/online", body: () => ({ roles: ["timestamp"] }), expect: 202 },
      { method: "GET", path: "/api/v1/config", expect: 200 },
    ],
  },
  {
    name: "RSTUF_DISABLE_ENDPOINTS as RSTUF writes it: a method-qualified and a bare prefix",
    env: { RSTUF_DISABLE_ENDPOINTS: "{'POST'}/api/v1/bootstrap/:/api/v1/config/" },
    given: "empty",
    probes: [
      { method: "POST", path: "/api/v1/bootstrap", body: () => fixture("bootstrap-bins.json"), expect: "disabled" },
      {
        method: "POST",
        path: "/api/v1/bootstrap",
        body: () => fixture("bootstrap-bins.json"),
        expect: "disabled",
        noToken: true,
      },
      // Same path, another method: still served.
      { method: "GET", path: "/api/v1/bootstrap", expect: 200 },
      // A bare prefix disables every method.
      { method: "GET", path: "/api/v1/config", expect: "disabled" },
      {
        method: "PUT",
        path: "/api/v1/config",
        body: () => ({ settings: { expiration: { targets: 3 } } }),
        expect: "disabled",
      },
      { method: "GET", path: "/api/v1/metadata/sign", expect: 200 },
      { method: "POST", path: "/api/v1/artifacts", body: () => ({ artifacts: [item("x.txt")] }), expect: 404 },
    ],
  },
  {
    name: "RSTUF_DISABLE_ENDPOINTS with a method set; GET rules cover HEAD",
    env: { RSTUF_DISABLE_ENDPOINTS: "{'GET', 'HEAD'}/api/v1/metadata/sign/:{'PUT'}/api/v1/delegations/" },
    given: "delegations",
    probes: [
      { method: "GET", path: "/api/v1/metadata/sign", expect: "disabled" },
      { method: "HEAD", path: "/api/v1/metadata/sign", expect: "disabled" },
      // POST on the same path and on the route below it are not in the method set.
      {
        method: "POST",
        path: "/api/v1/metadata/sign",
        body: () => ({ role: "releases", signature: { keyid: "ab".repeat(32), sig: "00" } }),
        expect: 202,
      },
      { method: "POST", path: "/api/v1/metadata/sign/delete", body: () => ({ role: "nosuch" }), expect: 202 },
      {
        method: "PUT",
        path: "/api/v1/delegations",
        body: () => ({ delegations: { roles: [{ name: "nightly", keyids: [], paths: ["nightly/*"] }] } }),
        expect: "disabled",
      },
      {
        method: "POST",
        path: "/api/v1/delegations",
        body: () => ({ delegations: { roles: [{ name: `r${fresh()}`, keyids: [], paths: [`r${n}/*`] }] } }),
        expect: 202,
      },
      {
        method: "POST",
        path: "/api/v1/delegations/delete",
        body: () => ({ delegations: { roles: [{ name: "nosuch" }] } }),
        expect: 202,
      },
    ],
  },
  {
    name: "TUFBOX_DISABLE_ENDPOINTS wins over RSTUF_DISABLE_ENDPOINTS",
    env: { TUFBOX_DISABLE_ENDPOINTS: "{'GET'}/api/v1/task/", RSTUF_DISABLE_ENDPOINTS: "/api/v1/bootstrap/" },
    given: "empty",
    probes: [
      { method: "GET", path: "/api/v1/task", expect: "disabled" },
      { method: "GET", path: "/api/v1/bootstrap", expect: 200 },
    ],
  },
];

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function serverFor(c: Case): Promise<TestServer> {
  const s = await startTestServer({ env: c.env });
  servers.push(s);
  const file = { empty: undefined, bins: "bootstrap-bins.json", delegations: "bootstrap-delegations.json" }[c.given];
  if (file) {
    const r = await s.api("POST", "/api/v1/bootstrap", fixture(file));
    expect(r.status).toBe(202);
    expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  }
  return s;
}

/** What a disabled route must not change. */
async function state(s: TestServer) {
  return {
    pending: await s.app.store.countPendingChanges(),
    artifacts: await s.app.store.countArtifacts(),
    bootstrap: JSON.stringify(s.app.repo.bootstrapRecord ?? null),
    heads: JSON.stringify(s.app.repo.heads().sort((a, b) => a.role.localeCompare(b.role))),
    settings: JSON.stringify(s.app.repo.settings ?? null),
  };
}

for (const c of cases) {
  describe(c.name, () => {
    let server: Promise<TestServer> | undefined;
    const get = () => (server ??= serverFor(c));

    for (const p of c.probes) {
      for (const slash of ["", "/"]) {
        const label = `${p.method} ${p.path}${slash}${p.noToken ? " without a token" : ""} → ${p.expect === "disabled" ? "404 disabled" : p.expect}`;
        test(label, async () => {
          const s = await get();
          await s.app.publisher.idle();
          const before = await state(s);
          const headers: Record<string, string> = p.noToken ? { authorization: "" } : {};
          const r = await s.api(p.method, p.path + slash, p.body?.(), headers);
          if (p.expect === "disabled") {
            expect(r.status).toBe(404);
            if (p.method === "HEAD") {
              expect(r.text).toBe("");
            } else {
              expect(r.body).toEqual({
                detail: {
                  message: "Endpoint disabled",
                  error: `${p.method} ${p.path}${slash} is disabled by configuration (disable_endpoints)`,
                },
              });
            }
            await s.app.publisher.idle();
            expect(await state(s)).toEqual(before);
          } else {
            expect(r.status).toBe(p.expect);
            if (r.status === 404) expect(r.body.detail.message).not.toBe("Endpoint disabled");
            if (r.status === 202) {
              const task = await s.waitTask(r.body.data.task_id);
              expect(["SUCCESS", "ERRORED"]).toContain(task.state);
            }
          }
        });
      }
    }
  });
}

test("a value tufbox cannot read stops the server from starting, naming the setting", async () => {
  const err = await startTestServer({ env: { RSTUF_DISABLE_ENDPOINTS: "{'FETCH'}/api/v1/artifacts/" } }).then(
    (s) => {
      servers.push(s);
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect(String((err as Error).message)).toContain("disable_endpoints");
});
