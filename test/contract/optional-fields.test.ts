/**
 * `null` against absence, for every field RSTUF API 1.0.1's request models
 * declare Optional (`X | None = None`). RSTUF validates with pydantic and hands
 * its worker `payload.dict(exclude_none=True)`, so for those fields a `null`
 * and a missing field are the same request: same status, same message, same
 * task outcome, same published metadata. Its own CLI depends on it
 * (`rstuf artifact add` sends `"custom": null`).
 *
 * Each row is one Optional field of one route; it runs twice on fresh state,
 * once with the field `null` and once without it, and compares. The control
 * rows at the end are fields RSTUF does *not* declare Optional: there `null`
 * is a 422 in RSTUF and must stay one here.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { fixture, fixtureKey } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

type Given = "empty" | "bins" | "delegations" | "signing";
const ABSENT = Symbol("absent");
type Value = null | typeof ABSENT;

interface Row {
  /** RSTUF model and field, as in repository_service_tuf_api (v1.0.1) */
  model: string;
  method: "POST" | "PUT";
  path: string;
  given: Given;
  /** the request with the field set to `null` or left out */
  body: (value: Value, tag: string) => unknown;
  status: number;
  message?: string;
  /** what the accepted request published, compared between the two runs */
  effect?: (s: TestServer, tag: string) => Promise<unknown>;
  /** changes the state others rely on: a server of its own for each run */
  own?: boolean;
}

const KEY_NAME = "x-rstuf-key-name";
const OFFLINE = fixtureKey("offline-ed25519").keyid;

/** Sets `obj[key]` to null or deletes it. */
function put<T extends Record<string, any>>(obj: T, key: string, value: Value): T {
  if (value === ABSENT) delete obj[key];
  else (obj as Record<string, unknown>)[key] = value;
  return obj;
}

async function published(s: TestServer, role: string): Promise<any> {
  const get = async (name: string) => (await fetch(`${s.url}/metadata/${name}`)).json() as Promise<any>;
  const timestamp = await get("timestamp.json");
  const snapshot = await get(`${timestamp.signed.meta["snapshot.json"].version}.snapshot.json`);
  const meta = snapshot.signed.meta[`${role}.json`];
  return meta ? get(`${meta.version}.${role}.json`) : undefined;
}

/** The published entry for a target path, whichever role holds it. */
async function publishedTarget(s: TestServer, path: string): Promise<unknown> {
  const timestamp = await (await fetch(`${s.url}/metadata/timestamp.json`)).json();
  const snapshot: any = await (
    await fetch(`${s.url}/metadata/${(timestamp as any).signed.meta["snapshot.json"].version}.snapshot.json`)
  ).json();
  for (const name of Object.keys(snapshot.signed.meta)) {
    const role = await published(s, name.slice(0, -5));
    if (role?.signed.targets?.[path]) return role.signed.targets[path];
  }
  return undefined;
}

function rootSignature(root: any, keyName: string) {
  const { pem, keyid } = fixtureKey(keyName);
  const signer = signerFromPem(pem, { keyJSON: root.signed.keys[keyid], keyid });
  return { keyid, sig: signer.sign(utf8(canonicalJson(root.signed))) };
}

// ECDSA signatures are randomized: one signature for both runs, so the published roots compare.
const ROOT_ECDSA_SIGNATURE = rootSignature(
  fixture("bootstrap-bins-1-of-2-signatures.json").metadata.root,
  "root-ecdsa",
);

/** A delegation payload whose one key (offline-ed25519) and one role carry the optional fields. */
function delegationPayload(tag: string, edit: (key: any, role: any) => void): any {
  const keys = fixture("bootstrap-delegations.json").settings.roles.delegations.keys;
  const key = structuredClone(keys[OFFLINE]);
  const role = {
    name: `opt-${tag}`,
    terminating: true,
    keyids: [],
    threshold: 1,
    paths: [`opt-${tag}/*`],
    "x-rstuf-expire-policy": 3,
  };
  edit(key, role);
  return { delegations: { keys: { [OFFLINE]: key }, roles: [role] } };
}

