/**
 * Custom delegations (DESIGN.md "Custom delegations"; RSTUF's
 * POST/PUT /api/v1/delegations and /delegations/delete): named roles with
 * `paths` or `path_hash_prefixes`, signed by the online key or by offline
 * keys (then through a signing session). Each role in a request succeeds or
 * fails on its own (details.failed_roles); a deleted name is never reused,
 * since clients may still hold its old versions.
 */
import type { DelegatedRole, Delegations } from "../tuf/metadata.ts";
import { DELEGATED_ROLES_MAX } from "../tuf/limits.ts";
import { EXPIRE_POLICY } from "../tuf/rstuf.ts";
import { publishLocked, takeBatch } from "./batch.ts";
import type { Engine, TaskOutcomeReport } from "./engine.ts";
import { ConfigurationError, StateError } from "./errors.ts";
import { delegationOnlineKeyId, isSignedByOnlineKey, onlineKeyIds } from "../tuf/roles.ts";
import type { DelegationsInput } from "./payloads.ts";
import type { Sessions } from "./signing-sessions.ts";
import { nestedBinNames, nestedBinsChangeProblem } from "./delegated-bins.ts";
import { nestedBinsOf } from "../tuf/delegated-bins.ts";
import type { PublishedState } from "./state.ts";
import type { AuditActor } from "../store/store.ts";
import { rolesSummary } from "./audit.ts";

/** Store key of every delegated role name ever deleted. */
export const DELETED_ROLES_KEY = "deleted_roles";

/** Days a delegated role's new version is valid (RSTUF's x-rstuf-expire-policy, default 1). */
export function expirePolicy(role: DelegatedRole): number {
  const days = role[EXPIRE_POLICY];
  return typeof days === "number" && days > 0 ? days : 1;
}

/** A change of custom delegations, published by one batch. */
export interface DelegationChange {
  /** the new `delegations` of top-level targets */
  delegations: Delegations;
  /** roles to (re)publish */
  publish: string[];
  /** roles deleted */
  deleted: string[];
}

