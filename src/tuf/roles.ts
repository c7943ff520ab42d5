/**
 * Role names and which roles the online key signs: the one home of these
 * rules (spec 4.4 "roles", 4.5 "delegations"; RSTUF's online-key model).
 *
 * Two lists are easily confused, and once disagreed in this code base:
 * - `ONLINE_TOP_LEVEL_ROLES` are the roles *root* assigns to the online key:
 *   targets, snapshot, timestamp. `root.signed.roles` has only top-level
 *   roles, so this is the list to check a root against.
 * - `ONLINE_ROLES` is what an operator can ask the service to re-sign
 *   (RSTUF's `force_online_metadata_update`, a new online key): the same three
 *   plus `bins`, RSTUF's name for every hash bin at once. Bins are delegated
 *   by targets (TAP 15), not named in root.
 *
 * Online keys per role (issue 17; RSTUF worker #852): RSTUF signs every online
 * role with one key, the timestamp role's. tufbox also accepts a root that
 * names a different key for each of targets, snapshot and timestamp, and
 * delegations (the succinct hash bins, custom roles) with keys of their own.
 * Which key signs which role is read from the metadata itself — root's
 * `roles`, targets' `delegations` — never from a setting that could disagree
 * with it: `onlineKeyFor` is the one place that says so.
 */
import { nestedBinParent } from "./delegated-bins.ts";
import { ONLINE_KEY_URI } from "./rstuf.ts";
import type { KeyJSON } from "./keys.ts";
import type { RootSigned, TargetsSigned } from "./metadata.ts";

export const TOP_LEVEL_ROLES = ["root", "targets", "snapshot", "timestamp"] as const;
export type TopLevelRole = (typeof TOP_LEVEL_ROLES)[number];

/** The roles root gives to the online key (one key, threshold 1, in RSTUF and tufbox). */
export const ONLINE_TOP_LEVEL_ROLES = ["targets", "snapshot", "timestamp"] as const;
export type OnlineTopLevelRole = (typeof ONLINE_TOP_LEVEL_ROLES)[number];

/** RSTUF's name for all hash bins together (settings, expiry, re-sign requests). */
export const BINS = "bins";

/** Roles a re-sign request may name: the online top-level roles and every bin. */
export const ONLINE_ROLES = [...ONLINE_TOP_LEVEL_ROLES, BINS] as const;

/** Roles with an expiry setting (RSTUF `settings.roles.<role>.expiration`, `<role>_expiration`). */
export const EXPIRING_ROLES = [...TOP_LEVEL_ROLES, BINS] as const;
export type ExpiringRole = (typeof EXPIRING_ROLES)[number];

/** Delegated role names tufbox accepts: they become file names (`N.<name>.json`) and URL segments. */
export const ROLE_NAME = /^[A-Za-z0-9_-]+$/;

export function isTopLevelRole(name: string): name is TopLevelRole {
  return (TOP_LEVEL_ROLES as readonly string[]).includes(name);
}

/** A name of the hash-bin family (TAP 15 `bins-<hex>`): reserved, so a repository can move to bins later. */
export function isBinLikeName(name: string): boolean {
  return name.startsWith(`${BINS}-`);
}

/** Roles whose documents are targets metadata: top-level targets, bins and delegated roles. */
export function isTargetsRole(name: string): boolean {
  return name !== "root" && name !== "snapshot" && name !== "timestamp";
}

/**
 * Order in which a publication's documents become visible: root, then every
 * targets role, then snapshot, then timestamp, so no client sees a timestamp
 * that points to a snapshot (or a snapshot to a file) not yet served.
 */
export function publicationRank(role: string): number {
  return role === "root" ? 0 : role === "snapshot" ? 2 : role === "timestamp" ? 3 : 1;
}

/** The online key's keyid: the timestamp role's key (RSTUF uses it for every online role). */
export function onlineKeyId(root: Pick<RootSigned, "roles">): string | undefined {
  return root.roles.timestamp.keyids[0];
}

/** The key root names for one online top-level role (one key, threshold 1). */
export function roleKeyId(root: Pick<RootSigned, "roles">, role: OnlineTopLevelRole): string | undefined {
  return root.roles[role].keyids[0];
}

