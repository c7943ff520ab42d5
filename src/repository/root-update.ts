/**
 * Root rotation (DESIGN.md "Root rotation and online key rotation"): root
 * N+1 is checked at acceptance (a 422 naming the field), published when it
 * meets the thresholds of N and N+1 (spec 5.3.4, tuf/root-chain.ts), else
 * parked in a signing session. A new root that changes an online role's key
 * makes the same batch re-sign exactly the roles that key signs (withNewRoot).
 */
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import type { Metadata, RootSigned } from "../tuf/metadata.ts";
import { verifyRootUpdate } from "../tuf/root-chain.ts";
import {
  delegationOnlineKeyId,
  BINS,
  isSignedByOnlineKey,
  ONLINE_TOP_LEVEL_ROLES,
  onlineKeyId,
  onlineRoleProblem,
  roleKeyId,
} from "../tuf/roles.ts";
import { nestedBinsOf } from "../tuf/delegated-bins.ts";
import { verifyRole } from "../tuf/verify.ts";
import { publishLocked, takeBatch } from "./batch.ts";
import type { Engine, TaskOutcomeReport } from "./engine.ts";
import { ConfigurationError, StateError, ValidationError } from "./errors.ts";
import { loadSessions, SESSIONS_KEY } from "./signing-sessions.ts";
import type { PublishedState } from "./state.ts";
import type { AuditActor } from "../store/store.ts";

/**
 * Accept root N+1 (POST /api/v1/metadata). Checked now; published when both
 * thresholds are met, else parked for signatures.
 */
export async function acceptRootUpdate(
  e: Engine,
  meta: Metadata<RootSigned>,
  actor: AuditActor,
): Promise<{ taskId: string }> {
  const st = e.requireBootstrapped();
  const loc = ["body", "metadata", "root"];
  const current = st.root.signed.version;
  if (meta.signed.version !== current + 1)
    throw ValidationError.at(
      [...loc, "signed", "version"],
      `must be ${current + 1} (the trusted root is version ${current})`,
    );
  if ((await loadSessions(e)).root)
    throw new StateError(
      `Root v${current + 1} is already pending signatures; sign it or cancel it with POST /api/v1/metadata/sign/delete`,
    );
  const text = utf8(canonicalJson(meta.signed));
  const allowed = new Set([...meta.signed.roles.root.keyids, ...st.root.signed.roles.root.keyids]);
  const keys = { ...st.root.signed.keys, ...meta.signed.keys };
  for (const [i, sig] of meta.signatures.entries()) {
    if (!allowed.has(sig.keyid))
      throw ValidationError.at(
        [...loc, "signatures", i, "keyid"],
        `${sig.keyid} is not a root key of root v${current} or v${current + 1}`,
      );
    if (!verifyRole(text, [sig], keys, { keyids: [sig.keyid], threshold: 1 }).verified)
      throw ValidationError.at([...loc, "signatures", i, "sig"], "Invalid signature");
  }
  // Each online role needs one key (its own, or shared as in RSTUF), loadable now.
  for (const name of ONLINE_TOP_LEVEL_ROLES.toReversed()) {
    if (onlineRoleProblem(meta.signed, name) !== null)
      throw ValidationError.at(
        [...loc, "signed", "roles", name],
        "targets, snapshot and timestamp each need exactly one online key with threshold 1",
      );
    if (meta.signed.roles.root.keyids.includes(roleKeyId(meta.signed, name)!))
      throw ValidationError.at(
        [...loc, "signed", "roles", "root", "keyids"],
        `the online key of ${name} must not be a root key`,
      );
  }
  const onlineKeys = Object.fromEntries(ONLINE_TOP_LEVEL_ROLES.map((r) => [r, roleKeyId(meta.signed, r)!]));
  for (const keyid of new Set(Object.values(onlineKeys))) {
    try {
      e.keys.signerFor(keyid, meta.signed.keys[keyid]!);
    } catch (err) {
      if (err instanceof ConfigurationError)
        throw ValidationError.at([...loc, "signed", "keys", keyid], `${err.message} (hint: ${err.hint})`);
      throw err;
    }
  }
  const summary = {
    role: "root",
    version: meta.signed.version,
    signatures: meta.signatures.length,
    online_key: onlineKeyId(meta.signed)!,
    online_keys: onlineKeys,
  };
  return e.startTask("metadata_update", { actor, summary }, (taskId) =>
    e.store.withLock("publisher", async (): Promise<TaskOutcomeReport> => {
      if (verifyRootUpdate(meta, st.root).verified) {
        await publishLocked(e, await takeBatch(e), e.drainBumps(), { root: meta });
        return { ok: true, message: "Metadata Update Processed", details: { role: "root" } };
      }
      const sessions = await loadSessions(e);
      sessions.root = { role: "root", kind: "root_update", taskId, metadata: meta, createdAt: e.now().toISOString() };
      await e.store.setSettings({ [SESSIONS_KEY]: sessions });
      return {
        ok: true,
        message: "Metadata Update Processed",
        details: { update: `Root v${meta.signed.version} is pending signatures` },
      };
    }),
  );
}

