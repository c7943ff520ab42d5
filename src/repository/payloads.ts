/**
 * RSTUF request payloads (shared/RSTUF-API.md): validation with errors that
 * name the field, as FastAPI's 422 `loc` does. Unknown fields are rejected so a
 * typo (`publish_artifact`) never silently changes behaviour.
 */
import { TufError } from "../tuf/errors.ts";
import { assertCanonicalSafe, canonicalJson } from "../tuf/canonical.ts";
import { serializeEnvelope } from "../tuf/document.ts";
import {
  CUSTOM_MAX_BYTES_DEFAULT,
  DELEGATED_ROLES_MAX,
  DELEGATION_KEYIDS_MAX,
  DELEGATION_PATHS_MAX,
  EXPIRATION_DAYS_MAX,
  EXPIRATION_DAYS_MIN,
  KEYS_MAX,
  SIGNATURE_MAX_HEX,
  PATH_HASH_PREFIX_MAX_LENGTH,
  ROLE_NAME_MAX_LENGTH,
  TARGET_PATH_MAX_LENGTH,
  checkCount,
  checkCustomShape,
  checkExpirationDays,
  checkLength,
  clientLimitViolation,
} from "../tuf/limits.ts";
import {
  checkHashes,
  checkTargetPath,
  parseRoot,
  type DelegatedRole,
  type Metadata,
  type RootSigned,
  type TargetFile,
} from "../tuf/metadata.ts";
import { PublicKey, type KeyJSON } from "../tuf/keys.ts";
import { bitLengthForBins } from "../tuf/bins.ts";
import { ValidationError } from "./errors.ts";
import {
  EXPIRING_ROLES,
  ROLE_NAME,
  TOP_LEVEL_ROLES,
  isBinLikeName,
  isTopLevelRole,
  ONLINE_TOP_LEVEL_ROLES,
  onlineRoleProblem,
  type ExpiringRole,
} from "../tuf/roles.ts";
import { EXPIRE_POLICY } from "../tuf/rstuf.ts";
import { dropNull, dropNullSignatureBundles, OPTIONAL_KEY_FIELDS } from "./optional-fields.ts";

type Loc = (string | number)[];

function fail(loc: Loc, msg: string, type = "value_error"): never {
  throw ValidationError.at(loc, msg, type);
}

export function asObject(v: unknown, loc: Loc, allowed?: readonly string[]): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    fail(loc, "Input should be a valid dictionary", "dict_type");
  if (allowed) {
    for (const k of Object.keys(v))
      if (!allowed.includes(k))
        fail([...loc, k], `Extra inputs are not permitted (allowed: ${allowed.join(", ")})`, "extra_forbidden");
  }
  return v as Record<string, unknown>;
}

function required(obj: Record<string, unknown>, key: string, loc: Loc): unknown {
  if (!Object.hasOwn(obj, key) || obj[key] === undefined) fail([...loc, key], "Field required", "missing");
  return obj[key];
}

export function asBool(v: unknown, loc: Loc, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") fail(loc, "Input should be a valid boolean", "bool_type");
  return v;
}

export function asPositiveInt(v: unknown, loc: Loc): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(loc, "Input should be a valid integer", "int_type");
  if (v <= 0) fail(loc, "Input should be greater than 0", "greater_than");
  return v;
}

/** Expiration in days: 1..36,500 and a resulting date before the year 10000 (tuf/limits.ts). */
export function asExpirationDays(v: unknown, loc: Loc): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(loc, "Input should be a valid integer", "int_type");
  if (v < EXPIRATION_DAYS_MIN) fail(loc, "Input should be greater than 0", "greater_than");
  if (v > EXPIRATION_DAYS_MAX)
    fail(loc, `Input should be less than or equal to ${EXPIRATION_DAYS_MAX} (days, 100 years)`, "less_than_equal");
  return tuf(() => checkExpirationDays(v, ""), loc);
}

/**
 * A root document as it would be published: within the client limits for
 * root (size and nesting), checked on arrival so the 422 names it instead of
 * a task failing later.
 */
function checkRootForClients(root: Metadata<RootSigned>, loc: Loc): void {
  const violation = clientLimitViolation("root", serializeEnvelope(canonicalJson(root.signed), root.signatures));
  if (violation) fail(loc, violation);
}

function tuf<T>(fn: () => T, prefix: Loc): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TufError) throw ValidationError.fromTuf(err, prefix);
    throw err;
  }
}