/**
 * The key a delegated role given without keys (RSTUF's `keyids: []`) and
 * the hash bins get by default: the targets role's. With RSTUF's one online
 * key this is that key; with a key per role, the delegations follow the role
 * that delegates to them unless given a key of their own.
 */
export function delegationOnlineKeyId(root: Pick<RootSigned, "roles">): string | undefined {
  return roleKeyId(root, "targets");
}

/**
 * Every keyid that signs online: root's targets, snapshot and timestamp
 * keys, the succinct bins' key, and any delegation key carrying
 * `x-rstuf-online-key-uri` (where the server finds its private part).
 */
export function onlineKeyIds(
  root: Pick<RootSigned, "roles">,
  targets?: Pick<TargetsSigned, "delegations">,
): Set<string> {
  const ids = new Set<string>();
  for (const r of ONLINE_TOP_LEVEL_ROLES) {
    const id = roleKeyId(root, r);
    if (id) ids.add(id);
  }
  const d = targets?.delegations;
  for (const id of d?.succinct_roles?.keyids ?? []) ids.add(id);
  for (const [id, key] of Object.entries(d?.keys ?? {})) if (isOnlineKeyJSON(key)) ids.add(id);
  return ids;
}

/** A public key that says where the server finds its private part. */
export function isOnlineKeyJSON(key: KeyJSON | undefined): boolean {
  return typeof key?.[ONLINE_KEY_URI] === "string";
}

/**
 * A delegated role signed online by one key alone (not through a signing
 * session): one key, threshold 1, and that key is an online key (`online`:
 * one keyid, or the set onlineKeyIds gives).
 */
export function isSignedByOnlineKey(
  role: { keyids: readonly string[]; threshold?: number },
  online: string | ReadonlySet<string> | null | undefined,
): boolean {
  if (role.keyids.length !== 1 || (role.threshold !== undefined && role.threshold !== 1)) return false;
  const id = role.keyids[0]!;
  return typeof online === "string" ? id === online : online ? online.has(id) : false;
}

/**
 * Which online key signs `role`, from the metadata: root's key for
 * targets/snapshot/timestamp; for a hash bin the succinct delegation's key;
 * for a custom delegated role signed online, its one key. Undefined for
 * roles no online key signs (root, offline delegations). The key's JSON
 * comes from where the delegator lists it (root.keys, delegations.keys).
 */
export function onlineKeyFor(
  root: Pick<RootSigned, "roles" | "keys">,
  targets: Pick<TargetsSigned, "delegations"> | undefined,
  role: string,
): { keyid: string; key: KeyJSON } | undefined {
  if (role === "targets" || role === "snapshot" || role === "timestamp") {
    const keyid = roleKeyId(root, role);
    const key = keyid ? root.keys[keyid] : undefined;
    return keyid && key ? { keyid, key } : undefined;
  }
  const d = targets?.delegations;
  if (!d) return undefined;
  let keyid: string | undefined;
  const succinct = d.succinct_roles;
  if (succinct && role.startsWith(`${succinct.name_prefix}-`)) keyid = succinct.keyids[0];
  else {
    const r = d.roles?.find((x) => x.name === role);
    if (r && isSignedByOnlineKey(r, onlineKeyIds(root, targets))) keyid = r.keyids[0];
    // A custom role's own hash bins (tuf/delegated-bins.ts) use the delegations' online key.
    else if (!r && nestedBinParent(d.roles ?? [], role)) keyid = delegationOnlineKeyId(root);
  }
  // A key shared with a top-level role may be listed only in root.
  const key = keyid ? (d.keys?.[keyid] ?? root.keys[keyid]) : undefined;
  return keyid && key ? { keyid, key } : undefined;
}

/**
 * What is wrong with one online top-level role of `root`, if anything:
 * "keys" = not exactly one key with threshold 1. Each role may have its own
 * online key (or share one, as RSTUF does).
 */
export function onlineRoleProblem(root: Pick<RootSigned, "roles">, role: OnlineTopLevelRole): "keys" | null {
  const r = root.roles[role];
  if (r.keyids.length !== 1 || r.threshold !== 1) return "keys";
  return null;
}
