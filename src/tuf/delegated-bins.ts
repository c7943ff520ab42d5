/**
 * Hash bins inside a custom delegation (TAP 15 one level down; RSTUF issue
 * #876): a delegated role such as `pypi` (paths `pypi/*`) whose own document
 * delegates, with `succinct_roles`, to bins named `pypi-bins-<hex>`; its
 * artifacts live in those bins, placed by the first bits of sha256(path).
 *
 * The shape follows RSTUF's draft for #876: the number of bins is the
 * delegated role's `x-rstuf-num-bins` field (repository-service-tuf-api PR
 * #860, CLI PR #901) and the bins' name prefix is `<role>-bins` (worker PR
 * #810, `NESTED_BINS_NAME_SUFFIX`). The field travels in top-level targets
 * with the role, so every replica and every restart derives the same bins from
 * the published targets alone. As in those PRs, the role and its bins are
 * signed by the online key: the service itself must write every bin.
 *
 * Pure: no I/O.
 */
import { MAX_BINS, SuccinctBins, bitLengthForBins } from "./bins.ts";
import { TufError } from "./errors.ts";
import type { KeyJSON } from "./keys.ts";
import type { DelegatedRole, Delegations } from "./metadata.ts";
import { ROLE_NAME_MAX_LENGTH } from "./limits.ts";

/** On a delegated role: the number of hash bins its own document delegates to (RSTUF API PR #860). */
export const NUM_BINS = "x-rstuf-num-bins";

/** `<role>-bins`: the bins' name prefix (RSTUF worker PR #810). */
export function nestedBinsPrefix(role: string): string {
  return `${role}-bins`;
}

const cache = new WeakMap<object, SuccinctBins | null>();

/** The bins a delegated role spreads its targets over, or null when it keeps them itself. */
export function nestedBinsOf(role: DelegatedRole): SuccinctBins | null {
  let bins = cache.get(role);
  if (bins !== undefined) return bins;
  const count = role[NUM_BINS];
  bins =
    typeof count === "number" ? new SuccinctBins(bitLengthForBins(count, NUM_BINS), nestedBinsPrefix(role.name)) : null;
  cache.set(role, bins);
  return bins;
}

/** The delegated role (of `roles`) whose bins include `name`, with those bins; undefined for any other name. */
export function nestedBinParent(
  roles: readonly DelegatedRole[],
  name: string,
): { role: DelegatedRole; bins: SuccinctBins } | undefined {
  const at = name.lastIndexOf("-bins-");
  if (at <= 0) return undefined;
  const parent = name.slice(0, at);
  const role = roles.find((r) => r.name === parent);
  const bins = role ? nestedBinsOf(role) : null;
  return role && bins?.isBin(name) ? { role, bins } : undefined;
}

/**
 * The `delegations` of a role's own document when it has bins: TAP 15
 * succinct_roles signed by the online key, threshold 1.
 */
export function nestedDelegations(bins: SuccinctBins, onlineKeyId: string, onlineKey: KeyJSON): Delegations {
  return {
    keys: { [onlineKeyId]: onlineKey },
    succinct_roles: {
      bit_length: bins.bitLength,
      name_prefix: bins.prefix,
      keyids: [onlineKeyId],
      threshold: 1,
    },
  };
}

/**
 * Why a set of delegated roles cannot carry the bins they ask for, or null:
 * a role with bins must be signed by the online key (`onlineKeyId`, or `[]`
 * = the online key in RSTUF payloads); its bin names must fit a role name;
 * no other role (nor a name deleted before: its old versions are still in
 * clients' snapshots) may be called like one of its bins; and all nested bins
 * together stay within the 16384 a repository's snapshot is sized for.
 */
export function nestedBinsProblem(
  roles: readonly DelegatedRole[],
  onlineKeyId: string | null,
  otherNames: readonly string[] = [],
): { role: string; reason: string } | null {
  let total = 0;
  const names = [...roles.map((r) => r.name), ...otherNames];
  for (const role of roles) {
    let bins: SuccinctBins | null;
    try {
      bins = nestedBinsOf(role);
    } catch (err) {
      if (err instanceof TufError) return { role: role.name, reason: err.message };
      throw err;
    }
    if (!bins) continue;
    const online = role.keyids.length === 0 || (role.keyids.length === 1 && role.keyids[0] === onlineKeyId);
    if (!online)
      return {
        role: role.name,
        reason: `${NUM_BINS} needs a role signed by the online key (keyids []): the service writes every bin`,
      };
    const longest = bins.nameOf(bins.count - 1);
    if (longest.length > ROLE_NAME_MAX_LENGTH)
      return {
        role: role.name,
        reason: `bin names such as ${longest} would be longer than ${ROLE_NAME_MAX_LENGTH} characters: use a shorter role name`,
      };
    const clash = names.find((n) => bins.isBin(n));
    if (clash !== undefined)
      return { role: role.name, reason: `role name ${clash} is one of ${role.name}'s bin names` };
    total += bins.count;
  }
  if (total > MAX_BINS)
    return {
      role: roles.find((r) => nestedBinsOf(r))?.name ?? "",
      reason: `delegated roles would have ${total} bins together; at most ${MAX_BINS}`,
    };
  return null;
}
