/**
 * TUF metadata documents (spec 4.*) as plain JSON objects plus validating
 * parsers. Parsers check types and invariants and return the *same* object
 * (typed), so unknown fields survive and a document round-trips byte for byte.
 */
import { assertCanonicalSafe } from "./canonical.ts";
import { TufError, joinField } from "./errors.ts";
import { parseExpires } from "./dates.ts";
import { PublicKey, type KeyJSON } from "./keys.ts";
import { TOP_LEVEL_ROLES, isTopLevelRole, type TopLevelRole } from "./roles.ts";
import {
  HASHES_MAX,
  HASH_NAME_MAX_LENGTH,
  KEYS_MAX,
  SIGNATURES_MAX,
  SIGNATURE_MAX_HEX,
  TARGET_PATH_MAX_LENGTH,
  TARGET_PATH_MAX_SEGMENTS,
  checkCount,
  checkHashValue,
} from "./limits.ts";

export const SPEC_VERSION = "1.0.31";

type Extra = { [extra: string]: unknown };

export interface Signature extends Extra {
  keyid: string;
  sig: string;
}

export interface Metadata<T extends SignedBase = SignedBase> extends Extra {
  signed: T;
  signatures: Signature[];
}

export interface SignedBase extends Extra {
  _type: string;
  spec_version: string;
  version: number;
  expires: string;
}

export interface RoleKeys extends Extra {
  keyids: string[];
  threshold: number;
}

export interface RootSigned extends SignedBase {
  _type: "root";
  consistent_snapshot: boolean;
  keys: Record<string, KeyJSON>;
  roles: Record<TopLevelRole, RoleKeys>;
}

export interface MetaFile extends Extra {
  version: number;
  length?: number;
  hashes?: Record<string, string>;
}

export interface TimestampSigned extends SignedBase {
  _type: "timestamp";
  meta: { "snapshot.json": MetaFile };
}

export interface SnapshotSigned extends SignedBase {
  _type: "snapshot";
  meta: Record<string, MetaFile>;
}

export interface TargetFile extends Extra {
  length: number;
  hashes: Record<string, string>;
  custom?: Record<string, unknown>;
}

export interface DelegatedRole extends RoleKeys {
  name: string;
  terminating: boolean;
  paths?: string[];
  path_hash_prefixes?: string[];
}

/** TAP 15 */
export interface SuccinctRoles extends RoleKeys {
  bit_length: number;
  name_prefix: string;
}

export interface Delegations extends Extra {
  keys: Record<string, KeyJSON>;
  roles?: DelegatedRole[];
  succinct_roles?: SuccinctRoles;
}

export interface TargetsSigned extends SignedBase {
  _type: "targets";
  targets: Record<string, TargetFile>;
  delegations?: Delegations;
}

// ---------------------------------------------------------------- checks

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function expectObject(v: unknown, field: string): Record<string, unknown> {
  if (!isObject(v)) throw new TufError(field, "expected an object");
  return v;
}

function expectString(v: unknown, field: string): string {
  if (typeof v !== "string") throw new TufError(field, "expected a string");
  return v;
}

function expectInt(v: unknown, field: string, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new TufError(field, "expected an integer");
  if (v < min) throw new TufError(field, `must be at least ${min}`);
  return v;
}

function expectBool(v: unknown, field: string): boolean {
  if (typeof v !== "boolean") throw new TufError(field, "expected true or false");
  return v;
}

function expectStringArray(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new TufError(field, "expected an array of strings");
  v.forEach((s, i) => expectString(s, joinField(field, i)));
  return v as string[];
}

export function checkHashes(v: unknown, field: string): Record<string, string> {
  const hashes = expectObject(v, field);
  const names = Object.keys(hashes);
  if (names.length === 0) throw new TufError(field, "at least one hash is required");
  checkCount(names, HASHES_MAX, field, "hashes per file");
  for (const name of names) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || name.length > HASH_NAME_MAX_LENGTH)
      throw new TufError(
        joinField(field, name),
        `hash algorithm names are lower-case, at most ${HASH_NAME_MAX_LENGTH} characters (e.g. sha256, blake2b-256)`,
      );
    checkHashValue(name, hashes[name], joinField(field, name));
  }
  return hashes as Record<string, string>;
}

function checkSignedBase(signed: Record<string, unknown>, type: string, field: string): void {
  if (signed._type !== type)
    throw new TufError(joinField(field, "_type"), `expected "${type}", got ${JSON.stringify(signed._type)}`);
  const spec = expectString(signed.spec_version, joinField(field, "spec_version"));
  if (!/^1\.\d+(\.\d+)?$/.test(spec))
    throw new TufError(joinField(field, "spec_version"), `unsupported spec version "${spec}" (1.x supported)`);
  expectInt(signed.version, joinField(field, "version"), 1);
  parseExpires(signed.expires, joinField(field, "expires"));
}

