/**
 * Hash bins inside custom delegations, as the engine sees them
 * (tuf/delegated-bins.ts has the rules): which targets roles exist besides
 * the top-level bins and the delegated roles, where an artifact of a role
 * with bins goes, what the role's own document delegates, how long a bin is
 * valid, and whether a delegation change may add, keep or drop bins.
 */
import type { DelegatedRole, Delegations } from "../tuf/metadata.ts";
import {
  NUM_BINS,
  nestedBinParent,
  nestedBinsOf,
  nestedBinsProblem,
  nestedDelegations,
} from "../tuf/delegated-bins.ts";
import { delegationOnlineKeyId } from "../tuf/roles.ts";
import type { PublishedState } from "./state.ts";

function delegatedRoles(st: PublishedState): readonly DelegatedRole[] {
  return st.targets.delegations?.roles ?? [];
}

/** The delegated role a nested bin belongs to, or undefined when `role` is not a nested bin. */
export function nestedBinRole(st: PublishedState, role: string): DelegatedRole | undefined {
  if (st.bins) return undefined;
  return nestedBinParent(delegatedRoles(st), role)?.role;
}

/** The role an artifact of delegated role `role` is kept in: its bin when it has bins, else itself. */
export function placeInRole(role: DelegatedRole, path: string): string {
  return nestedBinsOf(role)?.binForPath(path) ?? role.name;
}

/** Every bin of delegated role `name` (none when it has no bins or is not a delegated role). */
export function nestedBinNames(st: PublishedState, name: string): string[] {
  const role = delegatedRoles(st).find((r) => r.name === name);
  return role ? (nestedBinsOf(role)?.names() ?? []) : [];
}

/** `delegations` of delegated role `name`'s own document: its bins (TAP 15), or undefined. */
export function nestedDelegationsOf(st: PublishedState, name: string): Delegations | undefined {
  const role = delegatedRoles(st).find((r) => r.name === name);
  const bins = role ? nestedBinsOf(role) : null;
  if (!bins) return undefined;
  // The delegations' online key (the targets role's: tuf/roles.ts), as every online delegation without a key of its own.
  const id = delegationOnlineKeyId(st.root.signed)!;
  return nestedDelegations(bins, id, st.root.signed.keys[id]!);
}

/**
 * Why the delegated roles of a change cannot have the bins they ask for, or
 * null. `before` is the role as published (update): changing a role's number
 * of bins would move its artifacts between bins, which is not done here (the
 * role keeps its count; delete it and add a new one to start over).
 */
export function nestedBinsChangeProblem(
  st: PublishedState,
  roles: readonly DelegatedRole[],
  changed: readonly DelegatedRole[],
): { role: string; reason: string } | null {
  const current = new Map(delegatedRoles(st).map((r) => [r.name, r]));
  for (const r of changed) {
    const before = current.get(r.name);
    if (!before) {
      // A new role's bins must not reuse a name published before (a deleted role's old files).
      const used = nestedBinsOf(r)
        ?.names()
        .find((n) => st.heads.has(n));
      if (used) return { role: r.name, reason: `bin name ${used} was published before and cannot be reused` };
      continue;
    }
    const was = nestedBinsOf(before)?.count ?? null;
    const now = nestedBinsOf(r)?.count ?? null;
    if (was !== now)
      return {
        role: r.name,
        reason: `${NUM_BINS} cannot change on an existing role (${was ?? "none"} → ${now ?? "none"}); its artifacts would have to move between bins`,
      };
  }
  return nestedBinsProblem(roles, delegationOnlineKeyId(st.root.signed)!);
}
