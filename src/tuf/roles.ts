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
 */
import type { RootSigned } from "./metadata.ts";

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

/** A delegated role signed by the online key alone (not through a signing session). */
export function isSignedByOnlineKey(
  role: { keyids: readonly string[] },
  onlineKey: string | null | undefined,
): boolean {
  return role.keyids.length === 1 && role.keyids[0] === onlineKey;
}

/**
 * What is wrong with one online top-level role of `root`, if anything:
 * "keys" = not exactly one key with threshold 1; "shared" = not the same key
 * as the timestamp role. Callers report it in their own words and order.
 */
export function onlineRoleProblem(root: Pick<RootSigned, "roles">, role: OnlineTopLevelRole): "keys" | "shared" | null {
  const r = root.roles[role];
  if (r.keyids.length !== 1 || r.threshold !== 1) return "keys";
  if (r.keyids[0] !== onlineKeyId(root)) return "shared";
  return null;
}
