/**
 * Root rotation (DESIGN.md "Root rotation and online key rotation"): root
 * N+1 is checked at acceptance (a 422 naming the field), published when it
 * meets the thresholds of N and N+1 (spec 5.3.4, tuf/root-chain.ts), else
 * parked in a signing session. A new root that changes the online key
 * makes the same batch re-sign every online role with the new key.
 */
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import type { Metadata, RootSigned } from "../tuf/metadata.ts";
import { verifyRootUpdate } from "../tuf/root-chain.ts";
import {
  isSignedByOnlineKey,
  ONLINE_ROLES,
  ONLINE_TOP_LEVEL_ROLES,
  onlineKeyId,
  onlineRoleProblem,
} from "../tuf/roles.ts";
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
  // Timestamp first: its key is the online key the other two are compared with.
  for (const name of ONLINE_TOP_LEVEL_ROLES.toReversed()) {
    if (onlineRoleProblem(meta.signed, name) !== null) {
      throw ValidationError.at(
        [...loc, "signed", "roles", name],
        "targets, snapshot and timestamp must use the same single online key with threshold 1",
      );
    }
  }
  const onlineId = onlineKeyId(meta.signed)!;
  try {
    e.keys.signerFor(onlineId, meta.signed.keys[onlineId]!);
  } catch (err) {
    if (err instanceof ConfigurationError)
      throw ValidationError.at([...loc, "signed", "keys", onlineId], `${err.message} (hint: ${err.hint})`);
    throw err;
  }
  const summary = {
    role: "root",
    version: meta.signed.version,
    signatures: meta.signatures.length,
    online_key: onlineId,
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
 * If the online key changed, every online role (and every online delegated
 * role) is added to `bumps`, re-signed with the new key in this same batch,
 * and the old key is no longer used.
 */
export function withNewRoot(st: PublishedState, root: Metadata<RootSigned>, bumps: Set<string>): PublishedState {
  const onlineId = onlineKeyId(root.signed)!;
  const oldId = st.settings.onlineKeyId;
  let settings = st.settings;
  let targets = st.targets;
  if (onlineId !== oldId) {
    settings = { ...settings, onlineKeyId: onlineId };
    const key = root.signed.keys[onlineId]!;
    const d = targets.delegations;
    if (d?.succinct_roles) {
      targets = {
        ...targets,
        delegations: {
          ...d,
          keys: { [onlineId]: key },
          succinct_roles: { ...d.succinct_roles, keyids: [onlineId] },
        },
      };
    } else if (d?.roles) {
      const keys = { ...d.keys, [onlineId]: key };
      delete keys[oldId];
      const roles = d.roles.map((r) => (isSignedByOnlineKey(r, oldId) ? { ...r, keyids: [onlineId] } : r));
      targets = { ...targets, delegations: { ...d, keys, roles } };
      for (const r of roles) if (isSignedByOnlineKey(r, onlineId)) bumps.add(r.name);
    }
    for (const r of ONLINE_ROLES) bumps.add(r);
  }
  return { ...st, root, settings, targets };
}