// ------------------------------------------------------------------ bootstrap

/** RSTUF custom delegations: `keyids: []` means "the online key". */
export interface DelegationsInput {
  keys: Record<string, KeyJSON>;
  roles: DelegatedRole[];
}

export interface BootstrapPayload {
  expiration: Record<ExpiringRole, number>;
  /** hash bins (TAP 15), or null when `delegations` is set */
  binsCount: number | null;
  bitLength: number | null;
  delegations: DelegationsInput | null;
  root: Metadata<RootSigned>;
  timeout: number | undefined;
}

const DELEGATED_ROLE_KEYS = [
  "name",
  "terminating",
  "keyids",
  "threshold",
  "paths",
  "path_hash_prefixes",
  EXPIRE_POLICY,
] as const;

/** The RSTUF `delegations` object (bootstrap settings and /api/v1/delegations). */
export function parseDelegations(value: unknown, loc: Loc, opts: { namesOnly?: boolean } = {}): DelegationsInput {
  const d = asObject(value, loc, ["keys", "roles"]);
  const keys: Record<string, KeyJSON> = {};
  if (d.keys !== undefined) {
    const given = asObject(d.keys, [...loc, "keys"]);
    tuf(() => checkCount(Object.keys(given), KEYS_MAX, "", "keys"), [...loc, "keys"]);
    for (const [keyid, value] of Object.entries(given)) {
      const key = dropNull(value, OPTIONAL_KEY_FIELDS);
      if (!/^[0-9a-f]{64}$/.test(keyid)) fail([...loc, "keys", keyid], "keyids are 64 lower-case hex characters");
      tuf(() => PublicKey.fromJSON(key, "", keyid), [...loc, "keys", keyid]);
      keys[keyid] = key as KeyJSON;
    }
  }
  const list = required(d, "roles", loc);
  if (opts.namesOnly && d.keys !== undefined && Object.keys(d.keys as object).length > 0)
    fail([...loc, "keys"], "delete takes role names only");
  if (!Array.isArray(list) || list.length === 0)
    fail([...loc, "roles"], "Input should be a non-empty list", "list_type");
  tuf(() => checkCount(list, DELEGATED_ROLES_MAX, "", "delegated roles"), [...loc, "roles"]);
  const names = new Set<string>();
  const roles = list.map((item, i): DelegatedRole => {
    const rl: Loc = [...loc, "roles", i];
    const r = asObject(dropNull(item, ["path_hash_prefixes"]), rl, opts.namesOnly ? ["name"] : DELEGATED_ROLE_KEYS);
    const name = required(r, "name", rl);
    if (typeof name !== "string" || !ROLE_NAME.test(name)) fail([...rl, "name"], "role names match [A-Za-z0-9_-]+");
    tuf(() => checkLength(name, ROLE_NAME_MAX_LENGTH, "", "role names"), [...rl, "name"]);
    if (isTopLevelRole(name) || isBinLikeName(name)) fail([...rl, "name"], `"${name}" is reserved`);
    if (names.has(name)) fail([...rl, "name"], `duplicate role name ${name}`);
    names.add(name);
    if (opts.namesOnly) return { name, keyids: [], threshold: 1, terminating: false };
    const keyids = r.keyids === undefined ? [] : r.keyids;
    if (!Array.isArray(keyids) || keyids.some((k) => typeof k !== "string"))
      fail([...rl, "keyids"], "Input should be a list of keyids", "list_type");
    tuf(() => checkCount(keyids, DELEGATION_KEYIDS_MAX, "", "keyids per role"), [...rl, "keyids"]);
    (keyids as string[]).forEach((k, j) => {
      if (!Object.hasOwn(keys, k)) fail([...rl, "keyids", j], `keyid ${k} is not in delegations.keys`);
    });
    const threshold = r.threshold === undefined ? 1 : asPositiveInt(r.threshold, [...rl, "threshold"]);
    if (keyids.length > 0 && threshold > keyids.length)
      fail([...rl, "threshold"], `threshold ${threshold} is larger than the number of keys (${keyids.length})`);
    if (keyids.length === 0 && threshold !== 1)
      fail([...rl, "threshold"], "a role signed by the online key has threshold 1");
    const terminating = asBool(r.terminating, [...rl, "terminating"], false);
    const hasPaths = r.paths !== undefined;
    const hasPrefixes = r.path_hash_prefixes !== undefined;
    if (hasPaths === hasPrefixes) fail(rl, "set exactly one of paths or path_hash_prefixes");
    const role: DelegatedRole = { name, terminating, keyids: keyids as string[], threshold };
    const field = hasPaths ? "paths" : "path_hash_prefixes";
    const patterns = r[field];
    if (
      !Array.isArray(patterns) ||
      patterns.length === 0 ||
      patterns.some((p) => typeof p !== "string" || p.length === 0)
    )
      fail([...rl, field], "Input should be a non-empty list of strings", "list_type");
    tuf(() => checkCount(patterns, DELEGATION_PATHS_MAX, "", field), [...rl, field]);
    (patterns as string[]).forEach((p, j) => {
      const max = hasPrefixes ? PATH_HASH_PREFIX_MAX_LENGTH : TARGET_PATH_MAX_LENGTH;
      tuf(() => checkLength(p, max, "", hasPrefixes ? "a path hash prefix" : "a path pattern"), [...rl, field, j]);
    });
    if (hasPrefixes && (patterns as string[]).some((p) => !/^[0-9a-f]+$/.test(p)))
      fail([...rl, field], "path hash prefixes are lower-case hex");
    role[field] = patterns as string[];
    role[EXPIRE_POLICY] =
      r[EXPIRE_POLICY] === undefined ? 1 : asExpirationDays(r[EXPIRE_POLICY], [...rl, EXPIRE_POLICY]);
    tuf(() => assertCanonicalSafe(role, ""), rl);
    return role;
  });
  return { keys, roles };
}

