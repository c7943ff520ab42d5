/**
 * The repository engine's façade: what the API, the CLI's server commands,
 * the publisher loop and the scheduler call. Each workflow lives in its own
 * file (DESIGN.md "Workflows"):
 *
 *   bootstrap.ts         root v1 → the first version of every role
 *   intake.ts            artifact additions/removals, publish, re-sign requests
 *   batch.ts             the batching publisher's one batch
 *   publication.ts       signing a publication's documents (bootstrap and batch)
 *   signing-sessions.ts  documents waiting for offline signatures
 *   root-update.ts       root N+1 and online key rotation
 *   delegations.ts       custom delegated roles (delegated-bins.ts: their own hash bins)
 *   delegated-upload.ts  a delegated role's next version, signed offline and uploaded
 *   rebin.ts             a new number of hash bins, online
 *   settings.ts          expiry settings
 *   pause.ts             pausing and resuming publication
 *   task-results.ts      RSTUF task results
 *   sync.ts              catching up with other replicas
 */
import { clientMaxBytes } from "../tuf/limits.ts";
import type { Logger } from "../log.ts";
import { type AuditActor, INTERNAL_ACTOR, type RoleHead, type Store } from "../store/store.ts";
import type { SuccinctBins } from "../tuf/bins.ts";
import type { DelegatedRole, Metadata, RootSigned } from "../tuf/metadata.ts";
import { isTopLevelRole, onlineKeyFor, onlineKeyIds } from "../tuf/roles.ts";
import { type BatchOutcome, publishLocked, takeBatch } from "./batch.ts";
import { acceptBootstrap, runBootstrap } from "./bootstrap.ts";
import { acceptDelegations } from "./delegations.ts";
import { acceptDelegatedUpload } from "./delegated-upload.ts";
import { nestedBinRole } from "./delegated-bins.ts";
import { ClientLimitError, rejectionFor } from "./client-limits.ts";
import { Engine, isOfflineRole, type PublishedSink, type WakeReason } from "./engine.ts";
import { acceptAdd, acceptBump, acceptPublish, acceptRemove } from "./intake.ts";
import type { OnlineKeys } from "./online-key.ts";
import { acceptResize, finishRekey, isRetiredRole } from "./rebin.ts";
import type { AddArtifactsPayload, BootstrapPayload, DelegationsInput, RemoveArtifactsPayload } from "./payloads.ts";
import { type PublisherState, publisherState, readPause, setPaused } from "./pause.ts";
import { acceptRootUpdate } from "./root-update.ts";
import { acceptExpirationUpdate, type BootstrapRecord, type RepositorySettings } from "./settings.ts";
import { acceptSign, acceptSignDelete, pendingSigning } from "./signing-sessions.ts";
import type { PublishedState } from "./state.ts";
import { ReplicaSync } from "./sync.ts";

export type { BatchOutcome } from "./batch.ts";
export type { PublisherState } from "./pause.ts";
export type { PublishedSink, SinkFile, WakeReason } from "./engine.ts";

export interface RepositoryOptions {
  store: Store;
  onlineKeys: OnlineKeys;
  sink: PublishedSink;
  log: Logger;
  /** most changes one publish takes (whole tasks are never split) */
  maxBatch: number;
  now?: () => Date;
}

/** One role of each kind the online keys sign: top-level, one bin (all share the key), online delegated roles. */
function onlineSigningRoles(st: PublishedState): string[] {
  const roles: string[] = ["targets", "snapshot", "timestamp"];
  if (st.bins) roles.push(st.bins.nameOf(0));
  for (const r of st.targets.delegations?.roles ?? []) if (!isOfflineRole(st, r.name)) roles.push(r.name);
  return roles;
}

export class Repository {
  readonly #e: Engine;
  readonly #sync: ReplicaSync;

  constructor(opts: RepositoryOptions) {
    this.#e = new Engine(opts);
    this.#sync = new ReplicaSync(this.#e);
  }

  // ------------------------------------------------------------ lifecycle

  /** Load what is published and hand the latest files to the sink. */
  open(): Promise<void> {
    return this.#e.open();
  }

  /** Catch up with documents another replica published (sync.ts). Resolves true if it moved. */
  syncFromStore(): Promise<boolean> {
    return this.#sync.sync();
  }

  /** Resume work a crash interrupted: a bootstrap accepted but not finished. */
  async resume(): Promise<void> {
    const e = this.#e;
    if (e.bootstrap?.state === "pre" && !e.state) {
      e.log.info("resuming an interrupted bootstrap", { task_id: e.bootstrap.taskId });
      e.background(runBootstrap(e));
    }
  }

