/**
 * Signing sessions (DESIGN.md "Signing sessions"): a document that needs
 * offline signatures — root v1 before its threshold, root N+1, a new version
 * of an offline-key delegated role — is parked as pending. Signers list
 * pending documents, add signatures one at a time, and the document is
 * published the moment its thresholds are met. A root session can be
 * cancelled; a delegated role's cannot (it holds accepted artifact changes).
 *
 * Every session change happens under the publisher lock: the publisher itself
 * updates delegated roles' sessions.
 */
import type { AuditActor, TaskUpdate } from "../store/store.ts";
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import type { KeyJSON } from "../tuf/keys.ts";
import type { DelegatedRole, Metadata } from "../tuf/metadata.ts";
import { verifyRootUpdate } from "../tuf/root-chain.ts";
import { verifyRole } from "../tuf/verify.ts";
import { publishLocked, takeBatch } from "./batch.ts";
import { BOOTSTRAP_PAYLOAD_KEY, runBootstrapLocked } from "./bootstrap.ts";
import { delegatedRole, type Engine, type TaskOutcomeReport } from "./engine.ts";
import type { BootstrapPayload } from "./payloads.ts";
import { BOOTSTRAP_KEY, type BootstrapRecord } from "./settings.ts";
import { taskResult } from "./task-results.ts";

/** Store key of the sessions (one setting: a map role → session). */
export const SESSIONS_KEY = "signing_sessions";

/** A document waiting for offline signatures. */
export interface SigningSession {
  role: string;
  kind: "bootstrap" | "root_update" | "delegation";
  /** the task that completes when the document is published ("" for none) */
  taskId: string;
  // biome-ignore lint/suspicious/noExplicitAny: root or targets metadata, told apart by `kind`
  metadata: Metadata<any>;
  createdAt: string;
  /** delegation: results recorded for the waiting tasks once the role is published */
  tasks?: TaskUpdate[];
}

export type Sessions = Record<string, SigningSession>;

/** By role name, without a prototype: a role may be called "constructor" or "__proto__". */
export async function loadSessions(e: Engine): Promise<Sessions> {
  const stored = await e.store.getSetting<Sessions>(SESSIONS_KEY);
  return Object.assign(Object.create(null), stored ?? {});
}

/** Pending documents with what they are checked against (GET /api/v1/metadata/sign). */
export async function pendingSigning(e: Engine): Promise<Record<string, unknown> | null> {
  const sessions = await loadSessions(e);
  const names = Object.keys(sessions);
  if (names.length === 0) return null;
  const out: Record<string, unknown> = {};
  for (const name of names) out[name] = sessions[name]!.metadata;
  if (e.state && sessions.root) out.trusted_root = e.state.root;
  if (e.state && names.some((n) => n !== "root")) {
    const targets = await e.store.getLatestDocument("targets");
    if (targets) out.trusted_targets = JSON.parse(new TextDecoder().decode(targets.bytes));
  }
  return out;
}

/** Accept one signature for a pending document; processed in the background, reported by the task. */
export function acceptSign(e: Engine, role: string, signature: { keyid: string; sig: string }, actor: AuditActor) {
  // The keyid says whose signature it is; the signature itself is not a summary.
  return e.startTask("sign_metadata", { actor, summary: { role, keyid: signature.keyid } }, () =>
    addSignature(e, role, signature),
  );
}

/** Cancel a pending root (bootstrap or root update). */
export function acceptSignDelete(e: Engine, role: string, actor: AuditActor) {
  return e.startTask("delete_sign_metadata", { actor, summary: { role } }, () =>
    e.store.withLock("publisher", async (): Promise<TaskOutcomeReport> => {
      const sessions = await loadSessions(e);
      const session = Object.hasOwn(sessions, role) ? sessions[role] : undefined;
      if (!session)
        return { ok: false, message: "Metadata sign delete failed", error: `No signatures pending for ${role}` };
      if (session.kind === "delegation") {
        return {
          ok: false,
          message: "Metadata sign delete failed",
          error: `${role} holds accepted artifact changes; it cannot be cancelled, only signed`,
        };
      }
      delete sessions[role];
      const settings: Record<string, unknown> = { [SESSIONS_KEY]: sessions };
      const tasks: TaskUpdate[] = [];
      const cancelled = taskResult(
        session.kind === "bootstrap" ? "bootstrap" : "metadata_update",
        false,
        "Signing cancelled",
        null,
        e.now(),
        `signing of ${role} v${session.metadata.signed.version} was cancelled`,
      );
      tasks.push({ id: session.taskId, state: "REVOKED", result: cancelled });
      if (session.kind === "bootstrap") {
        // Cancelling a pending bootstrap frees the repository for a new one.
        settings[BOOTSTRAP_KEY] = undefined;
        settings[BOOTSTRAP_PAYLOAD_KEY] = undefined;
        e.bootstrap = undefined;
      }
      await e.store.setSettings(settings);
      await e.store.updateTasks(tasks);
      return { ok: true, message: "Metadata sign delete finished", details: { deleted_roles: [role] } };
    }),
  );
}