export async function acceptDelegations(
  e: Engine,
  op: "add" | "update" | "delete",
  input: DelegationsInput,
  actor: AuditActor,
): Promise<{ taskId: string }> {
  const st = e.requireBootstrapped();
  if (st.bins) throw new StateError("this repository uses hash bins; custom delegations cannot be changed");
  const summary = { op, ...rolesSummary(input.roles.map((r) => r.name)) };
  return e.startTask("metadata_delegation", { actor, summary }, () =>
    e.store.withLock("publisher", async (): Promise<TaskOutcomeReport> => {
      const cur = e.state!;
      // RSTUF's `keyids: []`: the targets role's online key (tuf/roles.ts delegationOnlineKeyId).
      const onlineId = delegationOnlineKeyId(cur.root.signed)!;
      const deletedBefore = (await e.store.getSetting<string[]>(DELETED_ROLES_KEY)) ?? [];
      const roles = [...(cur.targets.delegations?.roles ?? [])];
      const keys = { ...(cur.targets.delegations?.keys ?? {}), ...input.keys };
      const done: string[] = [];
      const failed: { role: string; reason: string }[] = [];
      const publish: string[] = [];
      const deleted: string[] = [];
      // A deleted role's own hash bins leave with it (their names are never reused: they were published).
      const deletedBins: string[] = [];
      // Whether the roles, with `role` in them, can have the hash bins they ask for (delegated-bins.ts).
      const binsProblem = (role: DelegatedRole, at: number) => {
        const next = [...roles];
        if (at >= 0) next[at] = role;
        else next.push(role);
        return nestedBinsChangeProblem(cur, next, [role]);
      };
      for (const r of input.roles) {
        const at = roles.findIndex((x) => x.name === r.name);
        const role = r.keyids.length === 0 ? { ...r, keyids: [onlineId], threshold: 1 } : r;
        if (op === "add") {
          if (at >= 0) failed.push({ role: r.name, reason: "role already exists" });
          else if (deletedBefore.includes(r.name))
            failed.push({ role: r.name, reason: "role name was deleted before and cannot be reused" });
          else if (cur.heads.has(r.name))
            failed.push({ role: r.name, reason: "role name was published before and cannot be reused" });
          else {
            const problem = binsProblem(role, at);
            if (problem) failed.push({ role: r.name, reason: problem.reason });
            else {
              roles.push(role);
              publish.push(r.name, ...(nestedBinsOf(role)?.names() ?? []));
              done.push(r.name);
            }
          }
        } else if (at < 0) {
          failed.push({ role: r.name, reason: "role does not exist" });
        } else if (op === "update") {
          const problem = binsProblem(role, at);
          if (problem) failed.push({ role: r.name, reason: problem.reason });
          else {
            roles[at] = role;
            publish.push(r.name);
            done.push(r.name);
          }
        } else {
          roles.splice(at, 1);
          deleted.push(r.name);
          deletedBins.push(...nestedBinNames(cur, r.name));
          done.push(r.name);
        }
      }
      if (done.length === 0)
        return {
          ok: false,
          message: "Metadata Delegation Failed",
          details: { delegated_roles: [], failed_roles: failed },
        };
      if (roles.length > DELEGATED_ROLES_MAX)
        return {
          ok: false,
          message: "Metadata Delegation Failed",
          details: {
            delegated_roles: [],
            failed_roles: done.map((role) => ({
              role,
              reason: `a repository has at most ${DELEGATED_ROLES_MAX} delegated roles (this would make ${roles.length})`,
            })),
          },
        };
      // Keep only keys some role (or the online key) still uses.
      const used = new Set([onlineId, ...roles.flatMap((r) => r.keyids)]);
      for (const k of Object.keys(keys)) if (!used.has(k)) delete keys[k];
      for (const r of roles)
        for (const k of r.keyids)
          if (!keys[k])
            return {
              ok: false,
              message: "Metadata Delegation Failed",
              details: {
                delegated_roles: [],
                failed_roles: [{ role: r.name, reason: `key ${k} is not in delegations.keys` }],
              },
            };
      // A role signed online by a key of its own: the server must hold that key before it is delegated to.
      const online = onlineKeyIds(cur.root.signed, { delegations: { keys, roles } });
      for (const r of roles) {
        if (!publish.includes(r.name) || !isSignedByOnlineKey(r, online)) continue;
        const keyid = r.keyids[0]!;
        try {
          e.keys.signerFor(keyid, keys[keyid] ?? cur.root.signed.keys[keyid]!);
        } catch (err) {
          if (!(err instanceof ConfigurationError)) throw err;
          return {
            ok: false,
            message: "Metadata Delegation Failed",
            details: { delegated_roles: [], failed_roles: [{ role: r.name, reason: err.message }] },
          };
        }
      }
      await publishLocked(e, await takeBatch(e), e.drainBumps(), {
        delegations: {
          delegations: { ...(cur.targets.delegations ?? {}), keys, roles },
          publish,
          deleted: [...deleted, ...deletedBins],
        },
        // In the same transaction as the new targets: a deleted name can never come back.
        settings: deleted.length > 0 ? { [DELETED_ROLES_KEY]: [...deletedBefore, ...deleted] } : undefined,
      });
      return {
        ok: true,
        message: "Metadata Delegation Processed",
        details: { delegated_roles: done, failed_roles: failed },
      };
    }),
  );
}

/**
 * The published state with a delegation change applied, for the batch that
 * publishes it: top-level targets and the changed roles get new versions;
 * deleted roles lose their pending signing sessions.
 */
export function withDelegationChange(
  st: PublishedState,
  change: DelegationChange,
  bumps: Set<string>,
  sessions: Sessions,
): PublishedState {
  bumps.add("targets");
  for (const r of change.publish) bumps.add(r);
  for (const r of change.deleted) delete sessions[r];
  return { ...st, targets: { ...st.targets, delegations: change.delegations } };
}
