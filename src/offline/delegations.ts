/**
 * Custom delegations for a ceremony, from a YAML file an operator can review,
 * to the RSTUF bootstrap shape `settings.roles.delegations` =
 * `{keys: {keyid: key}, roles: [{name, terminating, keyids, threshold,
 * paths | path_hash_prefixes, "x-rstuf-expire-policy": days}]}`, where empty
 * `keyids` means "signed by the online key" (shared/RSTUF-API.md).
 *
 * File format (key files are relative to the YAML file):
 *
 *   roles:
 *     - name: nightly
 *       paths: ["nightly/*"]
 *       online: true           # signed by the online key
 *       expires: 7             # days; default 1 for online roles
 *     - name: releases
 *       paths: ["releases/*"]
 *       terminating: true      # default false
 *       keys: [release-team.pub]
 *       threshold: 1           # default 1
 *       expires: 30            # default 365 for offline roles
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { assertCanonicalSafe } from "../tuf/canonical.ts";
import { ROLE_NAME, isBinLikeName, isTopLevelRole } from "../tuf/roles.ts";
import { TufError } from "../tuf/errors.ts";
import { OfflineError } from "./errors.ts";
import { readPublicKeyFile, type NamedKey } from "./key-files.ts";
import { sameKeyMaterial, type KeyJSON } from "../tuf/keys.ts";
import { EXPIRE_POLICY } from "../tuf/rstuf.ts";

export interface RstufDelegatedRole {
  name: string;
  terminating: boolean;
  keyids: string[];
  threshold: number;
  paths?: string[];
  path_hash_prefixes?: string[];
  [EXPIRE_POLICY]: number;
}

export interface RstufDelegations {
  keys: Record<string, KeyJSON>;
  roles: RstufDelegatedRole[];
}

export const DEFAULT_ONLINE_ROLE_DAYS = 1;
export const DEFAULT_OFFLINE_ROLE_DAYS = 365;

const ROLE_FIELDS = ["name", "paths", "path_hash_prefixes", "terminating", "online", "keys", "threshold", "expires"];
const HINT = "see 'tufbox ceremony --help' for the delegations file format";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === "string" && s.length > 0)) {
    throw new OfflineError(`${where}: expected a non-empty list of strings`, HINT);
  }
  return v as string[];
}

function positiveInt(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
    throw new OfflineError(`${where}: expected a whole number greater than 0`, HINT);
  return v;
}

/**
 * Build the delegations from parsed YAML. `readKey` resolves a key file named
 * in the YAML (relative paths are the caller's business). `onlineKey` is the
 * ceremony's online key, which must be referenced with `online: true`.
 */
