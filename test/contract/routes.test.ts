/**
 * The RSTUF v1 contract, one table row per scenario (PocketBase style): each
 * row names the repository state it starts from, the request (method, path,
 * body, token or not) and what RSTUF-API.md says must come back — status,
 * the exact `message`, the `detail` shape, and for accepted requests the task
 * that runs. Every row runs for both slash forms (`/api/v1/x` and
 * `/api/v1/x/`), each form against its own servers so the two never share state.
 *
 * Places where tufbox deliberately answers differently from RSTUF are marked
 * "RSTUF DIFFERENCE" next to the row that asserts tufbox's behaviour.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { fixture, fixtureKey } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

type Given = "empty" | "bins" | "delegations" | "signing";
type Method = "GET" | "POST" | "PUT";

/** What a row can see: its server, a tag unique to this run of the row, and what `before` stashed. */
interface Ctx {
  s: TestServer;
  tag: string;
  stash: Record<string, any>;
}

interface TaskExpectation {
  name: string;
  state: "SUCCESS" | "ERRORED";
  details?: (details: any, ctx: Ctx) => void;
  error?: string;
}

interface Row {
  name: string;
  method: Method;
  /** without the trailing slash; both forms are generated */
  path: string;
  query?: (ctx: Ctx) => string;
  /** undefined: no body; a string is sent as is */
  body?: (ctx: Ctx) => unknown;
  /** send the admin token (default true) */
  auth?: boolean;
  given: Given;
  /** a server of its own (the row changes the state others rely on) */
  own?: boolean;
  before?: (ctx: Ctx) => Promise<void>;
  status: number;
  /** 2xx: the exact `message` */
  message?: string;
  /** 202: the exact keys of `data` (default task_id, last_update) */
  dataKeys?: string[];
  task?: TaskExpectation;
  /** 404: the exact `detail.error` */
  error?: string;
  /** 422: the `loc` and `type` of the first issue */
  loc?: (string | number)[];
  type?: string;
  /** further checks on the response body */
  check?: (body: any, ctx: Ctx) => void | Promise<void>;
}

const TASK_ID = /^[0-9a-f]{32}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const NOT_BOOTSTRAPPED = "System has not a Repository Metadata";
const BINS_REPOSITORY = "this repository uses hash bins; custom delegations cannot be changed";

const item = (path: string) => ({ path, info: { length: 3, hashes: { sha256: "ab".repeat(32) } } });

function rootSignature(root: any, keyName: string) {
  const { pem, keyid } = fixtureKey(keyName);
  const signer = signerFromPem(pem, { keyJSON: root.signed.keys[keyid], keyid });
  return { keyid, sig: signer.sign(utf8(canonicalJson(root.signed))) };
}

async function accepted(s: TestServer, method: Method, path: string, body?: unknown): Promise<any> {
  const r = await s.api(method, path, body);
  expect(r.status).toBe(202);
  return s.waitTask(r.body.data.task_id);
}

const onlineRole = (name: string, paths: string[]) => ({
  name,
  terminating: true,
  keyids: [],
  threshold: 1,
  paths,
  "x-rstuf-expire-policy": 2,
});

// ------------------------------------------------------------------ the table