function checkRoleKeys(v: unknown, field: string, keys?: Record<string, unknown>): RoleKeys {
  const role = expectObject(v, field);
  const keyids = expectStringArray(role.keyids, joinField(field, "keyids"));
  if (new Set(keyids).size !== keyids.length) throw new TufError(joinField(field, "keyids"), "duplicate keyids");
  const threshold = expectInt(role.threshold, joinField(field, "threshold"), 1);
  if (keys) {
    keyids.forEach((id, i) => {
      if (!Object.hasOwn(keys, id))
        throw new TufError(joinField(joinField(field, "keyids"), i), `keyid ${id} is not in keys`);
    });
    if (threshold > keyids.length)
      throw new TufError(
        joinField(field, "threshold"),
        `threshold ${threshold} is larger than the number of keys (${keyids.length})`,
      );
  }
  return role as RoleKeys;
}

function checkKeys(v: unknown, field: string): Record<string, KeyJSON> {
  const keys = expectObject(v, field);
  checkCount(Object.keys(keys), KEYS_MAX, field, "keys");
  for (const [keyid, key] of Object.entries(keys)) {
    if (!/^[0-9a-f]{64}$/.test(keyid))
      throw new TufError(joinField(field, keyid), "keyids are 64 lower-case hex characters");
    PublicKey.fromJSON(key, joinField(field, keyid), keyid);
  }
  return keys as Record<string, KeyJSON>;
}

export function checkSignatures(v: unknown, field: string): Signature[] {
  if (!Array.isArray(v)) throw new TufError(field, "expected an array of signatures");
  checkCount(v, SIGNATURES_MAX, field, "signatures");
  const seen = new Set<string>();
  v.forEach((s, i) => {
    const f = joinField(field, i);
    const sig = expectObject(s, f);
    const keyid = expectString(sig.keyid, joinField(f, "keyid"));
    const value = expectString(sig.sig, joinField(f, "sig"));
    if (!/^[0-9a-f]*$/.test(value)) throw new TufError(joinField(f, "sig"), "expected lower-case hex");
    if (value.length > SIGNATURE_MAX_HEX)
      throw new TufError(joinField(f, "sig"), `a signature is at most ${SIGNATURE_MAX_HEX} hex characters`);
    // Spec 5.3.x: a keyid counts once; duplicates would let one key meet a threshold twice.
    if (seen.has(keyid)) throw new TufError(joinField(f, "keyid"), `duplicate signature by ${keyid}`);
    seen.add(keyid);
  });
  return v as Signature[];
}

// ---------------------------------------------------------------- parsers

function parseEnvelope(
  value: unknown,
  field: string,
): { meta: Record<string, unknown>; signed: Record<string, unknown> } {
  const meta = expectObject(value, field);
  assertCanonicalSafe(meta, field);
  const signed = expectObject(meta.signed, joinField(field, "signed"));
  checkSignatures(meta.signatures, joinField(field, "signatures"));
  return { meta, signed };
}

export function parseRoot(value: unknown, field = "root"): Metadata<RootSigned> {
  const { meta, signed } = parseEnvelope(value, field);
  const sf = joinField(field, "signed");
  checkSignedBase(signed, "root", sf);
  expectBool(signed.consistent_snapshot, joinField(sf, "consistent_snapshot"));
  const keys = checkKeys(signed.keys, joinField(sf, "keys"));
  const roles = expectObject(signed.roles, joinField(sf, "roles"));
  for (const name of TOP_LEVEL_ROLES) {
    if (!Object.hasOwn(roles, name))
      throw new TufError(joinField(joinField(sf, "roles"), name), "missing top-level role");
    checkRoleKeys(roles[name], joinField(joinField(sf, "roles"), name), keys);
  }
  for (const name of Object.keys(roles)) {
    if (!isTopLevelRole(name)) throw new TufError(joinField(joinField(sf, "roles"), name), "not a top-level role");
  }
  return meta as unknown as Metadata<RootSigned>;
}

export function checkMetaFile(v: unknown, field: string): MetaFile {
  const m = expectObject(v, field);
  expectInt(m.version, joinField(field, "version"), 1);
  if (m.length !== undefined) expectInt(m.length, joinField(field, "length"), 0);
  if (m.hashes !== undefined) checkHashes(m.hashes, joinField(field, "hashes"));
  return m as MetaFile;
}

export function parseTimestamp(value: unknown, field = "timestamp"): Metadata<TimestampSigned> {
  const { meta, signed } = parseEnvelope(value, field);
  const sf = joinField(field, "signed");
  checkSignedBase(signed, "timestamp", sf);
  const m = expectObject(signed.meta, joinField(sf, "meta"));
  checkMetaFile(m["snapshot.json"], joinField(joinField(sf, "meta"), "snapshot.json"));
  return meta as unknown as Metadata<TimestampSigned>;
}

export function parseSnapshot(value: unknown, field = "snapshot"): Metadata<SnapshotSigned> {
  const { meta, signed } = parseEnvelope(value, field);
  const sf = joinField(field, "signed");
  checkSignedBase(signed, "snapshot", sf);
  const m = expectObject(signed.meta, joinField(sf, "meta"));
  for (const [name, file] of Object.entries(m)) checkMetaFile(file, joinField(joinField(sf, "meta"), name));
  return meta as unknown as Metadata<SnapshotSigned>;
}