const ROLE_KEYS = [...EXPIRING_ROLES, "delegations"] as const;

export function parseBootstrapPayload(body: unknown): BootstrapPayload {
  const top = asObject(dropNull(body, ["timeout"]), ["body"], ["settings", "metadata", "timeout"]);
  const settings = asObject(required(top, "settings", ["body"]), ["body", "settings"], ["roles"]);
  const roles = asObject(required(settings, "roles", ["body", "settings"]), ["body", "settings", "roles"], ROLE_KEYS);
  const expiration = {} as Record<ExpiringRole, number>;
  for (const name of TOP_LEVEL_ROLES) {
    const loc: Loc = ["body", "settings", "roles", name];
    const role = asObject(required(roles, name, ["body", "settings", "roles"]), loc, ["expiration"]);
    expiration[name] = asExpirationDays(required(role, "expiration", loc), [...loc, "expiration"]);
  }
  const bins = roles.bins ?? null;
  const delegationsValue = roles.delegations ?? null;
  if (bins !== null && delegationsValue !== null)
    fail(["body", "settings", "roles"], "set exactly one of bins or delegations, not both");
  if (bins === null && delegationsValue === null)
    fail(["body", "settings", "roles"], "set exactly one of bins or delegations");
  let binsCount: number | null = null;
  let bitLength: number | null = null;
  let delegations: DelegationsInput | null = null;
  if (bins !== null) {
    const binsLoc: Loc = ["body", "settings", "roles", "bins"];
    const binsObj = asObject(bins, binsLoc, ["expiration", "number_of_delegated_bins"]);
    expiration.bins = asExpirationDays(required(binsObj, "expiration", binsLoc), [...binsLoc, "expiration"]);
    const count = binsObj.number_of_delegated_bins ?? 256;
    bitLength = tuf(() => bitLengthForBins(count), binsLoc);
    binsCount = count as number;
  } else {
    delegations = parseDelegations(delegationsValue, ["body", "settings", "roles", "delegations"]);
    expiration.bins = 1;
  }

  const metadata = asObject(required(top, "metadata", ["body"]), ["body", "metadata"], ["root"]);
  const root = tuf(() => parseRoot(required(metadata, "root", ["body", "metadata"]), "root"), ["body", "metadata"]);
  checkRootForClients(root, ["body", "metadata", "root"]);
  const signed = root.signed;
  if (signed.version !== 1)
    fail(["body", "metadata", "root", "signed", "version"], "the bootstrap root must be version 1");
  // RSTUF: one online key signs targets, snapshot, timestamp (and the bins).
  const online = signed.roles.timestamp;
  // Timestamp first: its key is the online key the other two are compared with.
  for (const name of ONLINE_TOP_LEVEL_ROLES.toReversed()) {
    const loc: Loc = ["body", "metadata", "root", "signed", "roles", name];
    const problem = onlineRoleProblem(signed, name);
    if (problem === "keys") fail(loc, "online roles must have exactly one key (the online key) and threshold 1");
    if (problem === "shared") fail([...loc, "keyids"], "targets, snapshot and timestamp must use the same online key");
  }
  if (signed.roles.root.keyids.includes(online.keyids[0]!))
    fail(["body", "metadata", "root", "signed", "roles", "root", "keyids"], "the online key must not be a root key");
  let timeout: number | undefined;
  if (top.timeout !== undefined) timeout = asPositiveInt(top.timeout, ["body", "timeout"]);
  if (delegations) {
    const onlineId = online.keyids[0]!;
    for (const keyid of Object.keys(delegations.keys)) {
      if (keyid === onlineId) continue;
      if (signed.roles.root.keyids.includes(keyid))
        fail(
          ["body", "settings", "roles", "delegations", "keys", keyid],
          "a delegated role key must not be a root key",
        );
    }
  }
  return { expiration, binsCount, bitLength, delegations, root, timeout };
}