/** The published targets.json delegations (sorted roles), which an optional field must not change. */
const delegationsOf = async (s: TestServer) => (await published(s, "targets")).signed.delegations;

const bootstrapRows = (
  field: string,
  file: string,
  edit: (payload: any, value: Value) => void,
  effect?: Row["effect"],
): Row => ({
  model: field,
  method: "POST",
  path: "/api/v1/bootstrap",
  given: "empty",
  own: true,
  body: (value) => {
    const p = fixture(file);
    edit(p, value);
    return p;
  },
  status: 202,
  message: "Bootstrap accepted.",
  effect: effect ?? (async (s) => (await published(s, "targets")).signed.delegations),
});

const delegationRows = (model: string, edit: (key: any, role: any, value: Value) => void): Row[] =>
  (["POST", "PUT"] as const).map((method) => ({
    model: `${model} (${method})`,
    method,
    path: "/api/v1/delegations",
    given: "delegations" as const,
    body: (value: Value, tag: string) => delegationPayload(tag, (key, role) => edit(key, role, value)),
    status: 202,
    message: method === "POST" ? "Metadata delegation add accepted." : "Metadata delegation update accepted.",
    effect: async (s: TestServer, tag: string) => {
      const d = await delegationsOf(s);
      return { key: d.keys[OFFLINE], role: d.roles.find((r: any) => r.name === `opt-${tag}`) };
    },
  }));

const rows: Row[] = [
  // ------------------------------------------------------- POST /api/v1/artifacts
  {
    model: "ArtifactInfo.custom",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "bins",
    body: (value, tag) => ({
      artifacts: [
        { path: `opt/${tag}.tar.gz`, info: put({ length: 3, hashes: { sha256: "ab".repeat(32) } }, "custom", value) },
      ],
      add_task_id_to_custom: false,
      publish_artifacts: true,
    }),
    status: 202,
    message: "New Artifact(s) successfully submitted.",
    effect: (s, tag) => publishedTarget(s, `opt/${tag}.tar.gz`),
  },

  // ------------------------------------------------------- POST /api/v1/bootstrap
  bootstrapRows("BootstrapPayload.timeout", "bootstrap-bins.json", (p, v) => put(p, "timeout", v)),
  bootstrapRows("RolesData.delegations", "bootstrap-bins.json", (p, v) => put(p.settings.roles, "delegations", v)),
  bootstrapRows("RolesData.bins", "bootstrap-delegations.json", (p, v) => put(p.settings.roles, "bins", v)),
  ...["name", KEY_NAME, "x-rstuf-online-key-uri"].map((field) =>
    bootstrapRows(`TUFKeys.${field} (bootstrap delegations)`, "bootstrap-delegations.json", (p, v) =>
      put(p.settings.roles.delegations.keys[OFFLINE], field, v),
    ),
  ),
  bootstrapRows(
    "TUFSignedDelegationsRoles.path_hash_prefixes (bootstrap delegations)",
    "bootstrap-delegations.json",
    (p, v) => put(p.settings.roles.delegations.roles[0], "path_hash_prefixes", v),
  ),

  // ------------------------------------------------------- POST/PUT /api/v1/delegations
  ...["name", KEY_NAME, "x-rstuf-online-key-uri"].flatMap((field) =>
    delegationRows(`TUFKeys.${field}`, (key, _role, v) => put(key, field, v)),
  ),
  ...delegationRows("TUFSignedDelegationsRoles.path_hash_prefixes", (_key, role, v) =>
    put(role, "path_hash_prefixes", v),
  ),

  // ------------------------------------------------------- POST /api/v1/metadata/sign
  {
    model: "TUFSignatures.bundle (metadata sign)",
    method: "POST",
    path: "/api/v1/metadata/sign",
    given: "signing",
    own: true,
    body: (value) => ({
      role: "root",
      signature: put({ ...ROOT_ECDSA_SIGNATURE }, "bundle", value),
    }),
    status: 202,
    message: "Metadata sign accepted.",
    effect: async (s) => await (await fetch(`${s.url}/metadata/1.root.json`)).json(),
  },

  // ------------------------------------------------------- POST /api/v1/metadata
  {
    model: "TUFSignatures.bundle (metadata update)",
    method: "POST",
    path: "/api/v1/metadata",
    given: "bins",
    own: true,
    body: (value) => {
      const p = fixture("metadata-update-root-v2-online-ecdsa.json");
      for (const sig of p.metadata.root.signatures) put(sig, "bundle", value);
      return p;
    },
    status: 202,
    message: "Metadata update accepted.",
    effect: async (s) => await (await fetch(`${s.url}/metadata/2.root.json`)).json(),
  },
];

