/**
 * Bootstrap (DESIGN.md "Ceremony and bootstrap"): root v1 from the ceremony,
 * then targets, snapshot, timestamp and the hash bins (or custom delegated
 * roles) at version 1, signed with the online key and published in one
 * transaction. Accepted durably first (task, payload and lock written before
 * the 202), run in the background (16384 bins take about a second), resumed
 * after a crash; a root v1 short of its threshold waits in a signing session.
 */
import type { AuditActor, DocumentRecord, Publication } from "../store/store.ts";
import { auditEntry, rolesSummary } from "./audit.ts";
import { SuccinctBins } from "../tuf/bins.ts";
import { nestedBinsOf, nestedDelegations } from "../tuf/delegated-bins.ts";
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import { expiresIn } from "../tuf/dates.ts";
import { canonicalTargetsText } from "../tuf/document.ts";
import { type Delegations, SPEC_VERSION, type TargetsSigned } from "../tuf/metadata.ts";
import type { KeyJSON } from "../tuf/keys.ts";
import {
  delegationOnlineKeyId,
  isOnlineKeyJSON,
  isSignedByOnlineKey,
  ONLINE_TOP_LEVEL_ROLES,
  onlineKeyId,
  onlineKeyIds,
  roleKeyId,
} from "../tuf/roles.ts";
import { verifyRole } from "../tuf/verify.ts";
import { expirePolicy } from "./delegations.ts";
import type { Engine } from "./engine.ts";
import { ConfigurationError, StateError, ValidationError } from "./errors.ts";
import type { BootstrapPayload } from "./payloads.ts";
import { PublicationBuilder } from "./publication.ts";
import { BOOTSTRAP_KEY, type BootstrapRecord, type RepositorySettings, SETTINGS_KEY } from "./settings.ts";
import { loadSessions, SESSIONS_KEY, type Sessions } from "./signing-sessions.ts";
import { loadPublishedState } from "./state.ts";
import { newTaskId, taskResult } from "./task-results.ts";
import { VerifierUnavailable } from "./verify-pool.ts";

/** Store key of the accepted payload, kept until the bootstrap is published (a crash resumes it). */
export const BOOTSTRAP_PAYLOAD_KEY = "bootstrap_payload";

/** RSTUF's 404 message for a repository that already has metadata. */
export function alreadyBootstrapped(state: string): string {
  return `System already has a Metadata. State: ${state}`;
}

/**
 * Accept a validated bootstrap payload: recorded durably, then run in the
 * background. Answers with the task id.
 */
export async function acceptBootstrap(
  e: Engine,
  payload: BootstrapPayload,
  actor: AuditActor,
): Promise<{ taskId: string }> {
  if (e.bootstrap) throw new StateError(alreadyBootstrapped(e.bootstrap.state));
  const root = payload.root;
  const verification = verifyRole(
    utf8(canonicalJson(root.signed)),
    root.signatures,
    root.signed.keys,
    root.signed.roles.root,
  );
  if (verification.invalid.length > 0) {
    throw ValidationError.at(
      ["body", "metadata", "root", "signatures"],
      `signature by ${verification.invalid.join(", ")} does not verify`,
    );
  }
  for (const sig of root.signatures) {
    if (!root.signed.roles.root.keyids.includes(sig.keyid)) {
      throw ValidationError.at(
        ["body", "metadata", "root", "signatures"],
        `signature by ${sig.keyid}, which is not a root key`,
      );
    }
  }
  // Every online key the new repository signs with must be loadable now (a
  // 422 naming the key), not when the background bootstrap first signs.
  for (const { keyid, key, loc } of bootstrapOnlineKeys(payload)) {
    try {
      e.keys.signerFor(keyid, key);
    } catch (err) {
      if (err instanceof ConfigurationError) throw ValidationError.at(loc, `${err.message} (hint: ${err.hint})`);
      throw err;
    }
  }
  const taskId = newTaskId();
  const record: BootstrapRecord = { state: verification.verified ? "pre" : "signing", taskId };
  const settings: Record<string, unknown> = { [BOOTSTRAP_KEY]: record, [BOOTSTRAP_PAYLOAD_KEY]: payload };
  if (!verification.verified) {
    // Root v1 lacks threshold signatures: park it in a signing session.
    const sessions = await loadSessions(e);
    sessions.root = { role: "root", kind: "bootstrap", taskId, metadata: root, createdAt: e.now().toISOString() };
    settings[SESSIONS_KEY] = sessions;
  }
  // The task, the bootstrap lock and the payload are written before the 202:
  // a crash after it resumes the bootstrap (or its signing session) on restart.
  const pendingResult = verification.verified
    ? null
    : taskResult(
        "bootstrap",
        true,
        "Bootstrap pending signatures",
        { bootstrap: "Root v1 is pending signatures" },
        e.now(),
      );
  // Waiting for signatures is a finished task with status true, as RSTUF
  // reports it: the rstuf CLI polls until SUCCESS/FAILURE/ERRORED.
  await e.store.accept(
    { id: taskId, name: "bootstrap", state: verification.verified ? "PENDING" : "SUCCESS", result: pendingResult },
    [],
    false,
    auditEntry(actor, taskId, "bootstrap", {
      root_version: root.signed.version,
      root_signed: verification.verified,
      bins: payload.binsCount,
      ...(payload.delegations ? rolesSummary(payload.delegations.roles.map((r) => r.name)) : {}),
    }),
  );
  await e.store.setSettings(settings);
  e.bootstrap = record;
  if (verification.verified) e.background(runBootstrap(e));
  return { taskId };
}

