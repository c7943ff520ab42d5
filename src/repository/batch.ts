/**
 * The batching publisher's one batch (DESIGN.md "Artifacts"): every pending
 * change gathered into one new version of each touched targets role (bin or
 * delegated role), then one snapshot and one timestamp, signed *before* the
 * write transaction, verified, and committed in one transaction that checks
 * nobody published in between (STYLE.md rule 4). Root rotation, delegation
 * changes and completed signing sessions ride on the same batch.
 *
 * Offline-key roles are not signed here: their new version is parked in a
 * signing session (signing-sessions.ts) and their tasks wait for it.
 */
import type { ChangeRecord, DocumentRecord, Publication, TaskUpdate } from "../store/store.ts";
import { SCHEDULER_ACTOR, StoreConflictError } from "../store/store.ts";
import { auditEntry, rolesSummary } from "./audit.ts";
import { canonicalJson } from "../tuf/canonical.ts";
import { expiresIn } from "../tuf/dates.ts";
import { canonicalTargetsText } from "../tuf/document.ts";
import { type Metadata, type RootSigned, SPEC_VERSION, type TargetsSigned } from "../tuf/metadata.ts";
import { type ExpiringRole, isTargetsRole } from "../tuf/roles.ts";
import { type DelegationChange, expirePolicy, withDelegationChange } from "./delegations.ts";
import { nestedBinRole, nestedDelegationsOf } from "./delegated-bins.ts";
import { delegatedRole, type Engine, isOfflineRole } from "./engine.ts";
import { readPause } from "./pause.ts";
import { PublicationBuilder } from "./publication.ts";
import { type Rebinning, routeToCurrentBins, withRebinning } from "./rebin.ts";
import { withNewRoot } from "./root-update.ts";
import { SETTINGS_KEY } from "./settings.ts";
import { loadSessions, SESSIONS_KEY, type Sessions, type SigningSession } from "./signing-sessions.ts";
import type { PublishedState } from "./state.ts";
import { batchTaskUpdates, emptyOutcome, type TaskOutcome } from "./task-results.ts";

/** documents signed between two event-loop turns while publishing */
const YIELD_EVERY = 200;

export interface BatchOutcome {
  changes: number;
  documents: number;
  timestampVersion: number | null;
}

export interface PublishExtra {
  /** root N+1 to publish first (root rotation) */
  root?: Metadata<RootSigned>;
  /** a delegated role whose signing session just completed */
  signedRole?: SigningSession;
  /** extra task results to commit with the batch */
  tasks?: TaskUpdate[];
  /** the signing sessions as the caller changed them (written with the batch) */
  sessions?: Sessions;
  /** store settings to write in the same transaction */
  settings?: Record<string, unknown>;
  /** a change of custom delegations */
  delegations?: DelegationChange;
  /** a new number of hash bins, its artifacts redistributed (rebin.ts) */
  rebin?: Rebinning;
}

/**
 * A publication this large leaves hundreds of MiB of garbage (entries read,
 * texts assembled, documents signed; 1M artifacts, 16384 bins: RSS ~700 MiB
 * right after, ~310 MiB after a full collection). Collected at once instead of
 * whenever the heap next grows, so the memory goes back to the system while
 * the server idles; a full collection of what stays (~80 MiB of heap) is
 * tens of milliseconds, after a batch that took seconds.
 */
const COLLECT_AFTER_DOCUMENTS = 2048;
/**
 * Not at once: the collection stops the event loop for a few hundred ms,
 * and the clients polling for this publication's tasks would wait for it
 * (publish.ts: ~0.4 s between "published" and the client seeing it).
 */
const COLLECT_DELAY_MS = 1000;
let collecting = false;