/**
 * Fields RSTUF does not declare Optional: a null is pydantic's 422 there, and
 * here. (TUFSigned's Optional fields inside `metadata.root.signed` are signed
 * bytes: RSTUF strips the null, then its worker fails the signature check on
 * what is left. RSTUF DIFFERENCE: tufbox refuses such a root at once, 422.)
 */
const controls: {
  name: string;
  method: "POST";
  path: string;
  given: Given;
  body: () => unknown;
  loc: (string | number)[];
}[] = [
  {
    name: "ArtifactInfo.length",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "bins",
    body: () => ({ artifacts: [{ path: "n/a.tar.gz", info: { length: null, hashes: { sha256: "ab".repeat(32) } } }] }),
    loc: ["body", "artifacts", 0, "info", "length"],
  },
  {
    name: "AddPayload.publish_artifacts (bool with a default)",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "bins",
    body: () => ({
      artifacts: [{ path: "n/b.tar.gz", info: { length: 3, hashes: { sha256: "ab".repeat(32) } } }],
      publish_artifacts: null,
    }),
    loc: ["body", "publish_artifacts"],
  },
  {
    name: "AddPayload.add_task_id_to_custom (bool with a default)",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "bins",
    body: () => ({
      artifacts: [{ path: "n/c.tar.gz", info: { length: 3, hashes: { sha256: "ab".repeat(32) } } }],
      add_task_id_to_custom: null,
    }),
    loc: ["body", "add_task_id_to_custom"],
  },
  {
    name: "DeletePayload.publish_artifacts",
    method: "POST",
    path: "/api/v1/artifacts/delete",
    given: "bins",
    body: () => ({ artifacts: ["n/a.tar.gz"], publish_artifacts: null }),
    loc: ["body", "publish_artifacts"],
  },
  {
    name: "TUFSignedDelegationsRoles.x-rstuf-expire-policy (int, default None, not Optional)",
    method: "POST",
    path: "/api/v1/delegations",
    given: "delegations",
    body: () => delegationPayload("ctl", (_key, role) => (role["x-rstuf-expire-policy"] = null)),
    loc: ["body", "delegations", "roles", 0, "x-rstuf-expire-policy"],
  },
  {
    name: "TUFSigned.consistent_snapshot in a root (signed bytes)",
    method: "POST",
    path: "/api/v1/metadata",
    given: "bins",
    body: () => {
      const p = fixture("metadata-update-root-v2-online-ecdsa.json");
      p.metadata.root.signed.consistent_snapshot = null;
      return p;
    },
    loc: ["body", "metadata", "root", "signed", "consistent_snapshot"],
  },
];

// ------------------------------------------------------------------ running the table

const started: TestServer[] = [];
const shared = new Map<Given, Promise<TestServer>>();

async function serverIn(given: Given): Promise<TestServer> {
  const s = await startTestServer();
  started.push(s);
  const boot = async (file: string) => {
    const r = await s.api("POST", "/api/v1/bootstrap", fixture(file));
    expect(r.status).toBe(202);
    return r.body.data.task_id as string;
  };
  if (given === "bins") expect((await s.waitTask(await boot("bootstrap-bins.json"))).state).toBe("SUCCESS");
  if (given === "delegations")
    expect((await s.waitTask(await boot("bootstrap-delegations.json"))).state).toBe("SUCCESS");
  if (given === "signing") await boot("bootstrap-bins-1-of-2-signatures.json");
  return s;
}