/**
 * The online keys a bootstrap payload signs with, and where each is named:
 * root's targets, snapshot and timestamp keys (one shared key in RSTUF's
 * payloads, or one each), the bins' own key if the payload gives one, and
 * custom delegations' online keys (one key, threshold 1, with an
 * x-rstuf-online-key-uri).
 */
export function bootstrapOnlineKeys(
  payload: BootstrapPayload,
): { keyid: string; key: KeyJSON; loc: (string | number)[] }[] {
  const root = payload.root.signed;
  const out = new Map<string, { keyid: string; key: KeyJSON; loc: (string | number)[] }>();
  for (const role of ONLINE_TOP_LEVEL_ROLES) {
    const keyid = roleKeyId(root, role)!;
    if (!out.has(keyid))
      out.set(keyid, { keyid, key: root.keys[keyid]!, loc: ["body", "metadata", "root", "signed", "keys", keyid] });
  }
  if (payload.binsKey && !out.has(payload.binsKey.keyid))
    out.set(payload.binsKey.keyid, {
      ...payload.binsKey,
      loc: ["body", "settings", "roles", "bins", "online_key", payload.binsKey.keyid],
    });
  const d = payload.delegations;
  for (const r of d?.roles ?? []) {
    const keyid = r.keyids.length === 1 && r.threshold === 1 ? r.keyids[0]! : undefined;
    const key = keyid ? d!.keys[keyid] : undefined;
    if (keyid && key && isOnlineKeyJSON(key) && !out.has(keyid))
      out.set(keyid, { keyid, key, loc: ["body", "settings", "roles", "delegations", "keys", keyid] });
  }
  return [...out.values()];
}

/** Run an accepted bootstrap (at acceptance, or resumed after a restart). */
export function runBootstrap(e: Engine): Promise<void> {
  return e.store.withLock("publisher", () => runBootstrapLocked(e));
}

/** Caller holds the publisher lock. */
export async function runBootstrapLocked(e: Engine): Promise<void> {
  const record = e.bootstrap!;
  const payload = await e.store.getSetting<BootstrapPayload>(BOOTSTRAP_PAYLOAD_KEY);
  const now = e.now();
  let committed = false;
  try {
    if (!payload) throw new Error("bootstrap payload missing from the store");
    await e.store.updateTasks([{ id: record.taskId, state: "STARTED", result: null }]);
    const started = performance.now();
    let built = buildBootstrap(e, payload, record, now, await loadSessions(e));
    try {
      await built.verified;
    } catch (err) {
      if (!(err instanceof VerifierUnavailable)) throw err;
      built = buildBootstrap(e, payload, record, now, await loadSessions(e));
      await built.verified;
    }
    const { publication, settings } = built;
    built.assertPublishable();
    await e.store.commitPublication(publication);
    committed = true;
    e.bootstrap = { state: "finished", taskId: record.taskId };
    e.state = await loadPublishedState(e.store, settings);
    e.sink.publish(publication.documents.flatMap((d) => e.filesFor(d)));
    e.log.info("bootstrap finished", {
      task_id: record.taskId,
      bins: settings.bins?.count ?? 0,
      documents: publication.documents.length,
      ms: Math.round(performance.now() - started),
    });
    e.wake("published");
    e.emitPublished(1);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (committed) {
      // Published; only reading it back failed (the database went away
      // right after the commit). Not a failed bootstrap: the next
      // catch-up (sync.ts) loads it from the store.
      e.log.error("bootstrap published, but reading it back failed; loading it again shortly", {
        task_id: record.taskId,
        error: reason,
      });
      e.bootstrap = undefined;
      e.state = undefined;
      return;
    }
    e.log.error("bootstrap failed", { task_id: record.taskId, error: reason });
    e.bootstrap = undefined;
    try {
      await e.store.setSettings({ [BOOTSTRAP_KEY]: undefined, [BOOTSTRAP_PAYLOAD_KEY]: undefined });
      await e.store.updateTasks([
        {
          id: record.taskId,
          state: "FAILURE",
          result: taskResult("bootstrap", false, "Bootstrap failed", null, e.now(), reason),
        },
      ]);
    } catch (cleanup) {
      // The store itself is unreachable: the record stays "pre" and the bootstrap resumes at the next start.
      e.log.error("could not record the failed bootstrap", {
        task_id: record.taskId,
        error: cleanup instanceof Error ? cleanup.message : String(cleanup),
      });
    }
  }
}