  /** Wait for background work to finish (shutdown: before the store closes). */
  drain(): Promise<void> {
    return this.#e.drain();
  }

  /** Stop background helpers (the verification worker). */
  close(): void {
    this.#e.verifier.close();
    this.#e.signPool.close();
  }

  /**
   * Called when there is work for a publisher: "accepted" = a change was
   * durably queued (other replicas' publishers may take it too); "published"
   * = a batch went out (more may be pending); "bump" = a re-sign was asked of
   * this process (only its own publisher holds such requests).
   */
  onWake(listener: (reason: WakeReason) => void): void {
    this.#e.onWake(listener);
  }

  /** Called after this process published a new timestamp (its version), so other replicas can catch up. */
  onPublished(listener: (timestampVersion: number) => void): void {
    this.#e.onPublished(listener);
  }

  // ------------------------------------------------------------ what is published

  /** version of the timestamp this process serves (0 before bootstrap) */
  get timestampVersion(): number {
    return this.#e.state?.heads.get("timestamp")?.version ?? 0;
  }

  get bootstrapped(): boolean {
    return this.#e.state !== undefined;
  }

  get bootstrapRecord(): BootstrapRecord | undefined {
    return this.#e.bootstrap;
  }

  get settings(): RepositorySettings | undefined {
    return this.#e.state?.settings;
  }

  get root(): Metadata<RootSigned> | undefined {
    return this.#e.state?.root;
  }

  /**
   * Load every online key of a bootstrapped repository now (each role's:
   * tuf/roles.ts onlineKeyFor): start-up fails with the reason
   * (ConfigurationError) instead of the first re-sign.
   */
  checkOnlineKey(): void {
    const st = this.#e.state;
    if (!st) return;
    for (const role of onlineSigningRoles(st)) this.#e.signerFor(st, role);
  }

  /** Every keyid that signs online in what is published (tuf/roles.ts onlineKeyIds). */
  onlineKeyIds(): ReadonlySet<string> {
    const st = this.#e.state;
    return st ? onlineKeyIds(st.root.signed, st.targets) : new Set();
  }

  /**
   * Which key signs each online role (keyids only, never key material):
   * targets, snapshot, timestamp, "bins" for every hash bin, and each
   * delegated role signed online.
   */
  onlineKeys(): Record<string, string> {
    const st = this.#e.state;
    if (!st) return {};
    const out: Record<string, string> = {};
    for (const role of onlineSigningRoles(st)) {
      const k = onlineKeyFor(st.root.signed, st.targets, role);
      if (k) out[st.bins?.isBin(role) ? "bins" : role] = k.keyid;
    }
    return out;
  }

  /** custom delegated roles as published in targets (empty with hash bins) */
  get delegatedRoles(): DelegatedRole[] {
    return this.#e.state?.targets.delegations?.roles ?? [];
  }