// ------------------------------------------------------------------ artifacts

export interface ArtifactAddition {
  path: string;
  info: TargetFile;
}

export interface AddArtifactsPayload {
  artifacts: ArtifactAddition[];
  addTaskIdToCustom: boolean;
  publish: boolean;
}

export function parseAddArtifacts(
  body: unknown,
  maxArtifacts: number,
  maxCustomBytes: number = CUSTOM_MAX_BYTES_DEFAULT,
): AddArtifactsPayload {
  const top = asObject(body, ["body"], ["artifacts", "add_task_id_to_custom", "publish_artifacts"]);
  const list = required(top, "artifacts", ["body"]);
  if (!Array.isArray(list)) fail(["body", "artifacts"], "Input should be a valid list", "list_type");
  if (list.length === 0) fail(["body", "artifacts"], "List should have at least 1 item", "too_short");
  if (list.length > maxArtifacts)
    fail(
      ["body", "artifacts"],
      `at most ${maxArtifacts} artifacts per request (got ${list.length}); split the request`,
      "too_long",
    );
  const seen = new Set<string>();
  const artifacts = list.map((item, i): ArtifactAddition => {
    const loc: Loc = ["body", "artifacts", i];
    const a = asObject(item, loc, ["path", "info"]);
    const path = tuf(() => checkTargetPath(required(a, "path", loc), "path"), loc);
    if (seen.has(path)) fail([...loc, "path"], `duplicate path ${JSON.stringify(path)} in one request`);
    seen.add(path);
    const info = asObject(
      dropNull(required(a, "info", loc), ["custom"]),
      [...loc, "info"],
      ["length", "hashes", "custom"],
    );
    const length = required(info, "length", [...loc, "info"]);
    if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0)
      fail([...loc, "info", "length"], "Input should be a non-negative integer", "int_type");
    tuf(() => checkHashes(required(info, "hashes", [...loc, "info"]), "hashes"), [...loc, "info"]);
    if (info.custom !== undefined) {
      asObject(info.custom, [...loc, "info", "custom"]);
      tuf(() => assertCanonicalSafe(info.custom, "custom"), [...loc, "info"]);
      tuf(
        () =>
          checkCustomShape(info.custom, "custom", () => Buffer.byteLength(canonicalJson(info.custom)), maxCustomBytes),
        [...loc, "info"],
      );
    }
    return { path, info: info as unknown as TargetFile };
  });
  return {
    artifacts,
    addTaskIdToCustom: asBool(top.add_task_id_to_custom, ["body", "add_task_id_to_custom"], false),
    publish: asBool(top.publish_artifacts, ["body", "publish_artifacts"], true),
  };
}

export interface RemoveArtifactsPayload {
  paths: string[];
  publish: boolean;
}

export function parseRemoveArtifacts(body: unknown, maxArtifacts: number): RemoveArtifactsPayload {
  const top = asObject(body, ["body"], ["artifacts", "publish_artifacts"]);
  const list = required(top, "artifacts", ["body"]);
  if (!Array.isArray(list)) fail(["body", "artifacts"], "Input should be a valid list", "list_type");
  if (list.length === 0) fail(["body", "artifacts"], "List should have at least 1 item", "too_short");
  if (list.length > maxArtifacts)
    fail(
      ["body", "artifacts"],
      `at most ${maxArtifacts} artifacts per request (got ${list.length}); split the request`,
      "too_long",
    );
  const paths = [...new Set(list.map((p, i) => tuf(() => checkTargetPath(p, ""), ["body", "artifacts", i])))];
  return { paths, publish: asBool(top.publish_artifacts, ["body", "publish_artifacts"], true) };
}