/**
 * The published state with root N+1 in place, for the batch that publishes it.
 * Each online top-level role whose key changed is added to `bumps` and
 * re-signed with its new key in this same batch — and only those (a new
 * snapshot key re-signs snapshot, and timestamp because it names the new
 * snapshot; a new timestamp key re-signs timestamp alone). Delegations signed
 * by the targets role's old key (the hash bins, custom roles given
 * `keyids: []`) follow it to the new one; delegations with keys of their own
 * keep them.
 */
export function withNewRoot(st: PublishedState, root: Metadata<RootSigned>, bumps: Set<string>): PublishedState {
  const before = st.root.signed;
  let settings = st.settings;
  let targets = st.targets;
  for (const r of ONLINE_TOP_LEVEL_ROLES) if (roleKeyId(before, r) !== roleKeyId(root.signed, r)) bumps.add(r);
  const timestampKey = onlineKeyId(root.signed)!;
  if (timestampKey !== settings.onlineKeyId) settings = { ...settings, onlineKeyId: timestampKey };
  const oldId = delegationOnlineKeyId(before)!;
  const newId = delegationOnlineKeyId(root.signed)!;
  const d = targets.delegations;
  if (oldId !== newId && d) {
    const key = root.signed.keys[newId]!;
    const follows = (r: { keyids: readonly string[] }) => isSignedByOnlineKey(r, oldId);
    const keys = { ...d.keys };
    if (d.succinct_roles && follows(d.succinct_roles)) {
      targets = { ...targets, delegations: { ...d, succinct_roles: { ...d.succinct_roles, keyids: [newId] } } };
      keys[newId] = key;
      bumps.add(BINS);
    } else if (d.roles?.some(follows)) {
      const roles = d.roles.map((r) => (follows(r) ? { ...r, keyids: [newId] } : r));
      targets = { ...targets, delegations: { ...d, roles } };
      keys[newId] = key;
      for (const r of d.roles) if (follows(r)) bumps.add(r.name);
    }
    // Custom roles' own hash bins use the delegations' online key too: each
    // such role's document names the new key, and every bin is re-signed.
    for (const r of targets.delegations?.roles ?? []) {
      const nested = nestedBinsOf(r);
      if (!nested) continue;
      bumps.add(r.name);
      for (const name of nested.names()) bumps.add(name);
    }
    // The old key stays listed only while a delegation still uses it.
    const used = new Set([
      ...(targets.delegations!.succinct_roles?.keyids ?? []),
      ...(targets.delegations!.roles ?? []).flatMap((r) => r.keyids),
    ]);
    if (!used.has(oldId)) delete keys[oldId];
    if (targets !== st.targets || Object.keys(keys).length !== Object.keys(d.keys).length) {
      targets = { ...targets, delegations: { ...targets.delegations!, keys } };
      bumps.add("targets");
    }
  }
  return { ...st, root, settings, targets };
}