export function delegationsFrom(
  doc: unknown,
  source: string,
  readKey: (path: string) => NamedKey,
  onlineKey?: NamedKey,
): RstufDelegations {
  const list = Array.isArray(doc) ? doc : isObject(doc) ? doc.roles : undefined;
  if (!Array.isArray(list) || list.length === 0)
    throw new OfflineError(`${source}: expected "roles:" with a list of delegated roles`, HINT);
  if (isObject(doc)) {
    for (const k of Object.keys(doc))
      if (k !== "roles") throw new OfflineError(`${source}: unknown top-level field "${k}"`, HINT);
  }
  const keys: Record<string, KeyJSON> = {};
  const names = new Set<string>();
  const roles = list.map((item, i): RstufDelegatedRole => {
    let where = `${source}: roles[${i}]`;
    if (!isObject(item)) throw new OfflineError(`${where}: expected a mapping`, HINT);
    for (const k of Object.keys(item))
      if (!ROLE_FIELDS.includes(k))
        throw new OfflineError(`${where}: unknown field "${k}" (allowed: ${ROLE_FIELDS.join(", ")})`, HINT);
    const name = item.name;
    if (typeof name !== "string" || !ROLE_NAME.test(name))
      throw new OfflineError(`${where}.name: expected a name of letters, digits, '_' and '-'`, HINT);
    where = `${source}: role "${name}"`;
    if (isTopLevelRole(name)) throw new OfflineError(`${where}: a top-level role name cannot be delegated`, HINT);
    // Hash bin names (TAP 15) stay reserved so a repository can move to bins later.
    if (isBinLikeName(name))
      throw new OfflineError(`${where}: names starting with "bins-" are reserved for hash bins`, HINT);
    if (names.has(name)) throw new OfflineError(`${where}: defined twice`, HINT);
    names.add(name);

    const hasPaths = item.paths !== undefined;
    const hasPrefixes = item.path_hash_prefixes !== undefined;
    if (hasPaths === hasPrefixes)
      throw new OfflineError(`${where}: give exactly one of paths or path_hash_prefixes`, HINT);
    const role: Omit<RstufDelegatedRole, typeof EXPIRE_POLICY> = {
      name,
      terminating: false,
      keyids: [],
      threshold: 1,
    };
    if (hasPaths) {
      role.paths = stringList(item.paths, `${where}.paths`);
      // eslint-disable-next-line no-control-regex
      role.paths.forEach((p) => {
        if (/[\u0000-\u001f]/.test(p))
          throw new OfflineError(`${where}.paths: "${p}" contains a control character`, HINT);
      });
    } else {
      role.path_hash_prefixes = stringList(item.path_hash_prefixes, `${where}.path_hash_prefixes`);
      role.path_hash_prefixes.forEach((p) => {
        if (!/^[0-9a-f]+$/.test(p))
          throw new OfflineError(`${where}.path_hash_prefixes: "${p}" is not lower-case hex`, HINT);
      });
    }
    if (item.terminating !== undefined) {
      if (typeof item.terminating !== "boolean")
        throw new OfflineError(`${where}.terminating: expected true or false`, HINT);
      role.terminating = item.terminating;
    }

    const online = item.online === true;
    if (item.online !== undefined && typeof item.online !== "boolean")
      throw new OfflineError(`${where}.online: expected true or false`, HINT);
    if (online === (item.keys !== undefined))
      throw new OfflineError(`${where}: give either "online: true" or "keys: [FILE.pub, …]"`, HINT);
    if (online) {
      if (item.threshold !== undefined && item.threshold !== 1)
        throw new OfflineError(`${where}.threshold: roles signed by the online key have threshold 1`, HINT);
    } else {
      for (const file of stringList(item.keys, `${where}.keys`)) {
        const k = readKey(file);
        if (onlineKey && sameKeyMaterial(k.key, onlineKey.key))
          throw new OfflineError(
            `${where}.keys: ${file} is the online key`,
            'use "online: true" for roles signed by the online key',
          );
        if (role.keyids.includes(k.keyid)) throw new OfflineError(`${where}.keys: ${file} is listed twice`, HINT);
        const known = Object.entries(keys).find(([id, key]) => id !== k.keyid && sameKeyMaterial(key, k.key));
        if (known)
          throw new OfflineError(
            `${where}.keys: ${file} is key ${known[0]} under another keyid`,
            "use the same .pub file for the same key everywhere",
          );
        keys[k.keyid] = k.key;
        role.keyids.push(k.keyid);
      }
      if (item.threshold !== undefined) role.threshold = positiveInt(item.threshold, `${where}.threshold`);
      if (role.threshold > role.keyids.length)
        throw new OfflineError(
          `${where}.threshold: ${role.threshold} is larger than the number of keys (${role.keyids.length})`,
          "lower the threshold or add keys",
        );
    }
    const days =
      item.expires === undefined
        ? online
          ? DEFAULT_ONLINE_ROLE_DAYS
          : DEFAULT_OFFLINE_ROLE_DAYS
        : positiveInt(item.expires, `${where}.expires`);
    // Field order as RSTUF writes it (readability only: signatures cover canonical JSON).
    const { paths, path_hash_prefixes, ...rest } = role;
    return {
      ...rest,
      ...(paths ? { paths } : { path_hash_prefixes: path_hash_prefixes! }),
      [EXPIRE_POLICY]: days,
    };
  });
  const result = { keys, roles };
  try {
    assertCanonicalSafe(result, "delegations");
  } catch (err) {
    if (err instanceof TufError) throw new OfflineError(`${source}: ${err.message}`, HINT);
    throw err;
  }
  return result;
}

export function readDelegationsFile(path: string, onlineKey?: NamedKey): RstufDelegations {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new OfflineError(
      `--delegations ${path}: ${(err as { code?: string }).code === "ENOENT" ? "no such file" : "cannot read it"}`,
      HINT,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new OfflineError(
      `--delegations ${path}: not valid YAML (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`,
      HINT,
    );
  }
  const base = dirname(resolve(path));
  return delegationsFrom(doc, path, (file) => readPublicKeyFile(resolve(base, file)), onlineKey);
}