/** Every version-1 document of the new repository, signed, as one publication. */
function buildBootstrap(
  e: Engine,
  payload: BootstrapPayload,
  record: BootstrapRecord,
  now: Date,
  sessions: Sessions,
): { publication: Publication; settings: RepositorySettings; verified: Promise<void>; assertPublishable(): void } {
  const root = payload.root;
  // Delegations without a key of their own (RSTUF's keyids: [], the bins by
  // default) are signed by the targets role's online key (tuf/roles.ts).
  const onlineId = delegationOnlineKeyId(root.signed)!;
  const onlineKey = root.signed.keys[onlineId]!;
  const bins = payload.bitLength !== null ? new SuccinctBins(payload.bitLength, "bins") : null;
  const settings: RepositorySettings = {
    expiration: payload.expiration,
    bins: bins ? { count: bins.count, bitLength: bins.bitLength, prefix: bins.prefix } : null,
    onlineKeyId: onlineKeyId(root.signed)!,
    consistentSnapshot: root.signed.consistent_snapshot,
  };

  let delegations: Delegations;
  if (bins) {
    const binsKey = payload.binsKey ?? { keyid: onlineId, key: onlineKey };
    delegations = {
      keys: { [binsKey.keyid]: binsKey.key },
      succinct_roles: {
        bit_length: bins.bitLength,
        name_prefix: bins.prefix,
        keyids: [binsKey.keyid],
        threshold: 1,
      },
    };
  } else {
    // RSTUF: an empty keyids list means "signed by the online key".
    const roles = payload.delegations!.roles.map((r) =>
      r.keyids.length === 0 ? { ...r, keyids: [onlineId], threshold: 1 } : r,
    );
    delegations = { keys: { [onlineId]: onlineKey, ...payload.delegations!.keys }, roles };
  }
  const targets: TargetsSigned = {
    _type: "targets",
    spec_version: SPEC_VERSION,
    version: 1,
    expires: expiresIn(now, payload.expiration.targets),
    targets: {},
    delegations,
  };
  const build = new PublicationBuilder(
    e.roleSigners(() => ({ root, targets })),
    e.verifier,
  );
  build.addSigned("root", 1, root.signed.expires, canonicalJson(root.signed), root.signatures);
  build.sign("targets", 1, targets.expires, canonicalJson(targets));
  const newSessions = { ...sessions };
  const roleDocs: { name: string; days: number; online: boolean; delegations?: Delegations }[] = bins
    ? bins.names().map((name) => ({ name, days: payload.expiration.bins, online: true }))
    : delegations.roles!.flatMap((r) => {
        const days = expirePolicy(r);
        // A delegated role with hash bins of its own: its document delegates to them, each bin starts empty.
        const nested = nestedBinsOf(r);
        const role = {
          name: r.name,
          days,
          online: isSignedByOnlineKey(r, onlineKeyIds(root.signed, targets)),
          delegations: nested ? nestedDelegations(nested, onlineId, onlineKey) : undefined,
        };
        return [role, ...(nested?.names() ?? []).map((name) => ({ name, days, online: true }))];
      });
  for (const { name, days, online, delegations: nested } of roleDocs) {
    const expires = expiresIn(now, days);
    if (online) {
      const text = canonicalTargetsText(
        { _type: "targets", spec_version: SPEC_VERSION, version: 1, expires, delegations: nested },
        [],
      );
      build.sign(name, 1, expires, text);
    } else {
      // Offline-key role: v1 waits for its signers; snapshot lists it once signed.
      const signed: TargetsSigned = { _type: "targets", spec_version: SPEC_VERSION, version: 1, expires, targets: {} };
      newSessions[name] = {
        role: name,
        kind: "delegation",
        taskId: "",
        metadata: { signed, signatures: [] },
        createdAt: now.toISOString(),
        tasks: [],
      };
    }
  }
  const snapshot: DocumentRecord = build.snapshot(1, expiresIn(now, payload.expiration.snapshot));
  build.timestamp(1, expiresIn(now, payload.expiration.timestamp), snapshot);
  const publication: Publication = {
    expectedHeads: build.expectedHeads,
    documents: build.documents,
    tasks: [
      {
        id: record.taskId,
        state: "SUCCESS",
        result: taskResult("bootstrap", true, "Bootstrap finished", { bootstrap: "Bootstrap Finished" }, now),
      },
    ],
    settings: {
      [SETTINGS_KEY]: settings,
      [BOOTSTRAP_KEY]: { state: "finished", taskId: record.taskId },
      [BOOTSTRAP_PAYLOAD_KEY]: undefined,
      [SESSIONS_KEY]: newSessions,
    },
  };
  return { publication, settings, verified: build.verified(), assertPublishable: () => build.assertPublishable() };
}
