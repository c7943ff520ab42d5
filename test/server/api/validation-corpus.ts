/**
 * A generated corpus of request bodies for every API route with a body:
 * a valid base body, then every node of it deleted, replaced by values of
 * every JSON type, given an unknown key, emptied or duplicated. The request
 * schemas (src/server/api/<feature>/model.ts) must answer each exactly as
 * the hand-written parsers they replaced did: the same first 422 issue (loc,
 * msg, type), or the same accepted payload. test/fixtures/api-validation.json
 * holds those answers, recorded from the old parsers before they were removed.
 */
import { fixture } from "../../helpers/fixtures.ts";

export type BodyRoute =
  | "POST /api/v1/bootstrap"
  | "POST /api/v1/artifacts"
  | "POST /api/v1/artifacts/delete"
  | "POST /api/v1/metadata"
  | "POST /api/v1/metadata/sign"
  | "POST /api/v1/metadata/sign/delete"
  | "POST /api/v1/metadata/online"
  | "PUT /api/v1/config"
  | "POST /api/v1/delegations"
  | "POST /api/v1/delegations/delete"
  | "POST /api/v1/tokens"
  | "POST /api/v1/delegations/metadata"
  | "POST /api/v1/publisher/pause"
  | "POST /api/v1/bins";

/** What the corpus calls `max_artifacts_per_request`. */
export const CORPUS_MAX_ARTIFACTS = 4;

const HASH = "ab".repeat(32);
const SIG_KEYID = "cd".repeat(32);

function bases(): [BodyRoute, string, unknown][] {
  const delegations = fixture("bootstrap-delegations.json").settings.roles.delegations;
  return [
    ["POST /api/v1/bootstrap", "bins", fixture("bootstrap-bins.json")],
    ["POST /api/v1/bootstrap", "delegations", { ...fixture<object>("bootstrap-delegations.json"), timeout: 300 }],
    [
      "POST /api/v1/artifacts",
      "two",
      {
        artifacts: [
          {
            path: "a/b-1.0.tar.gz",
            info: { length: 3, hashes: { sha256: HASH, "blake2b-256": HASH }, custom: { k: "v", n: [1, { x: true }] } },
          },
          { path: "c.whl", info: { length: 0, hashes: { sha512: HASH + HASH }, custom: null } },
        ],
        add_task_id_to_custom: true,
        publish_artifacts: false,
      },
    ],
    [
      "POST /api/v1/artifacts/delete",
      "two",
      { artifacts: ["a/b-1.0.tar.gz", "c.whl", "a/b-1.0.tar.gz"], publish_artifacts: true },
    ],
    ["POST /api/v1/metadata", "root-v2", fixture("metadata-update-root-v2-online-ecdsa.json")],
    [
      "POST /api/v1/metadata/sign",
      "root",
      { role: "root", signature: { keyid: SIG_KEYID, sig: "0a1b", bundle: null } },
    ],
    ["POST /api/v1/metadata/sign/delete", "root", { role: "root" }],
    ["POST /api/v1/metadata/online", "two", { roles: ["targets", "bins-1", "targets"] }],
    ["POST /api/v1/metadata/online", "empty", {}],
    ["PUT /api/v1/config", "two", { settings: { expiration: { targets: 30, bins: 2, nope: 1 } } }],
    ["POST /api/v1/delegations", "fixture", { delegations }],
    ["POST /api/v1/delegations/delete", "one", { delegations: { roles: [{ name: "releases" }, { name: "nightly" }] } }],
    ["POST /api/v1/tokens", "ci", { name: "ci runner:1@x", scopes: ["read", "artifacts:write"], expires_in_days: 90 }],
    ["POST /api/v1/tokens", "admin", { name: "ops", scopes: ["admin"], expires_in_days: null }],
    [
      "POST /api/v1/delegations/metadata",
      "releases",
      {
        rolename: "releases",
        metadata: {
          signed: {
            _type: "targets",
            spec_version: "1.0.31",
            version: 2,
            expires: "2030-01-01T00:00:00Z",
            targets: { "releases/a-1.0.tar.gz": { length: 3, hashes: { sha256: HASH } } },
          },
          signatures: [{ keyid: SIG_KEYID, sig: "0a1b" }],
        },
      },
    ],
    ["POST /api/v1/publisher/pause", "reason", { reason: "moving the database" }],
    ["POST /api/v1/bins", "resize", { number_of_delegated_bins: 1024 }],
  ];
}