const rows: Row[] = [
  // ---------------------------------------------------------- GET /bootstrap
  {
    name: "available before bootstrap",
    method: "GET",
    path: "/api/v1/bootstrap",
    given: "empty",
    status: 200,
    check: (b) =>
      expect(b).toEqual({
        data: { bootstrap: false, state: null, id: null },
        message: "System available for bootstrap.",
      }),
  },
  {
    name: "locked once bootstrapped",
    method: "GET",
    path: "/api/v1/bootstrap",
    given: "bins",
    status: 200,
    message: "System LOCKED for bootstrap.",
    check: (b) => {
      expect(Object.keys(b.data).sort()).toEqual(["bootstrap", "id", "state"]);
      expect(b.data.bootstrap).toBe(true);
      expect(b.data.state).toBe("finished");
      expect(b.data.id).toMatch(TASK_ID);
    },
  },
  {
    name: "locked while the bootstrap waits for signatures",
    method: "GET",
    path: "/api/v1/bootstrap",
    given: "signing",
    status: 200,
    message: "System LOCKED for bootstrap.",
    check: (b) => {
      expect(b.data.bootstrap).toBe(false);
      expect(b.data.state).toBe("signing");
      expect(b.data.id).toMatch(TASK_ID);
    },
  },

  // Every /api/v1 read needs the read scope (tufbox: RSTUF itself has no auth; test/server/auth covers scopes).
  { name: "no token", method: "GET", path: "/api/v1/bootstrap", auth: false, given: "bins", status: 401 },
  { name: "no token", method: "GET", path: "/api/v1/task", auth: false, given: "bins", status: 401 },
  { name: "no token", method: "GET", path: "/api/v1/config", auth: false, given: "bins", status: 401 },
  { name: "no token", method: "GET", path: "/api/v1/metadata/sign", auth: false, given: "signing", status: 401 },

  // ---------------------------------------------------------- POST /bootstrap
  {
    name: "accepted",
    method: "POST",
    path: "/api/v1/bootstrap",
    given: "empty",
    own: true,
    body: () => fixture("bootstrap-bins.json"),
    status: 202,
    message: "Bootstrap accepted.",
    task: {
      name: "bootstrap",
      state: "SUCCESS",
      details: (d) => expect(d).toEqual({ bootstrap: "Bootstrap Finished" }),
    },
    check: async (b, { s }) => {
      const state = (await s.api("GET", "/api/v1/bootstrap")).body;
      expect(state).toEqual({
        data: { bootstrap: true, state: "finished", id: b.data.task_id },
        message: "System LOCKED for bootstrap.",
      });
    },
  },
  {
    name: "already bootstrapped",
    method: "POST",
    path: "/api/v1/bootstrap",
    given: "bins",
    body: () => fixture("bootstrap-bins.json"),
    status: 404,
    error: "System already has a Metadata. State: finished",
  },
  {
    name: "a bootstrap is waiting for signatures",
    method: "POST",
    path: "/api/v1/bootstrap",
    given: "signing",
    body: () => fixture("bootstrap-bins.json"),
    status: 404,
    error: "System already has a Metadata. State: signing",
  },
  {
    name: "no token",
    method: "POST",
    path: "/api/v1/bootstrap",
    auth: false,
    given: "empty",
    body: () => fixture("bootstrap-bins.json"),
    status: 401,
  },
  {
    name: "settings missing",
    method: "POST",
    path: "/api/v1/bootstrap",
    given: "empty",
    body: () => ({ metadata: {} }),
    status: 422,
    loc: ["body", "settings"],
    type: "missing",
  },
  {
    name: "malformed JSON",
    method: "POST",
    path: "/api/v1/bootstrap",
    given: "empty",
    body: () => '{"settings": ',
    status: 422,
    loc: ["body"],
    type: "json_invalid",
  },
  // RSTUF DIFFERENCE (README): unknown fields are refused, RSTUF ignores them.
  {
    name: "unknown field",
    method: "POST",
    path: "/api/v1/bootstrap",
    given: "empty",
    body: () => ({ ...(fixture("bootstrap-bins.json") as Record<string, unknown>), timout: 300 }),
    status: 422,
    loc: ["body", "timout"],
    type: "extra_forbidden",
  },

  // ---------------------------------------------------------- POST /artifacts
  {
    name: "accepted",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "bins",
    body: ({ tag }) => ({ artifacts: [item(`contract/${tag}.txt`)], add_task_id_to_custom: true }),
    status: 202,
    message: "New Artifact(s) successfully submitted.",
    dataKeys: ["artifacts", "last_update", "task_id"],
    check: async (b, { s, tag }) => {
      expect(b.data.artifacts).toEqual([`contract/${tag}.txt`]);
      const published = await s.app.store.getArtifact(`contract/${tag}.txt`);
      expect(JSON.parse(published!.fragment).custom).toEqual({ added_by_task_id: b.data.task_id });
    },
    task: {
      name: "add_artifacts",
      state: "SUCCESS",
      details: (d, { tag }) => {
        expect(d.added_artifacts).toEqual([`contract/${tag}.txt`]);
        expect(d.invalid_paths).toEqual([]);
        expect(d.artifact_roles).toHaveLength(1);
        expect(d.artifact_roles[0]).toMatch(/^bins-[0-9a-f]$/);
      },
    },
  },
  {
    name: "accepted, publishing skipped",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "bins",
    body: ({ tag }) => ({ artifacts: [item(`held/${tag}.txt`)], publish_artifacts: false }),
    status: 202,
    message: "New Artifact(s) successfully submitted. Publishing will be skipped.",
    dataKeys: ["artifacts", "last_update", "task_id"],
    task: {
      name: "add_artifacts",
      state: "SUCCESS",
      details: (d, { tag }) => expect(d.added_artifacts).toEqual([`held/${tag}.txt`]),
    },
  },
  {
    name: "paths no delegation covers are reported invalid",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "delegations",
    body: ({ tag }) => ({ artifacts: [item(`nightly/${tag}.tar.gz`), item(`nowhere/${tag}.bin`)] }),
    status: 202,
    message: "New Artifact(s) successfully submitted.",
    dataKeys: ["artifacts", "last_update", "task_id"],
    task: {
      name: "add_artifacts",
      state: "SUCCESS",
      details: (d, { tag }) =>
        expect(d).toEqual({
          added_artifacts: [`nightly/${tag}.tar.gz`],
          invalid_paths: [`nowhere/${tag}.bin`],
          artifact_roles: ["nightly"],
        }),
    },
  },
  {
    name: "not bootstrapped",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "empty",
    body: () => ({ artifacts: [item("a.txt")] }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "bootstrap still signing",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "signing",
    body: () => ({ artifacts: [item("a.txt")] }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "no token",
    method: "POST",
    path: "/api/v1/artifacts",
    auth: false,
    given: "bins",
    body: () => ({ artifacts: [item("a.txt")] }),
    status: 401,
  },
  {
    name: "artifacts not a list",
    method: "POST",
    path: "/api/v1/artifacts",
    given: "bins",
    body: () => ({ artifacts: "a.txt" }),
    status: 422,
    loc: ["body", "artifacts"],
    type: "list_type",
  },

  // ---------------------------------------------------------- POST /artifacts/delete
  {
    name: "accepted",
    method: "POST",
    path: "/api/v1/artifacts/delete",
    given: "bins",
    before: async ({ s, tag }) =>
      void expect(
        (await accepted(s, "POST", "/api/v1/artifacts", { artifacts: [item(`gone/${tag}.txt`)] })).state,
      ).toBe("SUCCESS"),
    body: ({ tag }) => ({ artifacts: [`gone/${tag}.txt`, `never/${tag}.txt`] }),
    status: 202,
    message: "Remove Artifact(s) successfully submitted.",
    dataKeys: ["artifacts", "last_update", "task_id"],
    check: (b, { tag }) => expect(b.data.artifacts).toEqual([`gone/${tag}.txt`, `never/${tag}.txt`]),
    task: {
      name: "remove_artifacts",
      state: "SUCCESS",
      details: (d, { tag }) => {
        expect(d.deleted_artifacts).toEqual([`gone/${tag}.txt`]);
        expect(d.not_found_artifacts).toEqual([`never/${tag}.txt`]);
      },
    },
  },
  {
    name: "nothing to remove",
    method: "POST",
    path: "/api/v1/artifacts/delete",
    given: "bins",
    body: ({ tag }) => ({ artifacts: [`never/${tag}.txt`] }),
    status: 202,
    message: "Remove Artifact(s) successfully submitted.",
    dataKeys: ["artifacts", "last_update", "task_id"],
    task: {
      name: "remove_artifacts",
      state: "ERRORED",
      details: (d, { tag }) => expect(d.not_found_artifacts).toEqual([`never/${tag}.txt`]),
    },
  },
  {
    name: "accepted, publishing skipped",
    method: "POST",
    path: "/api/v1/artifacts/delete",
    given: "bins",
    body: ({ tag }) => ({ artifacts: [`held/${tag}.txt`], publish_artifacts: false }),
    status: 202,
    message: "Remove Artifact(s) successfully submitted. Publishing will be skipped.",
    dataKeys: ["artifacts", "last_update", "task_id"],
    task: { name: "remove_artifacts", state: "SUCCESS" },
  },
  {
    name: "not bootstrapped",
    method: "POST",
    path: "/api/v1/artifacts/delete",
    given: "empty",
    body: () => ({ artifacts: ["a.txt"] }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "no token",
    method: "POST",
    path: "/api/v1/artifacts/delete",
    auth: false,
    given: "bins",
    body: () => ({ artifacts: ["a.txt"] }),
    status: 401,
  },
  {
    name: "artifacts missing",
    method: "POST",
    path: "/api/v1/artifacts/delete",
    given: "bins",
    body: () => ({}),
    status: 422,
    loc: ["body", "artifacts"],
    type: "missing",
  },

  // ---------------------------------------------------------- POST /artifacts/publish
  {
    name: "accepted",
    method: "POST",
    path: "/api/v1/artifacts/publish",
    given: "bins",
    before: async ({ s, tag }) => {
      const r = await s.api("POST", "/api/v1/artifacts", {
        artifacts: [item(`later/${tag}.txt`)],
        publish_artifacts: false,
      });
      expect(r.status).toBe(202);
    },
    status: 202,
    message: "Publish artifacts successfully submitted.",
    dataKeys: ["artifacts", "last_update", "task_id"],
    check: (b) => expect(b.data.artifacts).toEqual([]),
    task: { name: "publish_artifacts", state: "SUCCESS" },
  },
  // RSTUF DIFFERENCE: RSTUF's API queues a publish task without checking the bootstrap state; tufbox answers the 404 state conflict.
  {
    name: "not bootstrapped",
    method: "POST",
    path: "/api/v1/artifacts/publish",
    given: "empty",
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  { name: "no token", method: "POST", path: "/api/v1/artifacts/publish", auth: false, given: "bins", status: 401 },

  // ---------------------------------------------------------- GET /task
  {
    name: "state of a finished task",
    method: "GET",
    path: "/api/v1/task",
    given: "bins",
    before: async ({ s, tag, stash }) => {
      const r = await s.api("POST", "/api/v1/artifacts", { artifacts: [item(`task/${tag}.txt`)] });
      stash.id = r.body.data.task_id;
      await s.waitTask(stash.id);
    },
    query: ({ stash }) => `task_id=${stash.id}`,
    status: 200,
    message: "Task state.",
    check: (b, { stash, tag }) => {
      expect(Object.keys(b.data).sort()).toEqual(["result", "state", "task_id"]);
      expect(b.data.task_id).toBe(stash.id);
      expect(b.data.state).toBe("SUCCESS");
      expect(b.data.result.task).toBe("add_artifacts");
      expect(b.data.result.status).toBe(true);
      expect(b.data.result.message).toBe("Artifact(s) Added");
      expect(b.data.result.last_update).toMatch(ISO_DATE_TIME);
      expect(b.data.result.details.added_artifacts).toEqual([`task/${tag}.txt`]);
    },
  },
  {
    name: "an unknown id is PENDING",
    method: "GET",
    path: "/api/v1/task",
    given: "bins",
    query: () => "task_id=0123456789abcdef0123456789abcdef",
    status: 200,
    message: "Task state.",
    check: (b) =>
      expect(b.data).toEqual({ task_id: "0123456789abcdef0123456789abcdef", state: "PENDING", result: null }),
  },
  {
    name: "task_id missing",
    method: "GET",
    path: "/api/v1/task",
    given: "bins",
    status: 422,
    loc: ["query", "task_id"],
    type: "missing",
  },

  // ---------------------------------------------------------- GET /config
  {
    name: "current settings, no private material",
    method: "GET",
    path: "/api/v1/config",
    given: "bins",
    status: 200,
    message: "Current Settings",
    check: (b) => {
      expect(b.data).toMatchObject({
        number_of_delegated_bins: 16,
        targets_online_key: true,
        root_expiration: 365,
        targets_expiration: 365,
        snapshot_expiration: 1,
        timestamp_expiration: 1,
        bins_expiration: 1,
        root_threshold: 2,
        root_num_keys: 2,
        timestamp_threshold: 1,
        timestamp_num_keys: 1,
      });
      expect(JSON.stringify(b)).not.toContain("PRIVATE");
    },
  },
  // GET /config before bootstrap: RSTUF answers 404 ("No Repository Settings/Config found."), a "not bootstrapped" state conflict.
  {
    name: "not bootstrapped",
    method: "GET",
    path: "/api/v1/config",
    given: "empty",
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },

  // ---------------------------------------------------------- PUT /config
  {
    name: "accepted",
    method: "PUT",
    path: "/api/v1/config",
    given: "bins",
    body: () => ({ settings: { expiration: { targets: 100, nosuch: 2 } } }),
    status: 202,
    message: "Settings successfully submitted.",
    task: {
      name: "update_settings",
      state: "SUCCESS",
      details: (d) => expect(d).toEqual({ updated_roles: ["targets"], invalid_roles: ["nosuch"] }),
    },
    check: async (_b, { s }) => expect((await s.api("GET", "/api/v1/config")).body.data.targets_expiration).toBe(100),
  },
  // RSTUF DIFFERENCE: RSTUF's worker reports this SUCCESS (status true, nothing updated); tufbox reports ERRORED.
  {
    name: "only unknown roles",
    method: "PUT",
    path: "/api/v1/config",
    given: "bins",
    body: () => ({ settings: { expiration: { nosuch: 2 } } }),
    status: 202,
    message: "Settings successfully submitted.",
    task: {
      name: "update_settings",
      state: "ERRORED",
      details: (d) => expect(d).toEqual({ updated_roles: [], invalid_roles: ["nosuch"] }),
    },
  },
  {
    name: "not bootstrapped",
    method: "PUT",
    path: "/api/v1/config",
    given: "empty",
    body: () => ({ settings: { expiration: { targets: 100 } } }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "no token",
    method: "PUT",
    path: "/api/v1/config",
    auth: false,
    given: "bins",
    body: () => ({ settings: { expiration: { targets: 100 } } }),
    status: 401,
  },
  {
    name: "expiration not positive",
    method: "PUT",
    path: "/api/v1/config",
    given: "bins",
    body: () => ({ settings: { expiration: { targets: 0 } } }),
    status: 422,
    loc: ["body", "settings", "expiration", "targets"],
    type: "greater_than",
  },

  // ---------------------------------------------------------- POST /metadata
  {
    name: "root update accepted and published",
    method: "POST",
    path: "/api/v1/metadata",
    given: "bins",
    own: true,
    body: () => fixture("metadata-update-root-v2-online-ecdsa.json"),
    status: 202,
    message: "Metadata update accepted.",
    task: { name: "metadata_update", state: "SUCCESS", details: (d) => expect(d).toEqual({ role: "root" }) },
    check: async (_b, { s }) => expect((await fetch(`${s.url}/metadata/2.root.json`)).status).toBe(200),
  },
  {
    name: "root update short of signatures waits",
    method: "POST",
    path: "/api/v1/metadata",
    given: "bins",
    own: true,
    body: () => {
      const update = fixture("metadata-update-root-v2-online-ecdsa.json");
      update.metadata.root.signatures = update.metadata.root.signatures.slice(0, 1);
      return update;
    },
    status: 202,
    message: "Metadata update accepted.",
    task: {
      name: "metadata_update",
      state: "SUCCESS",
      details: (d) => expect(d).toEqual({ update: "Root v2 is pending signatures" }),
    },
    check: async (_b, { s }) => {
      const pending = (await s.api("GET", "/api/v1/metadata/sign")).body;
      expect(pending.message).toBe("Metadata role(s) pending signing");
      expect(pending.data.metadata.root.signed.version).toBe(2);
      expect(pending.data.metadata.trusted_root.signed.version).toBe(1);
      // A second root v2 while the first waits is a state conflict ("nothing pending"'s mirror image).
      const again = await s.api("POST", "/api/v1/metadata", fixture("metadata-update-root-v2-online-ecdsa.json"));
      expect(again.status).toBe(404);
      expect(again.body.detail.error).toBe(
        "Root v2 is already pending signatures; sign it or cancel it with POST /api/v1/metadata/sign/delete",
      );
    },
  },
  {
    name: "not bootstrapped",
    method: "POST",
    path: "/api/v1/metadata",
    given: "empty",
    body: () => fixture("metadata-update-root-v2-online-ecdsa.json"),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "no token",
    method: "POST",
    path: "/api/v1/metadata",
    auth: false,
    given: "bins",
    body: () => fixture("metadata-update-root-v2-online-ecdsa.json"),
    status: 401,
  },
  {
    name: "root missing",
    method: "POST",
    path: "/api/v1/metadata",
    given: "bins",
    body: () => ({ metadata: {} }),
    status: 422,
    loc: ["body", "metadata", "root"],
    type: "missing",
  },
  // RSTUF DIFFERENCE: a root that does not follow the trusted one is refused up front (RSTUF fails the task later).
  {
    name: "root version does not follow",
    method: "POST",
    path: "/api/v1/metadata",
    given: "bins",
    body: () => fixture("metadata-update-root-v3-online-rsa-1-of-2.json"),
    status: 422,
    loc: ["body", "metadata", "root", "signed", "version"],
  },

  // ---------------------------------------------------------- GET /metadata/sign
  {
    name: "pending bootstrap root",
    method: "GET",
    path: "/api/v1/metadata/sign",
    given: "signing",
    status: 200,
    message: "Metadata role(s) pending signing",
    check: (b) => {
      expect(Object.keys(b.data.metadata)).toEqual(["root"]);
      expect(b.data.metadata.root.signed.version).toBe(1);
      expect(b.data.metadata.root.signatures).toHaveLength(1);
    },
  },
  {
    // tufbox keeps delegated role names exact here (RSTUF mangles names with "_" or capitals; RSTUF-API.md).
    name: "pending delegated role with the trusted targets",
    method: "GET",
    path: "/api/v1/metadata/sign",
    given: "delegations",
    status: 200,
    message: "Metadata role(s) pending signing",
    check: (b) => {
      expect(Object.keys(b.data.metadata).sort()).toEqual(["releases", "trusted_targets"]);
      expect(b.data.metadata.releases.signed._type).toBe("targets");
      expect(b.data.metadata.trusted_targets.signed.delegations.roles.map((r: any) => r.name)).toContain("releases");
    },
  },
  // Nothing pending: message only, never `"data": null`.
  {
    name: "nothing pending",
    method: "GET",
    path: "/api/v1/metadata/sign",
    given: "bins",
    status: 200,
    check: (b) => expect(b).toEqual({ message: "No metadata pending signing available" }),
  },
  // RSTUF DIFFERENCE: before bootstrap RSTUF answers with a `detail` body ("Requires bootstrap started"); tufbox gives the plain "nothing pending" answer.
  {
    name: "nothing pending before bootstrap",
    method: "GET",
    path: "/api/v1/metadata/sign",
    given: "empty",
    status: 200,
    check: (b) => expect(b).toEqual({ message: "No metadata pending signing available" }),
  },

  // ---------------------------------------------------------- POST /metadata/sign
  {
    name: "the last signature finishes the bootstrap",
    method: "POST",
    path: "/api/v1/metadata/sign",
    given: "signing",
    own: true,
    body: () => ({
      role: "root",
      signature: rootSignature(fixture("bootstrap-bins-1-of-2-signatures.json").metadata.root, "root-ecdsa"),
    }),
    status: 202,
    message: "Metadata sign accepted.",
    task: {
      name: "sign_metadata",
      state: "SUCCESS",
      details: (d) => expect(d).toEqual({ bootstrap: "Bootstrap Finished" }),
    },
    check: async (_b, { s }) => expect((await s.api("GET", "/api/v1/bootstrap")).body.data.state).toBe("finished"),
  },
  {
    name: "an invalid signature",
    method: "POST",
    path: "/api/v1/metadata/sign",
    given: "signing",
    body: () => {
      const root = fixture("bootstrap-bins-1-of-2-signatures.json").metadata.root;
      const sig = rootSignature(root, "root-ecdsa");
      return {
        role: "root",
        signature: {
          keyid: sig.keyid,
          sig: rootSignature({ signed: { ...root.signed, version: 7 } }, "root-ecdsa").sig,
        },
      };
    },
    status: 202,
    message: "Metadata sign accepted.",
    task: { name: "sign_metadata", state: "ERRORED", error: "Invalid signature" },
  },
  // RSTUF DIFFERENCE: with nothing to sign, RSTUF's API may refuse up front (a `detail` body, "No signing pending.");
  // tufbox accepts and the task reports RSTUF's worker error.
  {
    name: "nothing pending",
    method: "POST",
    path: "/api/v1/metadata/sign",
    given: "bins",
    body: () => ({
      role: "root",
      signature: rootSignature(fixture("bootstrap-bins.json").metadata.root, "root-ecdsa"),
    }),
    status: 202,
    message: "Metadata sign accepted.",
    task: { name: "sign_metadata", state: "ERRORED", error: "No signatures pending for root" },
  },
  {
    name: "no token",
    method: "POST",
    path: "/api/v1/metadata/sign",
    auth: false,
    given: "signing",
    body: () => ({ role: "root", signature: { keyid: "ab".repeat(32), sig: "00" } }),
    status: 401,
  },
  {
    name: "keyid not hex",
    method: "POST",
    path: "/api/v1/metadata/sign",
    given: "signing",
    body: () => ({ role: "root", signature: { keyid: "zz", sig: "00" } }),
    status: 422,
    loc: ["body", "signature", "keyid"],
  },
  {
    name: "signature missing",
    method: "POST",
    path: "/api/v1/metadata/sign",
    given: "signing",
    body: () => ({ role: "root" }),
    status: 422,
    loc: ["body", "signature"],
    type: "missing",
  },

  // ---------------------------------------------------------- POST /metadata/sign/delete
  {
    name: "cancelling a pending bootstrap frees the repository",
    method: "POST",
    path: "/api/v1/metadata/sign/delete",
    given: "signing",
    own: true,
    body: () => ({ role: "root" }),
    status: 202,
    message: "Metadata sign delete accepted.",
    task: {
      name: "delete_sign_metadata",
      state: "SUCCESS",
      details: (d) => expect(d).toEqual({ deleted_roles: ["root"] }),
    },
    check: async (b, { s }) => {
      expect((await s.api("GET", "/api/v1/bootstrap")).body).toEqual({
        data: { bootstrap: false, state: null, id: null },
        message: "System available for bootstrap.",
      });
      expect((await s.api("GET", "/api/v1/metadata/sign")).body).toEqual({
        message: "No metadata pending signing available",
      });
      expect(b.data.task_id).toMatch(TASK_ID);
    },
  },
  // RSTUF DIFFERENCE: RSTUF's API refuses up front ("No signing process for root."); tufbox accepts and the task errors.
  {
    name: "nothing pending",
    method: "POST",
    path: "/api/v1/metadata/sign/delete",
    given: "bins",
    body: () => ({ role: "root" }),
    status: 202,
    message: "Metadata sign delete accepted.",
    task: { name: "delete_sign_metadata", state: "ERRORED", error: "No signatures pending for root" },
  },
  {
    name: "no token",
    method: "POST",
    path: "/api/v1/metadata/sign/delete",
    auth: false,
    given: "signing",
    body: () => ({ role: "root" }),
    status: 401,
  },
  {
    name: "role missing",
    method: "POST",
    path: "/api/v1/metadata/sign/delete",
    given: "signing",
    body: () => ({}),
    status: 422,
    loc: ["body", "role"],
    type: "missing",
  },

  // ---------------------------------------------------------- POST /metadata/online
  {
    name: "named roles",
    method: "POST",
    path: "/api/v1/metadata/online",
    given: "bins",
    body: () => ({ roles: ["snapshot"] }),
    status: 202,
    message: "Force online metadata update accepted.",
    task: {
      name: "force_online_metadata_update",
      state: "SUCCESS",
      details: (d) => expect(d).toEqual({ updated_roles: ["snapshot"] }),
    },
  },
  {
    name: "an empty list bumps every online role",
    method: "POST",
    path: "/api/v1/metadata/online",
    given: "bins",
    body: () => ({ roles: [] }),
    status: 202,
    message: "Force online metadata update accepted.",
    task: {
      name: "force_online_metadata_update",
      state: "SUCCESS",
      details: (d) => expect(d).toEqual({ updated_roles: ["targets", "snapshot", "timestamp", "bins"] }),
    },
  },
  // RSTUF DIFFERENCE: RSTUF requires `roles` (422 without it); tufbox reads an empty body as "every online role".
  {
    name: "no body bumps every online role",
    method: "POST",
    path: "/api/v1/metadata/online",
    given: "bins",
    status: 202,
    message: "Force online metadata update accepted.",
    task: {
      name: "force_online_metadata_update",
      state: "SUCCESS",
      details: (d) => expect(d.updated_roles).toEqual(["targets", "snapshot", "timestamp", "bins"]),
    },
  },
  {
    name: "not bootstrapped",
    method: "POST",
    path: "/api/v1/metadata/online",
    given: "empty",
    body: () => ({ roles: [] }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "no token",
    method: "POST",
    path: "/api/v1/metadata/online",
    auth: false,
    given: "bins",
    body: () => ({ roles: [] }),
    status: 401,
  },
  {
    name: "roles not a list",
    method: "POST",
    path: "/api/v1/metadata/online",
    given: "bins",
    body: () => ({ roles: "targets" }),
    status: 422,
    loc: ["body", "roles"],
    type: "list_type",
  },
  {
    name: "root is not an online role",
    method: "POST",
    path: "/api/v1/metadata/online",
    given: "bins",
    body: () => ({ roles: ["targets", "root"] }),
    status: 422,
    loc: ["body", "roles", 1],
  },

  // ---------------------------------------------------------- POST/PUT /delegations, POST /delegations/delete
  {
    name: "add accepted",
    method: "POST",
    path: "/api/v1/delegations",
    given: "delegations",
    body: ({ tag }) => ({ delegations: { roles: [onlineRole(`add-${tag}`, [`add-${tag}/*`])] } }),
    status: 202,
    message: "Metadata delegation add accepted.",
    task: {
      name: "metadata_delegation",
      state: "SUCCESS",
      details: (d, { tag }) => expect(d).toEqual({ delegated_roles: [`add-${tag}`], failed_roles: [] }),
    },
  },
  {
    name: "add of an existing role fails in the task",
    method: "POST",
    path: "/api/v1/delegations",
    given: "delegations",
    body: () => ({ delegations: { roles: [onlineRole("nightly", ["x/*"])] } }),
    status: 202,
    message: "Metadata delegation add accepted.",
    task: {
      name: "metadata_delegation",
      state: "ERRORED",
      details: (d) =>
        expect(d).toEqual({ delegated_roles: [], failed_roles: [{ role: "nightly", reason: "role already exists" }] }),
    },
  },
  {
    name: "update accepted",
    method: "PUT",
    path: "/api/v1/delegations",
    given: "delegations",
    before: async ({ s, tag }) =>
      void expect(
        (
          await accepted(s, "POST", "/api/v1/delegations", {
            delegations: { roles: [onlineRole(`upd-${tag}`, [`upd-${tag}/*`])] },
          })
        ).state,
      ).toBe("SUCCESS"),
    body: ({ tag }) => ({ delegations: { roles: [onlineRole(`upd-${tag}`, [`upd-${tag}/*`, `upd-${tag}/*/*`])] } }),
    status: 202,
    message: "Metadata delegation update accepted.",
    task: {
      name: "metadata_delegation",
      state: "SUCCESS",
      details: (d, { tag }) => expect(d).toEqual({ delegated_roles: [`upd-${tag}`], failed_roles: [] }),
    },
  },
  {
    name: "delete accepted",
    method: "POST",
    path: "/api/v1/delegations/delete",
    given: "delegations",
    before: async ({ s, tag }) =>
      void expect(
        (
          await accepted(s, "POST", "/api/v1/delegations", {
            delegations: { roles: [onlineRole(`del-${tag}`, [`del-${tag}/*`])] },
          })
        ).state,
      ).toBe("SUCCESS"),
    body: ({ tag }) => ({ delegations: { roles: [{ name: `del-${tag}` }] } }),
    status: 202,
    message: "Metadata delegation delete accepted.",
    task: {
      name: "metadata_delegation",
      state: "SUCCESS",
      details: (d, { tag }) => expect(d).toEqual({ delegated_roles: [`del-${tag}`], failed_roles: [] }),
    },
  },
  // RSTUF DIFFERENCE: RSTUF accepts delegation changes on a hash-bins repository and fails the task; tufbox answers the 404 state conflict.
  {
    name: "add on a bins repository",
    method: "POST",
    path: "/api/v1/delegations",
    given: "bins",
    body: () => ({ delegations: { roles: [onlineRole("x", ["x/*"])] } }),
    status: 404,
    error: BINS_REPOSITORY,
  },
  {
    name: "update on a bins repository",
    method: "PUT",
    path: "/api/v1/delegations",
    given: "bins",
    body: () => ({ delegations: { roles: [onlineRole("x", ["x/*"])] } }),
    status: 404,
    error: BINS_REPOSITORY,
  },
  {
    name: "delete on a bins repository",
    method: "POST",
    path: "/api/v1/delegations/delete",
    given: "bins",
    body: () => ({ delegations: { roles: [{ name: "x" }] } }),
    status: 404,
    error: BINS_REPOSITORY,
  },
  {
    name: "add not bootstrapped",
    method: "POST",
    path: "/api/v1/delegations",
    given: "empty",
    body: () => ({ delegations: { roles: [onlineRole("x", ["x/*"])] } }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "update not bootstrapped",
    method: "PUT",
    path: "/api/v1/delegations",
    given: "empty",
    body: () => ({ delegations: { roles: [onlineRole("x", ["x/*"])] } }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "delete not bootstrapped",
    method: "POST",
    path: "/api/v1/delegations/delete",
    given: "empty",
    body: () => ({ delegations: { roles: [{ name: "x" }] } }),
    status: 404,
    error: NOT_BOOTSTRAPPED,
  },
  {
    name: "add no token",
    method: "POST",
    path: "/api/v1/delegations",
    auth: false,
    given: "delegations",
    body: () => ({ delegations: { roles: [onlineRole("x", ["x/*"])] } }),
    status: 401,
  },
  {
    name: "update no token",
    method: "PUT",
    path: "/api/v1/delegations",
    auth: false,
    given: "delegations",
    body: () => ({ delegations: { roles: [onlineRole("x", ["x/*"])] } }),
    status: 401,
  },
  {
    name: "delete no token",
    method: "POST",
    path: "/api/v1/delegations/delete",
    auth: false,
    given: "delegations",
    body: () => ({ delegations: { roles: [{ name: "x" }] } }),
    status: 401,
  },
  {
    name: "add with an empty role list",
    method: "POST",
    path: "/api/v1/delegations",
    given: "delegations",
    body: () => ({ delegations: { roles: [] } }),
    status: 422,
    loc: ["body", "delegations", "roles"],
    type: "list_type",
  },
  {
    name: "update without delegations",
    method: "PUT",
    path: "/api/v1/delegations",
    given: "delegations",
    body: () => ({}),
    status: 422,
    loc: ["body", "delegations"],
    type: "missing",
  },
  {
    name: "delete takes names only",
    method: "POST",
    path: "/api/v1/delegations/delete",
    given: "delegations",
    body: () => ({ delegations: { roles: [{ name: "nightly", paths: ["x/*"] }] } }),
    status: 422,
    loc: ["body", "delegations", "roles", 0, "paths"],
    type: "extra_forbidden",
  },
];

// ------------------------------------------------------------------ running the table

const ALL_TASK_NAMES = [
  "add_artifacts",
  "remove_artifacts",
  "bootstrap",
  "update_settings",
  "publish_artifacts",
  "metadata_update",
  "metadata_delegation",
  "sign_metadata",
  "delete_sign_metadata",
  "force_online_metadata_update",
];
const observedTaskNames = new Set<string>();
const shared = new Map<string, Promise<TestServer>>();
const started: TestServer[] = [];

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
  if (given === "signing") {
    await boot("bootstrap-bins-1-of-2-signatures.json");
    expect((await s.api("GET", "/api/v1/bootstrap")).body.data.state).toBe("signing");
  }
  return s;
}

function sharedServer(slash: string, given: Given): Promise<TestServer> {
  const key = `${slash}|${given}`;
  if (!shared.has(key)) shared.set(key, serverIn(given));
  return shared.get(key)!;
}

afterAll(async () => {
  for (const s of started) await s.stop();
});

let runs = 0;

for (const slash of ["", "/"]) {
  describe(`slash form "${slash === "" ? "/api/v1/x" : "/api/v1/x/"}"`, () => {
    for (const row of rows) {
      test(`${row.method} ${row.path}${slash} — ${row.name} → ${row.status}`, async () => {
        const s = row.own ? await serverIn(row.given) : await sharedServer(slash, row.given);
        const ctx: Ctx = { s, tag: `r${++runs}`, stash: {} };
        await row.before?.(ctx);
        const query = row.query ? `?${row.query(ctx)}` : "";
        const headers: Record<string, string> = row.auth === false ? { authorization: "" } : {};
        const r = await s.api(row.method, `${row.path}${slash}${query}`, row.body?.(ctx), headers);
        expect({ status: r.status, body: r.body }).toMatchObject({ status: row.status });
        expect(r.headers.get("content-type")).toContain("application/json");
        const body = r.body;

        if (row.status >= 200 && row.status < 300) {
          // The success envelope: {"data": {...}, "message": "..."}, `data` omitted rather than null.
          expect(Object.keys(body).every((k) => k === "data" || k === "message")).toBe(true);
          if ("data" in body) expect(body.data).not.toBeNull();
          if (row.message !== undefined) expect(body.message).toBe(row.message);
        }
        if (row.status === 202) {
          expect(Object.keys(body).sort()).toEqual(["data", "message"]);
          expect(Object.keys(body.data).sort()).toEqual(row.dataKeys ?? ["last_update", "task_id"]);
          expect(body.data.task_id).toMatch(TASK_ID);
          expect(body.data.last_update).toMatch(ISO_DATE_TIME);
          expect(Number.isNaN(Date.parse(body.data.last_update))).toBe(false);
        }
        if (row.status === 401) {
          expect(body).toEqual({ detail: { message: "Unauthorized", error: expect.any(String) } });
          expect(r.headers.get("www-authenticate")).toContain("Bearer");
        }
        if (row.status === 404) {
          expect(Object.keys(body)).toEqual(["detail"]);
          expect(Object.keys(body.detail).sort()).toEqual(["error", "message"]);
          expect(typeof body.detail.message).toBe("string");
          expect(body.detail.error).toBe(row.error!);
        }
        if (row.status === 422) {
          expect(Object.keys(body)).toEqual(["detail"]);
          expect(Array.isArray(body.detail)).toBe(true);
          expect(body.detail.length).toBeGreaterThan(0);
          for (const issue of body.detail) {
            expect(Object.keys(issue).sort()).toEqual(["loc", "msg", "type"]);
            expect(Array.isArray(issue.loc)).toBe(true);
            expect(issue.loc.every((p: unknown) => typeof p === "string" || typeof p === "number")).toBe(true);
            expect(typeof issue.msg).toBe("string");
            expect(issue.msg.length).toBeGreaterThan(0);
            expect(typeof issue.type).toBe("string");
          }
          if (row.loc) expect(body.detail[0].loc).toEqual(row.loc);
          if (row.type) expect(body.detail[0].type).toBe(row.type);
        }
        if (row.task) {
          const task = await s.waitTask(body.data.task_id);
          expect(task.task_id).toBe(body.data.task_id);
          expect({ state: task.state, task: task.result.task, error: task.result.error }).toEqual({
            state: row.task.state,
            task: row.task.name,
            error: row.task.error,
          });
          expect(task.result.status).toBe(row.task.state === "SUCCESS");
          expect(task.result.last_update).toMatch(ISO_DATE_TIME);
          observedTaskNames.add(task.result.task);
          row.task.details?.(task.result.details, ctx);
        }
        await row.check?.(body, ctx);
      }, 30_000);
    }
  });
}

describe("coverage of the table", () => {
  test("every RSTUF task name was observed in a task result", () => {
    expect([...observedTaskNames].sort()).toEqual([...ALL_TASK_NAMES].sort());
  });

  test("every route appears with a 2xx and a 401, and every mutating route with a 422", () => {
    const routes = new Set(rows.map((r) => `${r.method} ${r.path}`));
    expect(routes.size).toBe(16);
    for (const route of routes) {
      const of = rows.filter((r) => `${r.method} ${r.path}` === route);
      expect(of.some((r) => r.status >= 200 && r.status < 300)).toBe(true);
      expect(of.some((r) => r.status === 401)).toBe(true);
      if (route.startsWith("GET")) continue;
      // /artifacts/publish takes no body, so it has nothing to be malformed.
      if (route !== "POST /api/v1/artifacts/publish") expect(of.some((r) => r.status === 422)).toBe(true);
    }
  });
});