  /**
   * Heads of every role (version, expiry), for status and the scheduler.
   * Bins of an earlier layout (rebin.ts) are left out: still listed in
   * snapshot, but delegated to by nobody, so their expiry concerns no client.
   */
  heads(): { role: string; version: number; expires: string }[] {
    const st = this.#e.state;
    if (!st) return [];
    if (!st.settings.bins?.retiredBitLengths?.length) return [...st.heads.values()];
    // Filtered once per published state (each publication replaces it): /readyz,
    // /metrics and the scheduler ask often, and 16384+ names are not free to test.
    if (this.#liveHeads?.state !== st)
      this.#liveHeads = { state: st, heads: [...st.heads.values()].filter((h) => !isRetiredRole(st, h.role)) };
    return [...this.#liveHeads.heads];
  }

  #liveHeads: { state: object; heads: RoleHead[] } | null = null;

  /** #sizes without the bins of earlier layouts */
  #liveSizes(): [string, number][] {
    const st = this.#e.state;
    const all = [...this.#e.sizes];
    return st?.settings.bins?.retiredBitLengths?.length ? all.filter(([role]) => !isRetiredRole(st, role)) : all;
  }

  /** The largest targets-role document (bins and delegated roles), for metrics and status. */
  largestTargetsRole(): { role: string; bytes: number } | null {
    let best: { role: string; bytes: number } | null = null;
    for (const [role, bytes] of this.#liveSizes()) {
      if (isTopLevelRole(role)) continue;
      if (!best || bytes > best.bytes) best = { role, bytes };
    }
    return best;
  }

  /**
   * The largest latest document of each kind against the download limit TUF
   * clients apply to it (tuf/limits.ts): what to watch before a bin nears
   * its cap (then: more hash bins).
   */
  largestDocuments(): {
    kind: "root" | "timestamp" | "snapshot" | "targets";
    role: string;
    bytes: number;
    limit: number;
  }[] {
    const best = new Map<string, { role: string; bytes: number }>();
    for (const [role, bytes] of this.#liveSizes()) {
      const kind = role === "root" || role === "timestamp" || role === "snapshot" ? role : "targets";
      const cur = best.get(kind);
      if (!cur || bytes > cur.bytes) best.set(kind, { role, bytes });
    }
    return (["root", "timestamp", "snapshot", "targets"] as const).flatMap((kind) => {
      const b = best.get(kind);
      return b ? [{ kind, role: b.role, bytes: b.bytes, limit: clientMaxBytes(b.role) }] : [];
    });
  }

  binsOf(): SuccinctBins | null {
    return this.#e.state?.bins ?? null;
  }

  /** A hash bin: of top-level targets, or of a delegated role that has bins of its own (delegated-bins.ts). */
  isHashBin(role: string): boolean {
    const st = this.#e.state;
    if (!st) return false;
    return st.bins ? st.bins.isBin(role) : nestedBinRole(st, role) !== undefined;
  }

  /**
   * When the first online role (timestamp, snapshot, targets, a bin or an
   * online delegated role) expires, in ms; Infinity before bootstrap. Roles
   * signed offline are left out: re-signing here cannot renew them.
   */
  earliestOnlineExpiry(): number {
    const st = this.#e.state;
    if (!st) return Infinity;
    // Called for every new timestamp with 16384+ heads: the expiries this
    // service signs ("YYYY-MM-DDTHH:MM:SSZ") sort as text, so only the
    // earliest of those is parsed (Date.parse of every head was ~3 ms per
    // publication); any other shape is parsed.
    let earliest: string | undefined;
    let min = Infinity;
    // Live heads only: the bins of a layout retired by re-binning are no longer reached.
    for (const head of this.heads()) {
      if (head.role === "root") continue;
      const e = head.expires;
      const plain = e.length === 20 && e.charCodeAt(19) === 90 /* Z */ && e.charCodeAt(10) === 84; /* T */
      if (plain && earliest !== undefined && e >= earliest) continue;
      if (isOfflineRole(st, head.role)) continue;
      if (plain) earliest = e;
      else min = Math.min(min, Date.parse(e));
    }
    return earliest === undefined ? min : Math.min(min, Date.parse(earliest));
  }

  /** Online roles whose expiry is closer than `windowMs`. */
  expiringRoles(windowMs: number): string[] {
    const st = this.#e.state;
    if (!st) return [];
    const limit = this.#e.now().getTime() + windowMs;
    const out: string[] = [];
    for (const head of this.heads()) {
      if (head.role === "root") continue;
      if (new Date(head.expires).getTime() <= limit) out.push(head.role);
    }
    return out;
  }

  /**
   * The hash bins' latest documents, summed: how many are published and
   * their bytes (bin advice measures the bytes per target entry from it).
   * Null when the repository has no hash bins.
   */
  binsFootprint(): { published: number; bytes: number } | null {
    const bins = this.binsOf();
    if (!bins) return null;
    let published = 0;
    let bytes = 0;
    for (const [role, size] of this.#e.sizes) {
      if (!bins.isBin(role)) continue;
      published++;
      bytes += size;
    }
    return { published, bytes };
  }

  // ------------------------------------------------------------ requests (each answers with a task id)

  // `actor` (who asked, from where) is written to the audit log with the change.
  acceptBootstrap(payload: BootstrapPayload, actor: AuditActor = INTERNAL_ACTOR): Promise<{ taskId: string }> {
    return acceptBootstrap(this.#e, payload, actor);
  }

  acceptAdd(
    p: AddArtifactsPayload,
    actor: AuditActor = INTERNAL_ACTOR,
    opts: { taskId?: string } = {},
  ): Promise<{ taskId: string; paths: string[] }> {
    return acceptAdd(this.#e, p, actor, opts);
  }

  acceptRemove(
    p: RemoveArtifactsPayload,
    actor: AuditActor = INTERNAL_ACTOR,
  ): Promise<{ taskId: string; paths: string[] }> {
    return acceptRemove(this.#e, p, actor);
  }

  acceptPublish(actor: AuditActor = INTERNAL_ACTOR): Promise<{ taskId: string }> {
    return acceptPublish(this.#e, actor);
  }

  acceptBump(roles: string[], actor: AuditActor = INTERNAL_ACTOR): Promise<{ taskId: string; roles: string[] }> {
    return acceptBump(this.#e, roles, actor);
  }

  acceptRootUpdate(meta: Metadata<RootSigned>, actor: AuditActor = INTERNAL_ACTOR): Promise<{ taskId: string }> {
    return acceptRootUpdate(this.#e, meta, actor);
  }

  pendingSigning(): Promise<Record<string, unknown> | null> {
    return pendingSigning(this.#e);
  }

  acceptSign(
    role: string,
    signature: { keyid: string; sig: string },
    actor: AuditActor = INTERNAL_ACTOR,
  ): Promise<{ taskId: string }> {
    return acceptSign(this.#e, role, signature, actor);
  }

  acceptSignDelete(role: string, actor: AuditActor = INTERNAL_ACTOR): Promise<{ taskId: string }> {
    return acceptSignDelete(this.#e, role, actor);
  }

  acceptDelegations(
    op: "add" | "update" | "delete",
    input: DelegationsInput,
    actor: AuditActor = INTERNAL_ACTOR,
  ): Promise<{ taskId: string }> {
    return acceptDelegations(this.#e, op, input, actor);
  }

  /** POST /api/v1/bins: a new number of hash bins, published in one batch (rebin.ts). */
  acceptResize(count: number, actor: AuditActor = INTERNAL_ACTOR): Promise<{ taskId: string }> {
    return acceptResize(this.#e, count, actor);
  }

  /** A delegated role's next version signed offline and uploaded whole (422 when bad; published by a task). */
  acceptDelegatedUpload(
    rolename: string,
    document: unknown,
    actor: AuditActor = INTERNAL_ACTOR,
  ): Promise<{ taskId: string; version: number }> {
    return acceptDelegatedUpload(this.#e, rolename, document, actor, () => this.syncFromStore());
  }

  updateExpiration(
    expiration: Record<string, number>,
    actor: AuditActor = INTERNAL_ACTOR,
  ): Promise<{ taskId: string }> {
    return acceptExpirationUpdate(this.#e, expiration, actor);
  }

  // ------------------------------------------------------------ pausing publication (pause.ts)

  /** Stop publishing queued changes (re-signing before expiry goes on); every replica obeys it. */
  pausePublishing(actor: AuditActor = INTERNAL_ACTOR, reason: string | null = null) {
    return setPaused(this.#e, true, actor, reason);
  }

  /** Publish queued changes again. */
  resumePublishing(actor: AuditActor = INTERNAL_ACTOR) {
    return setPaused(this.#e, false, actor);
  }

  /** Whether publication is paused, read from the store (another replica may have paused it). */
  async publisherState(): Promise<PublisherState> {
    const record = await readPause(this.#e.store);
    this.#e.paused = record;
    return publisherState(record);
  }

  // ------------------------------------------------------------ publishing

  /** Changes accepted and not yet published (held ones excluded), by any replica. */
  countPendingChanges(): Promise<number> {
    return this.#e.store.countPendingChanges();
  }

  /** Ask for new versions of online roles (scheduler re-signing, forced bumps). */
  requestBump(roles: Iterable<string>): void {
    for (const r of roles) this.#e.requestedBumps.add(r);
    this.#e.wake("bump");
  }

  /**
   * Publish one batch of pending work, if any. Returns what it did. Safe to
   * call concurrently: the store's publisher lock serialises callers.
   */
  async publishOnce(): Promise<BatchOutcome> {
    const e = this.#e;
    if (!e.state) return { changes: 0, documents: 0, timestampVersion: null };
    return e.store.withLock("publisher", async () => {
      // Another replica may have published since we last looked: build on its latest.
      await this.syncFromStore();
      // Artifact rows a resize had not moved yet (it crashed): first of all (rebin.ts).
      if (e.state?.settings.bins?.rekeyFrom !== undefined) await finishRekey(e);
      const changes = await takeBatch(e);
      if (changes.length === 0 && e.requestedBumps.size === 0)
        return { changes: 0, documents: 0, timestampVersion: null };
      // A conflict means someone else published in between (another replica):
      // publishLocked reloads, and the publisher loop retries.
      try {
        return await publishLocked(e, changes, e.drainBumps(), {});
      } catch (err) {
        if (!(err instanceof ClientLimitError)) throw err;
        // Fail the tasks that made a document too big for clients; the
        // publisher's next round publishes the rest.
        const rejection = rejectionFor(changes, err, e.now());
        if (!rejection) throw err;
        await e.store.commitPublication(rejection);
        e.log.warn("rejected changes that would make a document unreadable for clients", {
          role: err.role,
          tasks: rejection.tasks?.map((t) => t.id),
          reason: err.message,
        });
        return { changes: rejection.consumedChanges?.length ?? 0, documents: 0, timestampVersion: null };
      }
    });
  }
}