// ------------------------------------------------------------------ metadata

export function parseRootUpdate(body: unknown): Metadata<RootSigned> {
  const top = asObject(body, ["body"], ["metadata"]);
  const metadata = asObject(required(top, "metadata", ["body"]), ["body", "metadata"], ["root"]);
  const given = dropNullSignatureBundles(required(metadata, "root", ["body", "metadata"]));
  const root = tuf(() => parseRoot(given, "root"), ["body", "metadata"]);
  checkRootForClients(root, ["body", "metadata", "root"]);
  return root;
}

export interface SignPayload {
  role: string;
  signature: { keyid: string; sig: string };
}

function roleName(v: unknown, loc: Loc): string {
  if (typeof v !== "string" || v.length === 0) fail(loc, "Input should be a valid string", "string_type");
  if (!ROLE_NAME.test(v)) fail(loc, "role names use letters, digits, '_' and '-'");
  tuf(() => checkLength(v, ROLE_NAME_MAX_LENGTH, "", "role names"), loc);
  return v;
}

export function parseSign(body: unknown): SignPayload {
  const top = asObject(body, ["body"], ["role", "signature"]);
  const role = roleName(required(top, "role", ["body"]), ["body", "role"]);
  const sig = asObject(
    dropNull(required(top, "signature", ["body"]), ["bundle"]),
    ["body", "signature"],
    ["keyid", "sig"],
  );
  const keyid = required(sig, "keyid", ["body", "signature"]);
  if (typeof keyid !== "string" || !/^[0-9a-f]{64}$/.test(keyid))
    fail(["body", "signature", "keyid"], "expected 64 lower-case hex characters");
  const value = required(sig, "sig", ["body", "signature"]);
  if (typeof value !== "string" || !/^[0-9a-f]+$/.test(value))
    fail(["body", "signature", "sig"], "expected a lower-case hex signature");
  if (value.length > SIGNATURE_MAX_HEX)
    fail(["body", "signature", "sig"], `a signature is at most ${SIGNATURE_MAX_HEX} hex characters`);
  return { role, signature: { keyid, sig: value } };
}

export function parseSignDelete(body: unknown): string {
  const top = asObject(body, ["body"], ["role"]);
  return roleName(required(top, "role", ["body"]), ["body", "role"]);
}

export function parseBump(body: unknown): string[] {
  const top = asObject(body ?? {}, ["body"], ["roles"]);
  if (top.roles === undefined) return [];
  if (!Array.isArray(top.roles)) fail(["body", "roles"], "Input should be a valid list", "list_type");
  tuf(() => checkCount(top.roles as unknown[], DELEGATED_ROLES_MAX + 5, "", "roles"), ["body", "roles"]);
  return [...new Set(top.roles.map((r, i) => roleName(r, ["body", "roles", i])))];
}

export function parseSettingsUpdate(body: unknown): Record<string, number> {
  const top = asObject(body, ["body"], ["settings"]);
  const settings = asObject(required(top, "settings", ["body"]), ["body", "settings"], ["expiration"]);
  const exp = asObject(required(settings, "expiration", ["body", "settings"]), ["body", "settings", "expiration"]);
  // Only a handful of roles have an expiration; the names come back in the
  // task result (invalid_roles), so they are bounded like role names.
  tuf(() => checkCount(Object.keys(exp), 16, "", "roles"), ["body", "settings", "expiration"]);
  // No prototype: "__proto__" is a (wrong) role name here, not a way to reach Object.prototype.
  const out: Record<string, number> = Object.create(null);
  for (const [role, days] of Object.entries(exp)) {
    const loc: Loc = ["body", "settings", "expiration", role];
    tuf(() => checkLength(role, ROLE_NAME_MAX_LENGTH, "", "role names"), loc);
    out[role] = asExpirationDays(days, loc);
  }
  if (Object.keys(out).length === 0) fail(["body", "settings", "expiration"], "name at least one role");
  return out;
}
