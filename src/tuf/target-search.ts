/**
 * Which targets role a client takes a target's length and hashes from: the
 * pre-order depth-first search of spec 5.6.7, starting at the top-level
 * targets role. Follows python-tuf ngclient (`_preorder_depth_first_walk`)
 * where the specification leaves choices:
 * - at most `MAX_DELEGATIONS` (32, ngclient's `max_delegations`) roles are
 *   visited per search;
 * - a role already visited is skipped (cycles);
 * - a terminating delegation that matches ends the backtracking;
 * - succinct hash bins (TAP 15) count as terminating.
 */
import { SuccinctBins } from "./bins.ts";
import { roleMatchesPath } from "./delegation.ts";
import type { Delegations, TargetFile, TargetsSigned } from "./metadata.ts";

export const MAX_DELEGATIONS = 32;

/** The roles `delegations` hands `path` to, in order, each with whether it is terminating. */
export function rolesForPath(delegations: Delegations, path: string): { name: string; terminating: boolean }[] {
  if (delegations.roles) {
    return delegations.roles
      .filter((r) => roleMatchesPath(r, path))
      .map((r) => ({ name: r.name, terminating: r.terminating }));
  }
  const s = delegations.succinct_roles;
  if (s) return [{ name: new SuccinctBins(s.bit_length, s.name_prefix).binForPath(path), terminating: true }];
  return [];
}

export interface FoundTarget {
  role: string;
  file: TargetFile;
}

/**
 * Searches for `path`. `load(role, delegator)` returns the trusted `signed`
 * of a targets role, or undefined when it cannot be had (the search then
 * ends without a result, 5.6.7: "If any metadata … cannot be downloaded nor
 * validated, end the search and report that the target cannot be found").
 */
export async function searchTarget(
  path: string,
  load: (role: string, delegator: string) => TargetsSigned | undefined | Promise<TargetsSigned | undefined>,
  maxDelegations = MAX_DELEGATIONS,
): Promise<FoundTarget | undefined> {
  let stack: { role: string; delegator: string }[] = [{ role: "targets", delegator: "root" }];
  const visited = new Set<string>();
  while (stack.length > 0 && visited.size <= maxDelegations) {
    const { role, delegator } = stack.pop()!;
    if (visited.has(role)) continue;
    const signed = await load(role, delegator);
    if (!signed) return undefined;
    const file = Object.hasOwn(signed.targets, path) ? signed.targets[path] : undefined;
    if (file) return { role, file };
    visited.add(role);
    if (!signed.delegations) continue;
    const children: { role: string; delegator: string }[] = [];
    for (const child of rolesForPath(signed.delegations, path)) {
      children.push({ role: child.name, delegator: role });
      if (child.terminating) {
        stack = [];
        break;
      }
    }
    stack.push(...children.reverse());
  }
  return undefined;
}