export function checkTargetFile(v: unknown, field: string): TargetFile {
  const t = expectObject(v, field);
  expectInt(t.length, joinField(field, "length"), 0);
  checkHashes(t.hashes, joinField(field, "hashes"));
  if (t.custom !== undefined) expectObject(t.custom, joinField(field, "custom"));
  return t as TargetFile;
}

export function checkDelegations(v: unknown, field: string): Delegations {
  const d = expectObject(v, field);
  const keys = checkKeys(d.keys, joinField(field, "keys"));
  const hasRoles = d.roles !== undefined;
  const hasSuccinct = d.succinct_roles !== undefined;
  if (hasRoles === hasSuccinct)
    throw new TufError(field, "exactly one of roles and succinct_roles must be set (TAP 15)");
  if (hasRoles) {
    if (!Array.isArray(d.roles)) throw new TufError(joinField(field, "roles"), "expected an array");
    const names = new Set<string>();
    d.roles.forEach((r, i) => {
      const f = joinField(joinField(field, "roles"), i);
      const role = checkRoleKeys(r, f, keys) as DelegatedRole;
      const name = expectString(role.name, joinField(f, "name"));
      if (isTopLevelRole(name))
        throw new TufError(joinField(f, "name"), "delegated roles cannot use a top-level role name");
      if (names.has(name)) throw new TufError(joinField(f, "name"), `duplicate role name ${name}`);
      names.add(name);
      expectBool(role.terminating, joinField(f, "terminating"));
      const hasPaths = role.paths !== undefined;
      const hasPrefixes = role.path_hash_prefixes !== undefined;
      if (hasPaths && hasPrefixes) throw new TufError(f, "paths and path_hash_prefixes are mutually exclusive");
      if (hasPaths) expectStringArray(role.paths, joinField(f, "paths"));
      if (hasPrefixes) {
        expectStringArray(role.path_hash_prefixes, joinField(f, "path_hash_prefixes")).forEach((p, j) => {
          if (!/^[0-9a-f]+$/.test(p))
            throw new TufError(joinField(joinField(f, "path_hash_prefixes"), j), "expected lower-case hex");
        });
      }
    });
  } else {
    const f = joinField(field, "succinct_roles");
    const s = checkRoleKeys(d.succinct_roles, f, keys) as SuccinctRoles;
    const bits = expectInt(s.bit_length, joinField(f, "bit_length"), 1);
    if (bits > 32) throw new TufError(joinField(f, "bit_length"), "must be between 1 and 32");
    expectString(s.name_prefix, joinField(f, "name_prefix"));
  }
  return d as Delegations;
}

export function parseTargets(value: unknown, field = "targets"): Metadata<TargetsSigned> {
  const { meta, signed } = parseEnvelope(value, field);
  const sf = joinField(field, "signed");
  checkSignedBase(signed, "targets", sf);
  const targets = expectObject(signed.targets, joinField(sf, "targets"));
  for (const [path, file] of Object.entries(targets)) checkTargetFile(file, joinField(joinField(sf, "targets"), path));
  if (signed.delegations !== undefined) checkDelegations(signed.delegations, joinField(sf, "delegations"));
  return meta as unknown as Metadata<TargetsSigned>;
}

/**
 * Target paths are URL-path-like, relative, '/'-separated (spec 4.5
 * TARGETPATH). We reject anything that could escape a directory or that
 * clients would resolve differently.
 */
export function checkTargetPath(path: unknown, field: string): string {
  if (typeof path !== "string") throw new TufError(field, "expected a string");
  if (path.length === 0) throw new TufError(field, "must not be empty");
  if (path.length > TARGET_PATH_MAX_LENGTH)
    throw new TufError(field, `must be at most ${TARGET_PATH_MAX_LENGTH} characters (got ${path.length})`);
  if (path.startsWith("/")) throw new TufError(field, "must be relative (no leading '/')");
  if (path.includes("\\")) throw new TufError(field, "must use '/' as separator (no '\\')");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new TufError(field, "must not contain control characters");
  if (!path.isWellFormed()) throw new TufError(field, "must be valid Unicode");
  const segments = path.split("/");
  if (segments.length > TARGET_PATH_MAX_SEGMENTS)
    throw new TufError(
      field,
      `must have at most ${TARGET_PATH_MAX_SEGMENTS} '/'-separated segments (got ${segments.length})`,
    );
  for (const seg of segments) {
    if (seg === "") throw new TufError(field, "must not contain empty segments ('//' or a trailing '/')");
    if (seg === "." || seg === "..") throw new TufError(field, "must not contain '.' or '..' segments");
  }
  if (/[\ud800-\udfff]/.test(path))
    throw new TufError(field, "characters outside the Basic Multilingual Plane are not supported in target paths");
  return path;
}