const VALUES: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, "", "x", "a/../b", "bins-1", [], [1], {}, { a: 1 }];

type Path = (string | number)[];
export interface CorpusCase {
  route: BodyRoute;
  /** a readable, unique name: base, path, operation */
  name: string;
  body: unknown;
}

function at(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string | number, unknown>)[p];
  return v;
}

function edited(base: unknown, path: Path, edit: (parent: any, key: string | number) => void): unknown {
  const copy = structuredClone(base);
  if (path.length === 0) throw new Error("edit of the root");
  edit(at(copy, path.slice(0, -1)), path[path.length - 1]!);
  return copy;
}

/**
 * Every node of `value` up to `depth` levels, arrays by their first two
 * elements. Inside root metadata only the first levels: below them the TUF
 * layer's own parser answers (test/tuf/metadata.test.ts covers it), and the
 * schema only places its answer under the right loc.
 */
function* nodes(value: unknown, path: Path = [], depth = 7): Generator<Path> {
  yield path;
  if (depth === 0 || typeof value !== "object" || value === null) return;
  if (path[0] === "metadata" && path.length >= 4) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < Math.min(value.length, 2); i++) yield* nodes(value[i], [...path, i], depth - 1);
    return;
  }
  for (const [k, v] of Object.entries(value)) yield* nodes(v, [...path, k], depth - 1);
}

export function corpus(): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (const [route, baseName, base] of bases()) {
    const add = (what: string, body: unknown) => out.push({ route, name: `${baseName} ${what}`, body });
    add("as given", base);
    for (const v of VALUES) add(`body = ${JSON.stringify(v)}`, v);
    for (const path of nodes(base)) {
      const where = path.map(String).join(".") || "(body)";
      const node = at(base, path);
      if (path.length > 0) {
        add(
          `${where} deleted`,
          edited(base, path, (p, k) => (Array.isArray(p) ? p.splice(Number(k), 1) : delete p[k])),
        );
        for (const v of VALUES)
          if (JSON.stringify(v) !== JSON.stringify(node))
            add(
              `${where} = ${JSON.stringify(v)}`,
              edited(base, path, (p, k) => (p[k] = structuredClone(v))),
            );
      }
      if (typeof node === "object" && node !== null && !Array.isArray(node)) {
        const withExtra = structuredClone(base);
        (at(withExtra, path) as Record<string, unknown>).zz_extra = 1;
        add(`${where} + zz_extra`, withExtra);
      }
      if (Array.isArray(node) && node.length > 0) {
        const dup = structuredClone(base);
        (at(dup, path) as unknown[]).push(structuredClone(node[0]));
        add(`${where} + a copy of its first item`, dup);
        const many = structuredClone(base);
        const list = at(many, path) as unknown[];
        while (list.length <= CORPUS_MAX_ARTIFACTS) list.push(structuredClone(node[0]));
        add(`${where} longer than ${CORPUS_MAX_ARTIFACTS}`, many);
      }
    }
  }
  const names = new Set<string>();
  for (const c of out) {
    const key = `${c.route} ${c.name}`;
    if (names.has(key)) throw new Error(`corpus case named twice: ${key}`);
    names.add(key);
  }
  return out;
}

/** The recorded answer for one case: the accepted payload's digest, or the first issue. */
export type Answer = { ok: string } | { loc: Path; msg: string; type: string };