function collectSoon(): void {
  if (collecting) return;
  collecting = true;
  setTimeout(() => {
    collecting = false;
    Bun.gc(true);
  }, COLLECT_DELAY_MS).unref();
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

/**
 * Oldest pending changes, cut at a task boundary so a task is never split.
 * None while publication is paused (pause.ts): read from the store each time,
 * under the publisher lock the caller holds, so every replica obeys it.
 */
export async function takeBatch(e: Engine): Promise<ChangeRecord[]> {
  e.paused = await readPause(e.store);
  if (e.paused) return [];
  const t0 = performance.now();
  const changes = await e.store.pendingChanges(e.maxBatch + 1);
  if (changes.length >= 10_000)
    e.log.debug("batch taken", { changes: changes.length, take_ms: Math.round(performance.now() - t0) });
  if (changes.length <= e.maxBatch) return changes;
  const lastTask = changes[e.maxBatch - 1]!.taskId;
  let end = e.maxBatch;
  if (changes[e.maxBatch]!.taskId === lastTask) {
    // The task straddles the limit: drop it entirely unless it is the only one.
    end = changes.findIndex((c) => c.taskId === lastTask);
    if (end === 0) {
      // One request never exceeds max_artifacts_per_request, so a task is bounded.
      const all = await e.store.pendingChanges(e.maxBatch * 4);
      return all.filter((c) => c.taskId === lastTask);
    }
  }
  return changes.slice(0, end);
}

/** Publish a batch; the caller holds the publisher lock. Reloads the state after a conflict. */
export async function publishLocked(
  e: Engine,
  changes: ChangeRecord[],
  bumps: Set<string>,
  extra: PublishExtra,
): Promise<BatchOutcome> {
  try {
    const outcome = await publishBatch(e, changes, bumps, extra);
    e.wake("published");
    return outcome;
  } catch (err) {
    for (const b of bumps) e.requestedBumps.add(b);
    if (err instanceof StoreConflictError) await e.open();
    throw err;
  } finally {
    e.releaseEntries();
  }
}

/** The roles a re-sign request names: "bins" is every bin. */
function expandBump(st: PublishedState, role: string): string[] {
  if (role === "bins") return st.bins ? st.bins.names() : [];
  return [role];
}

function expiryDaysFor(st: PublishedState, role: string): number {
  if (st.bins?.isBin(role)) return st.settings.expiration.bins;
  const delegated = delegatedRole(st, role) ?? nestedBinRole(st, role);
  if (delegated) return expirePolicy(delegated);
  return st.settings.expiration[role as ExpiringRole] ?? st.settings.expiration.bins;
}

/** Each touched role's entries as this batch leaves them (path → canonical target fragment). */
class WorkingSets {
  readonly roles = new Map<string, Map<string, string>>();
  readonly #e: Engine;
  readonly #st: PublishedState;
  readonly #sessions: Sessions;

  constructor(e: Engine, st: PublishedState, sessions: Sessions) {
    this.#e = e;
    this.#st = st;
    this.#sessions = sessions;
  }

  async of(role: string): Promise<Map<string, string>> {
    let w = this.roles.get(role);
    if (!w) {
      // An offline role with a pending version builds on that version.
      const session = this.#sessions[role];
      const pending =
        session?.kind === "delegation" ? (session.metadata.signed.targets as Record<string, unknown>) : undefined;
      w = pending
        ? new Map(Object.entries(pending).map(([p, info]) => [p, canonicalJson(info)]))
        : new Map(await this.#e.roleEntries(role, this.#st.heads.get(role)?.version ?? 0));
      this.roles.set(role, w);
    }
    return w;
  }
}

/** What a batch did with one queued change (reported per task, in the order the changes were accepted). */
enum Applied {
  Invalid,
  NotFound,
  Added,
  Deleted,
  Bumped,
  Skipped,
}

/**
 * Roles whose entries are read, changed, assembled and signed together. A
 * batch at 1M artifacts touches every one of 16384 bins (~1M entries, ~250 MB
 * as strings); one slice at a time keeps only its own entries alive, so the
 * working set is the documents signed so far, not every entry of every bin.
 */
const ROLES_PER_SLICE = 1024;

/** Apply one role's queued changes to its working set; true when its entries changed. */
function applyRoleChanges(changes: ChangeRecord[], indices: number[], w: Map<string, string>, applied: Applied[]) {
  let touched = false;
  for (const i of indices) {
    const c = changes[i]!;
    if (c.kind === "add") {
      if (w.get(c.path) !== c.fragment) {
        w.set(c.path, c.fragment!);
        touched = true;
      }
      applied[i] = Applied.Added;
    } else if (w.delete(c.path)) {
      touched = true;
      applied[i] = Applied.Deleted;
    } else {
      applied[i] = Applied.NotFound;
    }
  }
  return touched;
}

/** What each task did, from what was applied to each of its changes (in acceptance order). */
function taskOutcomes(changes: ChangeRecord[], applied: Applied[]): Map<string, TaskOutcome> {
  const outcomes = new Map<string, TaskOutcome>();
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    let t = outcomes.get(c.taskId);
    if (!t) {
      t = emptyOutcome();
      outcomes.set(c.taskId, t);
    }
    t.kinds.add(c.kind === "bump" && c.role === "" ? "marker" : c.kind);
    switch (applied[i]) {
      case Applied.Invalid:
        t.invalid.push(c.path);
        break;
      case Applied.NotFound:
        t.notFound.push(c.path);
        break;
      case Applied.Added:
        t.added.push(c.path);
        t.roles.add(c.role);
        break;
      case Applied.Deleted:
        t.deleted.push(c.path);
        t.roles.add(c.role);
        break;
      case Applied.Bumped:
        t.bumped.push(c.role);
        break;
    }
  }
  return outcomes;
}

async function publishBatch(
  e: Engine,
  changes: ChangeRecord[],
  bumps: Set<string>,
  extra: PublishExtra = {},
): Promise<BatchOutcome> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  // In-memory bump requests come from the scheduler (re-signing before
  // expiry) and are audited in this publication's own transaction; taken now,
  // before root rotation or delegation edits add their own roles. Bumps asked
  // for over the API were audited when accepted (intake.ts).
  const scheduled = bumps.size > 0 ? rolesSummary(bumps) : null;
  const prev = e.state!;
  const now = e.now();
  let st = extra.root ? withNewRoot(prev, extra.root, bumps) : prev;
  // Each role is signed by its own online key, as `st` names it once root rotation and delegation edits apply.
  const build = new PublicationBuilder(
    e.roleSigners(() => st),
    e.verifier,
    st.snapshotMeta,
    e.signPool,
  );
  if (extra.root) {
    const root = extra.root;
    const text = canonicalJson(root.signed);
    build.addSigned("root", root.signed.version, root.signed.expires, text, root.signatures, prev.root.signed.version);
  }
  const sessions = extra.sessions ?? (st.bins ? {} : await loadSessions(e));
  let sessionsChanged = extra.sessions !== undefined;
  const deletedRoles = extra.delegations?.deleted ?? [];
  if (extra.delegations) {
    st = withDelegationChange(st, extra.delegations, bumps, sessions);
    if (deletedRoles.length > 0) sessionsChanged = true;
  }
  if (extra.rebin) st = withRebinning(st, extra.rebin);
  // After a re-binning, changes accepted under another layout go to the bins this batch publishes.
  routeToCurrentBins(st, changes);
  const head = (role: string) => st.heads.get(role)?.version ?? 0;
  const working = new WorkingSets(e, st, sessions);
  // A re-binning brings every bin's entries with it (not read from the store).
  const seeded = extra.rebin?.entries;
  if (seeded) for (const [role, entries] of seeded) working.roles.set(role, entries);
  const forced = new Set<string>();
  for (const b of bumps) for (const r of expandBump(st, b)) forced.add(r);
  // A re-binning publishes targets and every bin of the new layout.
  if (seeded) for (const r of ["targets", ...seeded.keys()]) forced.add(r);

  // Each change's role, or what it is when it has none (an invalid path, a re-sign request).
  const applied: Applied[] = new Array(changes.length).fill(Applied.Skipped);
  const byRole = new Map<string, number[]>();
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    if (c.kind === "bump") {
      if (c.role !== "") {
        for (const r of expandBump(st, c.role)) forced.add(r);
        applied[i] = Applied.Bumped;
      }
    } else if (c.role === "" || (!st.bins && !delegatedRole(st, c.role) && !nestedBinRole(st, c.role))) {
      // No delegation covers the path (or its role was deleted since): RSTUF reports it as invalid.
      applied[i] = c.kind === "add" ? Applied.Invalid : Applied.NotFound;
    } else {
      const list = byRole.get(c.role);
      if (list) list.push(i);
      else byRole.set(c.role, [i]);
    }
  }
  // Roles to read and maybe rewrite: those with changes, and targets roles asked to be re-signed.
  const candidates = new Set(byRole.keys());
  for (const r of forced) if (isTargetsRole(r)) candidates.add(r);
  const tRead = performance.now();

  const upsert = new Map<string, { role: string; fragment: string }>();
  const removed = new Set<string>();
  const offlineRoles = new Set<string>();
  /** the fragment each change leaves its path with (undefined: removed), for the store's artifact rows */
  const finalFragment: (string | undefined)[] = new Array(changes.length);
  let onlineRolesWritten = 0;
  let newTargets: TargetsSigned | undefined;
  const exp = st.settings.expiration;

  for (const role of deletedRoles) {
    // A deleted role's artifacts leave the repository with it. Its snapshot
    // entry stays: clients reject a snapshot that drops a file the previous
    // one listed (spec 5.5.5); targets no longer delegates to it.
    for (const [path] of await e.roleEntries(role, st.heads.get(role)?.version ?? 0)) removed.add(path);
    e.entries.delete(role);
  }

  const signedRole = extra.signedRole;
  if (signedRole) {
    // An offline role's signing session completed: publish exactly what was signed.
    const role = signedRole.role;
    const signed = signedRole.metadata.signed as TargetsSigned;
    const head = st.heads.get(role)?.version ?? 0;
    if (signed.version !== head + 1)
      throw new Error(`${role} v${signed.version} no longer follows the published v${head}`);
    build.addSigned(role, signed.version, signed.expires, canonicalJson(signed), signedRole.metadata.signatures);
    const entries = new Map(Object.entries(signed.targets).map(([p, info]) => [p, canonicalJson(info)]));
    for (const row of await e.roleEntries(role, head)) if (!entries.has(row[0])) removed.add(row[0]);
    for (const [path, fragment] of entries) upsert.set(path, { role, fragment });
  }

  const ordered = [...candidates].sort();
  let sinceYield = 0;
  let done = 0;
  let entriesReadMs = 0;
  for (let from = 0; from < ordered.length; from += ROLES_PER_SLICE) {
    const slice = ordered.slice(from, from + ROLES_PER_SLICE);
    // The slice's entries in a few queries rather than one per bin.
    const tp = performance.now();
    await e.prefetchEntries(
      slice
        .filter((r) => r !== "targets" && !sessions[r] && !seeded?.has(r))
        .map((r): [string, number] => [r, head(r)]),
    );
    entriesReadMs += performance.now() - tp;
    for (const role of slice) {
      // Signing thousands of bins takes a while: let the event loop accept
      // requests meanwhile, so the next batch grows instead of the queue.
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        extra.rebin?.progress?.(done, ordered.length);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      done++;
      const indices = byRole.get(role);
      const entries = role === "targets" && !indices ? undefined : await working.of(role);
      const touched = indices !== undefined && applyRoleChanges(changes, indices, entries!, applied);
      const rewrite = isTargetsRole(role) && (touched || forced.has(role));
      const offline = rewrite && isOfflineRole(st, role);
      if (offline) offlineRoles.add(role);
      // Final published state of every path this role's changes touched (offline roles wait for their signers).
      if (indices && !offline) for (const i of indices) finalFragment[i] = entries!.get(changes[i]!.path);
      working.roles.delete(role);
      if (!rewrite) continue;

      const version = head(role) + 1;
      if (role === "targets") {
        const expires = expiresIn(now, exp.targets);
        newTargets = { ...st.targets, version, expires };
        build.sign(role, version, expires, canonicalJson(newTargets));
        onlineRolesWritten++;
        continue;
      }
      const expires = expiresIn(now, expiryDaysFor(st, role));
      if (offline) {
        // Offline keys sign this role: park the new version in its signing
        // session; its tasks finish when the signers are done. A re-sign
        // request for a role already waiting for signers keeps the pending
        // version (and the signatures it has collected).
        if (!touched && sessions[role]?.kind === "delegation") continue;
        const targets = Object.fromEntries(
          [...entries!].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([p, f]) => [p, JSON.parse(f)]),
        );
        sessions[role] = {
          role,
          kind: "delegation",
          taskId: "",
          createdAt: now.toISOString(),
          metadata: {
            signed: { _type: "targets", spec_version: SPEC_VERSION, version, expires, targets },
            signatures: [],
          },
          tasks: sessions[role]?.tasks ?? [],
        };
        sessionsChanged = true;
        continue;
      }
      // Every entry is already canonical; assemble the document from fragments.
      // A delegated role with hash bins of its own delegates to them (TAP 15).
      const delegations = nestedDelegationsOf(st, role);
      const text = canonicalTargetsText(
        { _type: "targets", spec_version: SPEC_VERSION, version, expires, delegations },
        [...entries!],
      );
      build.sign(role, version, expires, text);
      onlineRolesWritten++;
    }
    // Whatever the slice did not use is not kept for the next one.
    e.releaseEntries();
  }

  // Which documents to write: touched/forced targets roles, then snapshot, then timestamp.
  const writeSnapshot =
    onlineRolesWritten > 0 || forced.has("snapshot") || signedRole !== undefined || deletedRoles.length > 0;
  const writeTimestamp = writeSnapshot || forced.has("timestamp");
  let snapshotDoc: DocumentRecord | undefined;
  if (writeSnapshot) snapshotDoc = build.snapshot(st.heads.get("snapshot")!.version + 1, expiresIn(now, exp.snapshot));
  if (writeTimestamp) {
    if (!snapshotDoc) snapshotDoc = (await e.store.getLatestDocument("snapshot"))!;
    build.timestamp(st.heads.get("timestamp")!.version + 1, expiresIn(now, exp.timestamp), snapshotDoc);
  }

  // The artifact rows as this batch leaves them, the last change of a path winning.
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    if (c.kind === "bump" || !byRole.has(c.role) || offlineRoles.has(c.role)) continue;
    const fragment = finalFragment[i];
    if (fragment !== undefined) {
      upsert.set(c.path, { role: c.role, fragment });
      removed.delete(c.path);
    } else {
      upsert.delete(c.path);
      removed.add(c.path);
    }
  }
  const outcomes = taskOutcomes(changes, applied);

  const tasks: TaskUpdate[] = [
    ...(extra.tasks ?? []),
    ...(signedRole?.tasks ?? []),
    ...batchTaskUpdates(outcomes, now, (role) => {
      const session = offlineRoles.has(role) ? sessions[role] : undefined;
      if (!session) return undefined;
      return {
        version: session.metadata.signed.version,
        park: (final) => {
          session.tasks = [...(session.tasks ?? []).filter((x) => x.id !== final.id), final];
        },
      };
    }),
  ];

  // Nothing clients could not load is ever committed (client-limits.ts).
  const tBuilt = performance.now();
  // Waited for even when the publication is refused: the verifier stops its
  // worker when idle only after every batch has finished.
  const verified = build.verified();
  try {
    await build.signed();
    build.assertPublishable();
  } catch (err) {
    await verified.catch(() => undefined);
    throw err;
  }
  await verified;
  const tSigned = performance.now();
  const docs = build.documents;
  const publication: Publication = {
    expectedHeads: build.expectedHeads,
    documents: docs,
    artifacts: {
      upsert: [...upsert].map(([path, v]) => ({ path, role: v.role, fragment: v.fragment })),
      remove: [...removed],
    },
    consumedChanges: changes.map((c) => c.id),
    tasks,
  };
  if (scheduled) publication.audit = [auditEntry(SCHEDULER_ACTOR, null, "resign_online_roles", scheduled)];
  const settingsOut: Record<string, unknown> = { ...extra.settings };
  if (st.settings !== prev.settings) settingsOut[SETTINGS_KEY] = st.settings;
  if (sessionsChanged) settingsOut[SESSIONS_KEY] = sessions;
  if (Object.keys(settingsOut).length > 0) publication.settings = settingsOut;
  await e.store.commitPublication(publication);
  const tCommitted = performance.now();

  // Committed: only now does the in-memory view move forward.
  // In place: copying 16384+ heads on every publication cost more than the
  // rest of a single-artifact publication (the old state is not used again).
  const heads = st.heads;
  for (const d of docs) heads.set(d.role, { role: d.role, version: d.version, expires: d.expires });
  e.state = {
    ...st,
    heads,
    snapshotMeta: writeSnapshot ? build.published() : st.snapshotMeta,
    targets: newTargets ?? st.targets,
  };
  e.sink.publish(docs.flatMap((d) => e.filesFor(d)));
  const ts = docs.find((d) => d.role === "timestamp");
  e.log.debug("published", {
    changes: changes.length,
    documents: docs.length,
    timestamp: ts?.version,
    read_ms: Math.round(tRead - t0),
    entries_read_ms: Math.round(entriesReadMs),
    build_sign_ms: Math.round(tBuilt - tRead),
    verify_wait_ms: Math.round(tSigned - tBuilt),
    commit_ms: Math.round(tCommitted - tSigned),
    serve_ms: Math.round(performance.now() - tCommitted),
    // every thread of the process (the verification worker too): wall times mean little on a busy machine
    cpu_ms: Math.round(cpuMs(process.cpuUsage(cpu0))),
  });
  if (ts) e.emitPublished(ts.version);
  if (docs.length >= COLLECT_AFTER_DOCUMENTS) collectSoon();
  return { changes: changes.length, documents: docs.length, timestampVersion: ts?.version ?? null };
}