function serverFor(given: Given, own?: boolean): Promise<TestServer> {
  if (own) return serverIn(given);
  if (!shared.has(given)) shared.set(given, serverIn(given));
  return shared.get(given)!;
}

afterAll(async () => {
  for (const s of started) await s.stop();
});

let runs = 0;

async function run(row: Row, value: Value) {
  const s = await serverFor(row.given, row.own);
  const tag = `${value === null ? "null" : "absent"}${++runs}`;
  // PUT updates a role: create it first, with neither value, so both runs change the same thing.
  if (row.method === "PUT") {
    const created = await s.api(
      "POST",
      row.path,
      delegationPayload(tag, () => {}),
    );
    expect(created.status).toBe(202);
    expect((await s.waitTask(created.body.data.task_id)).state).toBe("SUCCESS");
  }
  const r = await s.api(row.method, row.path, row.body(value, tag));
  const out: Record<string, unknown> = { status: r.status, message: r.body?.message, detail: r.body?.detail };
  if (r.status === 202) {
    const task = await s.waitTask(r.body.data.task_id);
    out.task = { state: task.state, status: task.result?.status, error: task.result?.error };
    // The tag names what a row created; replace it so the two runs compare.
    if (row.effect) out.effect = JSON.parse(JSON.stringify((await row.effect(s, tag)) ?? null).replaceAll(tag, "TAG"));
  }
  return out;
}

describe("null and absence are the same request for RSTUF's Optional fields", () => {
  for (const row of rows) {
    test(`${row.method} ${row.path} — ${row.model}`, async () => {
      const absent = await run(row, ABSENT);
      const nulled = await run(row, null);
      expect(absent.status).toBe(row.status);
      if (row.message) expect(absent.message).toBe(row.message);
      expect(absent.task).toMatchObject({ state: "SUCCESS", status: true });
      expect(nulled).toEqual(absent);
      // A null never reaches published metadata.
      expect(JSON.stringify(nulled.effect ?? null)).not.toContain(":null");
    }, 60_000);
  }
});

describe("null stays a 422 where RSTUF does not declare the field Optional", () => {
  for (const c of controls) {
    test(`${c.method} ${c.path} — ${c.name}`, async () => {
      const s = await serverFor(c.given);
      const r = await s.api(c.method, c.path, c.body());
      expect(r.status).toBe(422);
      expect(r.body.detail[0].loc).toEqual(c.loc);
    });
  }
});

describe("coverage of the table", () => {
  // Every request field RSTUF API 1.0.1 declares `| None = None` (or Optional[...] = None),
  // read from repository_service_tuf_api/{artifacts,bootstrap,common_models}.py.
  const RSTUF_OPTIONAL = [
    "ArtifactInfo.custom",
    "BootstrapPayload.timeout",
    "RolesData.bins",
    "RolesData.delegations",
    "TUFKeys.name",
    "TUFKeys.x-rstuf-key-name",
    "TUFKeys.x-rstuf-online-key-uri",
    "TUFSignedDelegationsRoles.path_hash_prefixes",
    "TUFSignatures.bundle",
  ];
  test("every Optional request field of RSTUF API 1.0.1 has a row", () => {
    for (const field of RSTUF_OPTIONAL) expect(rows.some((r) => r.model.startsWith(field))).toBe(true);
  });
  test("every route whose model has an Optional field has a row", () => {
    const routes = new Set(rows.map((r) => `${r.method} ${r.path}`));
    expect([...routes].sort()).toEqual(
      [
        "POST /api/v1/artifacts",
        "POST /api/v1/bootstrap",
        "POST /api/v1/delegations",
        "PUT /api/v1/delegations",
        "POST /api/v1/metadata/sign",
        "POST /api/v1/metadata",
      ].sort(),
    );
  });
});