/**
 * Add one signature to a pending document; publish it the moment its
 * thresholds are met (root: spec 5.3.4, both N's and N+1's).
 */
function addSignature(e: Engine, role: string, signature: { keyid: string; sig: string }) {
  return e.store.withLock("publisher", async (): Promise<TaskOutcomeReport> => {
    const sessions = await loadSessions(e);
    const session = Object.hasOwn(sessions, role) ? sessions[role] : undefined;
    if (!session) return { ok: false, message: "Signature Failed", error: `No signatures pending for ${role}` };
    const meta = session.metadata;
    const version = meta.signed.version;
    let keys: Record<string, KeyJSON>;
    let allowed: Set<string>;
    let delegated: DelegatedRole | undefined;
    const trusted = session.kind === "root_update" ? e.state?.root : undefined;
    if (session.kind === "delegation") {
      const st = e.requireBootstrapped();
      delegated = delegatedRole(st, role);
      if (!delegated) return { ok: false, message: "Signature Failed", error: `${role} is no longer a delegated role` };
      keys = st.targets.delegations!.keys;
      allowed = new Set(delegated.keyids);
    } else {
      keys = { ...(trusted?.signed.keys ?? {}), ...meta.signed.keys };
      allowed = new Set([...meta.signed.roles.root.keyids, ...(trusted?.signed.roles.root.keyids ?? [])]);
    }
    const text = utf8(canonicalJson(meta.signed));
    const check = verifyRole(text, [signature], keys, {
      keyids: allowed.has(signature.keyid) ? [signature.keyid] : [],
      threshold: 1,
    });
    if (!check.verified) return { ok: false, message: "Signature Failed", error: "Invalid signature" };
    meta.signatures = [
      ...meta.signatures.filter((s: { keyid: string }) => s.keyid !== signature.keyid),
      { keyid: signature.keyid, sig: signature.sig },
    ];
    const complete = delegated
      ? verifyRole(text, meta.signatures, keys, delegated).verified
      : verifyRootUpdate(meta, trusted).verified;
    if (!complete) {
      await e.store.setSettings({ [SESSIONS_KEY]: sessions });
      const pending = `${role === "root" ? "Root" : role} v${version} is pending signatures`;
      return {
        ok: true,
        message: "Signature Processed",
        details: session.kind === "bootstrap" ? { bootstrap: pending } : { update: pending },
      };
    }
    delete sessions[role];
    if (session.kind === "bootstrap") {
      const payload = (await e.store.getSetting<BootstrapPayload>(BOOTSTRAP_PAYLOAD_KEY))!;
      payload.root = meta;
      const record: BootstrapRecord = { state: "pre", taskId: session.taskId };
      await e.store.setSettings({
        [SESSIONS_KEY]: sessions,
        [BOOTSTRAP_KEY]: record,
        [BOOTSTRAP_PAYLOAD_KEY]: payload,
      });
      e.bootstrap = record;
      await runBootstrapLocked(e);
      if (!e.state)
        return {
          ok: false,
          message: "Signature Failed",
          error: "the bootstrap failed after the last signature; see the bootstrap task",
        };
      return { ok: true, message: "Signature Processed", details: { bootstrap: "Bootstrap Finished" } };
    }
    if (session.kind === "delegation") {
      await publishLocked(e, [], new Set(), { signedRole: session, sessions });
      return { ok: true, message: "Signature Processed", details: { update: `Role ${role} signing complete` } };
    }
    const tasks: TaskUpdate[] = [
      {
        id: session.taskId,
        state: "SUCCESS",
        result: taskResult("metadata_update", true, "Metadata Update Processed", { role: "root" }, e.now()),
      },
    ];
    await publishLocked(e, await takeBatch(e), e.drainBumps(), { root: meta, tasks, sessions });
    return { ok: true, message: "Signature Processed", details: { update: "Metadata update finished" } };
  });
}
