/**
 * The repository engine: bootstrap, durable acceptance of artifact changes,
 * and the single batching publisher (DESIGN.md "Workflows").
 *
 * One publish = every pending change gathered into one new version of each
 * touched targets role (bin), then one snapshot and one timestamp, signed
 * *before* the write transaction, verified, and committed in one transaction
 * that checks nobody published in between (STYLE.md rule 4).
 */
import { createHash } from "node:crypto";
import type { Store, ChangeRecord, DocumentRecord, NewChange, TaskUpdate, Publication } from "../store/store.ts";
import { StoreConflictError } from "../store/store.ts";
import { canonicalJson, canonicalObjectFromEntries, canonicalString, utf8 } from "../tuf/canonical.ts";
import { expiresIn } from "../tuf/dates.ts";
import { SuccinctBins } from "../tuf/bins.ts";
import {
  SPEC_VERSION,
  type Delegations,
  type DelegatedRole,
  type Metadata,
  type RootSigned,
  type TargetsSigned,
} from "../tuf/metadata.ts";
import { firstRoleForPath } from "../tuf/delegation.ts";
import { canonicalTargetsText, serializeEnvelope } from "../tuf/document.ts";
import type { Signer } from "../tuf/signer.ts";
import type { Logger } from "../log.ts";
import type { KeyJSON } from "../tuf/keys.ts";
import { verifyRole } from "../tuf/verify.ts";
import { verifyRootUpdate } from "../tuf/root-chain.ts";
import type { OnlineKeys } from "./online-key.ts";
import { VerifierUnavailable, VerifyPool, type VerifyBatch } from "./verify-pool.ts";
import { ConfigurationError, StateError, ValidationError } from "./errors.ts";
import { BOOTSTRAP_KEY, SETTINGS_KEY, type BootstrapRecord, type RepositorySettings } from "./settings.ts";
import { loadPublishedState, type PublishedState } from "./state.ts";
import { newTaskId, taskResult } from "./tasks.ts";
import { EXPIRE_POLICY } from "../tuf/rstuf.ts";
import {
  ONLINE_ROLES,
  ONLINE_TOP_LEVEL_ROLES,
  isSignedByOnlineKey,
  isTargetsRole,
  isTopLevelRole,
  onlineKeyId,
  onlineRoleProblem,
  publicationRank,
  type ExpiringRole,
} from "../tuf/roles.ts";
import { metadataFileName, snapshotMetaName } from "../tuf/file-names.ts";
import {
  type AddArtifactsPayload,
  type BootstrapPayload,
  type DelegationsInput,
  type RemoveArtifactsPayload,
} from "./payloads.ts";

export interface PublishedFile {
  name: string;
  bytes: Uint8Array;
  /** hex sha256 of bytes, when known */
  sha256?: string;
}

/** Where published files go (the in-memory metadata the HTTP server serves). */
export interface PublishedSink {
  publish(files: PublishedFile[]): void;
}

export interface RepositoryOptions {
  store: Store;
  onlineKeys: OnlineKeys;
  sink: PublishedSink;
  log: Logger;
  /** most changes one publish takes (whole tasks are never split) */
  maxBatch: number;
  now?: () => Date;
}

export type WakeReason = "accepted" | "published" | "bump";

export interface BatchOutcome {
  changes: number;
  documents: number;
  timestampVersion: number | null;
}

/** RSTUF's 404 message for a repository that already has metadata. */
export function alreadyBootstrapped(state: string): string {
  return `System already has a Metadata. State: ${state}`;
}

const BOOTSTRAP_PAYLOAD_KEY = "bootstrap_payload";
/** documents read at once while catching up with another replica's publication */
const SYNC_READS = 8;
/** documents signed between two event-loop turns while publishing */
const YIELD_EVERY = 200;
const SESSIONS_KEY = "signing_sessions";
const DELETED_ROLES_KEY = "deleted_roles";

/** A document waiting for offline signatures (DESIGN.md "Signing sessions"). */
export interface SigningSession {
  role: string;
  kind: "bootstrap" | "root_update" | "delegation";
  /** the task that completes when the document is published ("" for none) */
  taskId: string;
  metadata: Metadata<any>;
  createdAt: string;
  /** delegation: results recorded for the waiting tasks once the role is published */
  tasks?: TaskUpdate[];
}

export function expirePolicy(role: DelegatedRole): number {
  const days = role[EXPIRE_POLICY];
  return typeof days === "number" && days > 0 ? days : 1;
}

interface RoleEntries {
  version: number;
  entries: Map<string, string>;
}

interface PublishExtra {
  /** root N+1 to publish first (root rotation) */
  root?: Metadata<RootSigned>;
  /** a delegated role whose signing session just completed */
  signedRole?: SigningSession;
  /** extra task results to commit with the batch */
  tasks?: TaskUpdate[];
  /** the signing sessions as the caller changed them (written with the batch) */
  sessions?: Record<string, SigningSession>;
  /** store settings to write in the same transaction */
  settings?: Record<string, unknown>;
  /** a change of custom delegations: new targets delegations, roles to (re)publish, roles deleted */
  delegations?: { delegations: Delegations; publish: string[]; deleted: string[] };
}

interface TaskOutcome {
  kinds: Set<string>;
  added: string[];
  deleted: string[];
  notFound: string[];
  invalid: string[];
  roles: Set<string>;
  bumped: string[];
}

export class Repository {
  readonly #store: Store;
  readonly #keys: OnlineKeys;
  readonly #sink: PublishedSink;
  readonly #log: Logger;
  readonly #maxBatch: number;
  readonly #now: () => Date;
  #state: PublishedState | undefined;
  #bootstrap: BootstrapRecord | undefined;
  /** bin contents by role, valid for `version` (the role's head when cached) */
  readonly #entries = new Map<string, RoleEntries>();
  readonly #requestedBumps = new Set<string>();
  readonly #wakeListeners: ((reason: WakeReason) => void)[] = [];
  readonly #publishedListeners: ((timestampVersion: number) => void)[] = [];
  /** the catch-up running now, and the one queued behind it (see syncFromStore) */
  #syncRunning: Promise<boolean> | null = null;
  #syncQueued: Promise<boolean> | null = null;
  readonly #verifier = new VerifyPool();
  readonly #inFlight = new Set<Promise<void>>();
  /** bytes of the latest document of every targets role (metrics: largest bin vs the client cap) */
  readonly #sizes = new Map<string, number>();

  constructor(opts: RepositoryOptions) {
    this.#store = opts.store;
    this.#keys = opts.onlineKeys;
    this.#sink = opts.sink;
    this.#log = opts.log;
    this.#maxBatch = opts.maxBatch;
    this.#now = opts.now ?? (() => new Date());
  }

  // ------------------------------------------------------------ lifecycle

  /** Load what is published and hand the latest files to the sink. */
  async open(): Promise<void> {
    this.#bootstrap = (await this.#store.getSetting<BootstrapRecord>(BOOTSTRAP_KEY)) ?? undefined;
    const settings = await this.#store.getSetting<RepositorySettings>(SETTINGS_KEY);
    this.#state = settings ? await loadPublishedState(this.#store, settings) : undefined;
    this.#entries.clear();
    if (this.#state) await this.#publishLatestToSink();
  }

  /**
   * Catch up with documents another replica published: serve them (targets
   * roles, then snapshot, then timestamp) and reload the published state.
   * Cheap when nothing changed (one small read). Returns true if it moved.
   *
   * Called from several places at once (the publisher inside its lock,
   * notifications from other replicas, poll ticks): runs one at a time, a
   * call during a run waits for one more run after it (so it sees the
   * database as of after the call), and a result is applied only if it is
   * newer than what this process serves by then: a slow catch-up can never
   * put back an older timestamp over one this process just published.
   */
  syncFromStore(): Promise<boolean> {
    if (this.#syncQueued) return this.#syncQueued;
    if (!this.#syncRunning) return this.#startSync();
    const queued = this.#syncRunning
      .catch(() => false)
      .then(() => {
        this.#syncQueued = null;
        return this.#startSync();
      });
    this.#syncQueued = queued;
    return queued;
  }

  #startSync(): Promise<boolean> {
    const run: Promise<boolean> = this.#syncOnce().finally(() => {
      if (this.#syncRunning === run) this.#syncRunning = null;
    });
    this.#syncRunning = run;
    return run;
  }

  async #syncOnce(): Promise<boolean> {
    if (!this.#state) {
      const record = (await this.#store.getSetting<BootstrapRecord>(BOOTSTRAP_KEY)) ?? undefined;
      if (record?.state === this.#bootstrap?.state) return false;
      await this.open();
      return this.#state !== undefined;
    }
    // One small row tells whether anything moved (the heads of 16384 bins would be 16384).
    const remote = (await this.#store.getLatestDocument("timestamp"))?.version ?? 0;
    if (remote <= this.timestampVersion) return false;
    const settings = await this.#store.getSetting<RepositorySettings>(SETTINGS_KEY);
    const bootstrap = (await this.#store.getSetting<BootstrapRecord>(BOOTSTRAP_KEY)) ?? undefined;
    const state = settings ? await loadPublishedState(this.#store, settings) : undefined;
    if (!state) return false;
    // Serve exactly the versions the loaded state names (its own read of the
    // heads): if another replica publishes meanwhile, this process is behind
    // rather than ahead, and the next catch-up fixes it.
    const before = this.#state.heads;
    const wanted = [...state.heads.values()]
      .filter((h) => (before.get(h.role)?.version ?? 0) < h.version)
      .sort((a, b) => publicationRank(a.role) - publicationRank(b.role));
    const docs: (DocumentRecord | undefined)[] = [];
    for (let i = 0; i < wanted.length; i += SYNC_READS) {
      docs.push(
        ...(await Promise.all(wanted.slice(i, i + SYNC_READS).map((h) => this.#store.getDocument(h.role, h.version)))),
      );
    }
    const version = state.heads.get("timestamp")?.version ?? 0;
    // This process may have published (under the lock) while we were reading.
    if (version <= this.timestampVersion) return false;
    this.#bootstrap = bootstrap;
    this.#state = state;
    this.#sink.publish(docs.flatMap((d) => (d ? this.#filesFor(d) : [])));
    this.#log.debug("caught up with documents published elsewhere", { documents: wanted.length, timestamp: version });
    return true;
  }

  /** Resume work a crash interrupted: a bootstrap accepted but not finished. */
  async resume(): Promise<void> {
    if (this.#bootstrap?.state === "pre" && !this.#state) {
      this.#log.info("resuming an interrupted bootstrap", { task_id: this.#bootstrap.taskId });
      this.#background(this.#runBootstrap());
    }
  }

  /** Work started by a request and finished in the background (tasks, bootstrap). */
  #background(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  /** Wait for background work to finish (shutdown: before the store closes). */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stop background helpers (the verification worker). */
  close(): void {
    this.#verifier.close();
  }

  /**
   * Called when there is work for a publisher: "accepted" = a change was
   * durably queued (other replicas' publishers may take it too); "published"
   * = a batch went out (more may be pending); "bump" = a re-sign was asked of
   * this process (only its own publisher holds such requests).
   */
  onWake(listener: (reason: WakeReason) => void): void {
    this.#wakeListeners.push(listener);
  }

  #wake(reason: WakeReason): void {
    for (const l of this.#wakeListeners) l(reason);
  }

  /** Called after this process published a new timestamp (its version), so other replicas can catch up. */
  onPublished(listener: (timestampVersion: number) => void): void {
    this.#publishedListeners.push(listener);
  }

  #emitPublished(version: number): void {
    for (const l of this.#publishedListeners) {
      try {
        l(version);
      } catch (err) {
        this.#log.error("publication listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** version of the timestamp this process serves (0 before bootstrap) */
  get timestampVersion(): number {
    return this.#state?.heads.get("timestamp")?.version ?? 0;
  }

  get bootstrapped(): boolean {
    return this.#state !== undefined;
  }

  get bootstrapRecord(): BootstrapRecord | undefined {
    return this.#bootstrap;
  }

  get settings(): RepositorySettings | undefined {
    return this.#state?.settings;
  }

  get root(): Metadata<RootSigned> | undefined {
    return this.#state?.root;
  }

  /** heads of every role (version, expiry), for status and the scheduler */
  heads(): { role: string; version: number; expires: string }[] {
    return this.#state ? [...this.#state.heads.values()] : [];
  }

  /** The largest targets-role document (bins and delegated roles), for metrics and status. */
  largestTargetsRole(): { role: string; bytes: number } | null {
    let best: { role: string; bytes: number } | null = null;
    for (const [role, bytes] of this.#sizes) {
      if (isTopLevelRole(role)) continue;
      if (!best || bytes > best.bytes) best = { role, bytes };
    }
    return best;
  }

  binsOf(): SuccinctBins | null {
    return this.#state?.bins ?? null;
  }

  async #publishLatestToSink(): Promise<void> {
    const st = this.#state!;
    const files: PublishedFile[] = [];
    // Targets roles first, root, snapshot, timestamp last: as a publication becomes visible.
    const roles = [...st.heads.keys()].filter(isTargetsRole);
    for (const role of [...roles, "root", "snapshot", "timestamp"]) {
      const doc = await this.#store.getLatestDocument(role);
      if (!doc) continue;
      files.push(...this.#filesFor(doc));
    }
    this.#sink.publish(files);
  }

  /** The names a document is served under; the digest travels along so the server does not hash again. */
  #filesFor(doc: DocumentRecord): PublishedFile[] {
    this.#sizes.set(doc.role, doc.bytes.length);
    const file = (name: string): PublishedFile => ({ name, bytes: doc.bytes, sha256: doc.sha256 });
    const files = [file(metadataFileName(doc.role, doc.version))];
    if (doc.role === "root") files.push(file("root.json"));
    return files;
  }

  // ------------------------------------------------------------ bootstrap

  /**
   * Accept a validated bootstrap payload: recorded durably, then run in the
   * background (16384 bins take about a second). Answers with the task id.
   */
  async acceptBootstrap(payload: BootstrapPayload): Promise<{ taskId: string }> {
    if (this.#bootstrap) throw new StateError(alreadyBootstrapped(this.#bootstrap.state));
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
    const onlineId = onlineKeyId(root.signed)!;
    try {
      this.#keys.signerFor(onlineId, root.signed.keys[onlineId]!);
    } catch (err) {
      if (err instanceof ConfigurationError) {
        throw ValidationError.at(
          ["body", "metadata", "root", "signed", "keys", onlineId],
          `${err.message} (hint: ${err.hint})`,
        );
      }
      throw err;
    }
    const taskId = newTaskId();
    const record: BootstrapRecord = { state: verification.verified ? "pre" : "signing", taskId };
    const settings: Record<string, unknown> = { [BOOTSTRAP_KEY]: record, [BOOTSTRAP_PAYLOAD_KEY]: payload };
    if (!verification.verified) {
      // Root v1 lacks threshold signatures: park it in a signing session.
      const sessions = await this.#sessions();
      sessions.root = { role: "root", kind: "bootstrap", taskId, metadata: root, createdAt: this.#now().toISOString() };
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
          this.#now(),
        );
    // Waiting for signatures is a finished task with status true, as RSTUF
    // reports it: the rstuf CLI polls until SUCCESS/FAILURE/ERRORED.
    await this.#store.accept(
      { id: taskId, name: "bootstrap", state: verification.verified ? "PENDING" : "SUCCESS", result: pendingResult },
      [],
      false,
    );
    await this.#store.setSettings(settings);
    this.#bootstrap = record;
    if (verification.verified) this.#background(this.#runBootstrap());
    return { taskId };
  }

  #runBootstrap(): Promise<void> {
    return this.#store.withLock("publisher", () => this.#runBootstrapLocked());
  }

  /** Caller holds the publisher lock. */
  async #runBootstrapLocked(): Promise<void> {
    const record = this.#bootstrap!;
    const payload = await this.#store.getSetting<BootstrapPayload>(BOOTSTRAP_PAYLOAD_KEY);
    const now = this.#now();
    let committed = false;
    try {
      if (!payload) throw new Error("bootstrap payload missing from the store");
      await this.#store.updateTasks([{ id: record.taskId, state: "STARTED", result: null }]);
      const started = performance.now();
      let built = this.#buildBootstrap(payload, record, now, await this.#sessions());
      try {
        await built.verified;
      } catch (err) {
        if (!(err instanceof VerifierUnavailable)) throw err;
        built = this.#buildBootstrap(payload, record, now, await this.#sessions());
        await built.verified;
      }
      const { publication, settings } = built;
      await this.#store.commitPublication(publication);
      committed = true;
      this.#bootstrap = { state: "finished", taskId: record.taskId };
      this.#state = await loadPublishedState(this.#store, settings);
      this.#sink.publish(publication.documents.flatMap((d) => this.#filesFor(d)));
      this.#log.info("bootstrap finished", {
        task_id: record.taskId,
        bins: settings.bins?.count ?? 0,
        documents: publication.documents.length,
        ms: Math.round(performance.now() - started),
      });
      this.#wake("published");
      this.#emitPublished(1);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (committed) {
        // Published; only reading it back failed (the database went away
        // right after the commit). Not a failed bootstrap: the next
        // catch-up (syncFromStore) loads it from the store.
        this.#log.error("bootstrap published, but reading it back failed; loading it again shortly", {
          task_id: record.taskId,
          error: reason,
        });
        this.#bootstrap = undefined;
        this.#state = undefined;
        return;
      }
      this.#log.error("bootstrap failed", { task_id: record.taskId, error: reason });
      this.#bootstrap = undefined;
      try {
        await this.#store.setSettings({ [BOOTSTRAP_KEY]: undefined, [BOOTSTRAP_PAYLOAD_KEY]: undefined });
        await this.#store.updateTasks([
          {
            id: record.taskId,
            state: "FAILURE",
            result: taskResult("bootstrap", false, "Bootstrap failed", null, this.#now(), reason),
          },
        ]);
      } catch (cleanup) {
        // The store itself is unreachable: the record stays "pre" and the bootstrap resumes at the next start.
        this.#log.error("could not record the failed bootstrap", {
          task_id: record.taskId,
          error: cleanup instanceof Error ? cleanup.message : String(cleanup),
        });
      }
    }
  }

  #buildBootstrap(
    payload: BootstrapPayload,
    record: BootstrapRecord,
    now: Date,
    sessions: Record<string, SigningSession>,
  ): { publication: Publication; settings: RepositorySettings; verified: Promise<void> } {
    const root = payload.root;
    const onlineId = onlineKeyId(root.signed)!;
    const onlineKey = root.signed.keys[onlineId]!;
    const signer = this.#keys.signerFor(onlineId, onlineKey);
    const verify = this.#verifier.batch(signer.publicKey);
    const bins = payload.bitLength !== null ? new SuccinctBins(payload.bitLength, "bins") : null;
    const settings: RepositorySettings = {
      expiration: payload.expiration,
      bins: bins ? { count: bins.count, bitLength: bins.bitLength, prefix: bins.prefix } : null,
      onlineKeyId: onlineId,
      consistentSnapshot: root.signed.consistent_snapshot,
    };
    const docs: DocumentRecord[] = [];
    const rootText = canonicalJson(root.signed);
    docs.push(this.#record("root", 1, root.signed.expires, serializeEnvelope(rootText, root.signatures)));

    let delegations: Delegations;
    if (bins) {
      delegations = {
        keys: { [onlineId]: onlineKey },
        succinct_roles: { bit_length: bins.bitLength, name_prefix: bins.prefix, keyids: [onlineId], threshold: 1 },
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
    const snapshotMeta: [string, string][] = [];
    docs.push(this.#signed("targets", 1, targets.expires, canonicalJson(targets), signer, verify));
    snapshotMeta.push([snapshotMetaName("targets"), '{"version":1}']);
    const newSessions = { ...sessions };
    const roleDocs: { name: string; days: number; online: boolean }[] = bins
      ? bins.names().map((name) => ({ name, days: payload.expiration.bins, online: true }))
      : delegations.roles!.map((r) => ({
          name: r.name,
          days: expirePolicy(r),
          online: isSignedByOnlineKey(r, onlineId),
        }));
    for (const { name, days, online } of roleDocs) {
      const expires = expiresIn(now, days);
      if (online) {
        const text = canonicalTargetsText({ _type: "targets", spec_version: SPEC_VERSION, version: 1, expires }, []);
        docs.push(this.#signed(name, 1, expires, text, signer, verify));
        snapshotMeta.push([snapshotMetaName(name), '{"version":1}']);
      } else {
        // Offline-key role: v1 waits for its signers; snapshot lists it once signed.
        const signed: TargetsSigned = {
          _type: "targets",
          spec_version: SPEC_VERSION,
          version: 1,
          expires,
          targets: {},
        };
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
    const snapshotDoc = this.#snapshotDoc(1, expiresIn(now, payload.expiration.snapshot), snapshotMeta, signer, verify);
    docs.push(snapshotDoc);
    docs.push(this.#timestampDoc(1, expiresIn(now, payload.expiration.timestamp), snapshotDoc, signer, verify));
    const publication: Publication = {
      expectedHeads: Object.fromEntries(docs.map((d) => [d.role, 0])),
      documents: docs,
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
    return { publication, settings, verified: verify.done() };
  }

  // ------------------------------------------------------------ documents

  #record(role: string, version: number, expires: string, bytes: Uint8Array): DocumentRecord {
    return { role, version, expires, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
  }

  /** Sign with the online key; `verify` checks the signature (on another core) before anything is written. */
  #signed(
    role: string,
    version: number,
    expires: string,
    signedText: string,
    signer: Signer,
    verify: VerifyBatch,
  ): DocumentRecord {
    const data = utf8(signedText);
    const sig = signer.sign(data);
    const bytes = serializeEnvelope(signedText, [{ keyid: signer.keyid, sig }]);
    verify.add(metadataFileName(role, version), data, sig);
    return this.#record(role, version, expires, bytes);
  }

  #snapshotDoc(
    version: number,
    expires: string,
    meta: [string, string][],
    signer: Signer,
    verify: VerifyBatch,
  ): DocumentRecord {
    const text = canonicalObjectFromEntries([
      ["_type", '"snapshot"'],
      ["expires", canonicalString(expires)],
      ["meta", canonicalObjectFromEntries(meta)],
      ["spec_version", canonicalString(SPEC_VERSION)],
      ["version", String(version)],
    ]);
    return this.#signed("snapshot", version, expires, text, signer, verify);
  }

  #timestampDoc(
    version: number,
    expires: string,
    snapshot: DocumentRecord,
    signer: Signer,
    verify: VerifyBatch,
  ): DocumentRecord {
    const signed = {
      _type: "timestamp",
      spec_version: SPEC_VERSION,
      version,
      expires,
      meta: {
        "snapshot.json": {
          version: snapshot.version,
          length: snapshot.bytes.length,
          hashes: { sha256: snapshot.sha256 },
        },
      },
    };
    return this.#signed("timestamp", version, expires, canonicalJson(signed), signer, verify);
  }

  #onlineSigner(st: PublishedState): Signer {
    const id = st.settings.onlineKeyId;
    return this.#keys.signerFor(id, st.root.signed.keys[id]!);
  }

  // ------------------------------------------------------------ accepting changes

  #requireBootstrapped(): PublishedState {
    if (!this.#state) throw new StateError("System has not a Repository Metadata");
    return this.#state;
  }

  /**
   * Durably accept artifact additions; resolves once they are on disk.
   * `taskId`: a caller that must not add the same batch twice (the drop
   * directory, resuming after a crash) picks the id itself; a second accept
   * with it is a StoreConflictError and writes nothing.
   */
  async acceptAdd(
    p: AddArtifactsPayload,
    opts: { taskId?: string } = {},
  ): Promise<{ taskId: string; paths: string[] }> {
    const st = this.#requireBootstrapped();
    const taskId = opts.taskId ?? newTaskId();
    const changes: NewChange[] = p.artifacts.map((a) => {
      const info = p.addTaskIdToCustom
        ? { ...a.info, custom: { ...(a.info.custom ?? {}), added_by_task_id: taskId } }
        : a.info;
      return { kind: "add", path: a.path, role: this.#roleForPath(st, a.path), fragment: canonicalJson(info) };
    });
    const paths = p.artifacts.map((a) => a.path);
    if (p.publish) {
      await this.#store.accept({ id: taskId, name: "add_artifacts", state: "PENDING" }, changes, false);
      this.#wake("accepted");
    } else {
      // Accepted and kept, not published until POST /artifacts/publish: the task itself is done.
      const roles = [...new Set(changes.map((c) => c.role))];
      const result = taskResult(
        "add_artifacts",
        true,
        "Artifact(s) Added",
        { added_artifacts: paths, invalid_paths: [], artifact_roles: roles, published: false },
        this.#now(),
      );
      await this.#store.accept({ id: taskId, name: "add_artifacts", state: "SUCCESS", result }, changes, true);
    }
    return { taskId, paths };
  }

  async acceptRemove(p: RemoveArtifactsPayload): Promise<{ taskId: string; paths: string[] }> {
    const st = this.#requireBootstrapped();
    const taskId = newTaskId();
    const changes: NewChange[] = p.paths.map((path) => ({
      kind: "remove",
      path,
      role: this.#roleForPath(st, path),
      fragment: null,
    }));
    if (p.publish) {
      await this.#store.accept({ id: taskId, name: "remove_artifacts", state: "PENDING" }, changes, false);
      this.#wake("accepted");
    } else {
      const result = taskResult(
        "remove_artifacts",
        true,
        "Artifact(s) Removed",
        { deleted_artifacts: p.paths, not_found_artifacts: [], published: false },
        this.#now(),
      );
      await this.#store.accept({ id: taskId, name: "remove_artifacts", state: "SUCCESS", result }, changes, true);
    }
    return { taskId, paths: p.paths };
  }

  /** Publish everything accepted with publish_artifacts: false. */
  async acceptPublish(): Promise<{ taskId: string }> {
    this.#requireBootstrapped();
    const taskId = newTaskId();
    await this.#store.releaseHeldChanges();
    // A marker queued after the released changes completes once they are published.
    await this.#store.accept(
      { id: taskId, name: "publish_artifacts", state: "PENDING" },
      [{ kind: "bump", path: "", role: "", fragment: null }],
      false,
    );
    this.#wake("accepted");
    return { taskId };
  }

  /** The targets role an artifact path belongs to; "" when no delegation covers it (reported as an invalid path). */
  #roleForPath(st: PublishedState, path: string): string {
    if (st.bins) return st.bins.binForPath(path);
    return firstRoleForPath(st.targets.delegations?.roles ?? [], path)?.name ?? "";
  }

  #delegatedRole(st: PublishedState, role: string): DelegatedRole | undefined {
    return st.targets.delegations?.roles?.find((r) => r.name === role);
  }

  /** A delegated role whose keys are offline: its new versions go through a signing session. */
  #isOfflineRole(st: PublishedState, role: string): boolean {
    const r = this.#delegatedRole(st, role);
    return r !== undefined && !isSignedByOnlineKey(r, st.settings.onlineKeyId);
  }

  // ------------------------------------------------------------ signing sessions

  async #sessions(): Promise<Record<string, SigningSession>> {
    return (await this.#store.getSetting<Record<string, SigningSession>>(SESSIONS_KEY)) ?? {};
  }

  /** Pending documents with what they are checked against (GET /api/v1/metadata/sign). */
  async pendingSigning(): Promise<Record<string, unknown> | null> {
    const sessions = await this.#sessions();
    const names = Object.keys(sessions);
    if (names.length === 0) return null;
    const out: Record<string, unknown> = {};
    for (const name of names) out[name] = sessions[name]!.metadata;
    if (this.#state && sessions.root) out.trusted_root = this.#state.root;
    if (this.#state && names.some((n) => n !== "root")) {
      const targets = await this.#store.getLatestDocument("targets");
      if (targets) out.trusted_targets = JSON.parse(new TextDecoder().decode(targets.bytes));
    }
    return out;
  }

  /** Accept one signature for a pending document; processed in the background, reported by the task. */
  async acceptSign(role: string, signature: { keyid: string; sig: string }): Promise<{ taskId: string }> {
    const taskId = newTaskId();
    await this.#store.createTask({ id: taskId, name: "sign_metadata", state: "PENDING" });
    this.#background(this.#runTask(taskId, "sign_metadata", () => this.#processSign(role, signature)));
    return { taskId };
  }

  async acceptSignDelete(role: string): Promise<{ taskId: string }> {
    const taskId = newTaskId();
    await this.#store.createTask({ id: taskId, name: "delete_sign_metadata", state: "PENDING" });
    this.#background(
      this.#runTask(taskId, "delete_sign_metadata", async () => {
        return this.#store.withLock("publisher", async () => {
          const sessions = await this.#sessions();
          const session = sessions[role];
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
            this.#now(),
            `signing of ${role} v${session.metadata.signed.version} was cancelled`,
          );
          tasks.push({ id: session.taskId, state: "REVOKED", result: cancelled });
          if (session.kind === "bootstrap") {
            // Cancelling a pending bootstrap frees the repository for a new one.
            settings[BOOTSTRAP_KEY] = undefined;
            settings[BOOTSTRAP_PAYLOAD_KEY] = undefined;
            this.#bootstrap = undefined;
          }
          await this.#store.setSettings(settings);
          await this.#store.updateTasks(tasks);
          return { ok: true, message: "Metadata sign delete finished", details: { deleted_roles: [role] } };
        });
      }),
    );
    return { taskId };
  }

  /** Run a background task body and record its outcome; never throws. */
  async #runTask(
    taskId: string,
    name: string,
    body: () => Promise<{ ok: boolean; message: string; details?: Record<string, unknown>; error?: string }>,
  ): Promise<void> {
    try {
      await this.#store.updateTasks([{ id: taskId, state: "STARTED", result: null }]);
      const r = await body();
      await this.#store.updateTasks([
        {
          id: taskId,
          state: r.ok ? "SUCCESS" : "ERRORED",
          result: taskResult(name, r.ok, r.message, r.details ?? null, this.#now(), r.error),
        },
      ]);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#log.error(`${name} failed`, { task_id: taskId, error: reason });
      await this.#store
        .updateTasks([
          {
            id: taskId,
            state: "FAILURE",
            result: taskResult(name, false, `${name} failed`, null, this.#now(), reason),
          },
        ])
        .catch(() => undefined);
    }
  }

  /**
   * Add one signature to a pending document; publish it the moment its
   * thresholds are met. Every session change happens under the publisher lock:
   * the publisher itself updates delegated roles' sessions.
   */
  async #processSign(role: string, signature: { keyid: string; sig: string }) {
    return this.#store.withLock("publisher", async () => {
      const sessions = await this.#sessions();
      const session = sessions[role];
      if (!session) return { ok: false, message: "Signature Failed", error: `No signatures pending for ${role}` };
      const meta = session.metadata;
      const version = meta.signed.version;
      let keys: Record<string, KeyJSON>;
      let allowed: Set<string>;
      let delegated: DelegatedRole | undefined;
      const trusted = session.kind === "root_update" ? this.#state?.root : undefined;
      if (session.kind === "delegation") {
        const st = this.#requireBootstrapped();
        delegated = this.#delegatedRole(st, role);
        if (!delegated)
          return { ok: false, message: "Signature Failed", error: `${role} is no longer a delegated role` };
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
        await this.#store.setSettings({ [SESSIONS_KEY]: sessions });
        const pending = `${role === "root" ? "Root" : role} v${version} is pending signatures`;
        return {
          ok: true,
          message: "Signature Processed",
          details: session.kind === "bootstrap" ? { bootstrap: pending } : { update: pending },
        };
      }
      delete sessions[role];
      if (session.kind === "bootstrap") {
        const payload = (await this.#store.getSetting<BootstrapPayload>(BOOTSTRAP_PAYLOAD_KEY))!;
        payload.root = meta;
        const record: BootstrapRecord = { state: "pre", taskId: session.taskId };
        await this.#store.setSettings({
          [SESSIONS_KEY]: sessions,
          [BOOTSTRAP_KEY]: record,
          [BOOTSTRAP_PAYLOAD_KEY]: payload,
        });
        this.#bootstrap = record;
        await this.#runBootstrapLocked();
        if (!this.#state)
          return {
            ok: false,
            message: "Signature Failed",
            error: "the bootstrap failed after the last signature; see the bootstrap task",
          };
        return { ok: true, message: "Signature Processed", details: { bootstrap: "Bootstrap Finished" } };
      }
      if (session.kind === "delegation") {
        await this.#publishLocked([], new Set(), { signedRole: session, sessions });
        return { ok: true, message: "Signature Processed", details: { update: `Role ${role} signing complete` } };
      }
      const tasks: TaskUpdate[] = [
        {
          id: session.taskId,
          state: "SUCCESS",
          result: taskResult("metadata_update", true, "Metadata Update Processed", { role: "root" }, this.#now()),
        },
      ];
      await this.#publishLocked(await this.#takeBatch(), this.#drainBumps(), { root: meta, tasks, sessions });
      return { ok: true, message: "Signature Processed", details: { update: "Metadata update finished" } };
    });
  }

  /**
   * Accept root N+1 (POST /api/v1/metadata). Checked now (422 naming the
   * field); published when both thresholds are met, else parked for signatures.
   */
  async acceptRootUpdate(meta: Metadata<RootSigned>): Promise<{ taskId: string }> {
    const st = this.#requireBootstrapped();
    const loc = ["body", "metadata", "root"];
    const current = st.root.signed.version;
    if (meta.signed.version !== current + 1)
      throw ValidationError.at(
        [...loc, "signed", "version"],
        `must be ${current + 1} (the trusted root is version ${current})`,
      );
    if ((await this.#sessions()).root)
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
      this.#keys.signerFor(onlineId, meta.signed.keys[onlineId]!);
    } catch (err) {
      if (err instanceof ConfigurationError)
        throw ValidationError.at([...loc, "signed", "keys", onlineId], `${err.message} (hint: ${err.hint})`);
      throw err;
    }
    const taskId = newTaskId();
    await this.#store.createTask({ id: taskId, name: "metadata_update", state: "PENDING" });
    this.#background(
      this.#runTask(taskId, "metadata_update", () =>
        this.#store.withLock("publisher", async () => {
          if (verifyRootUpdate(meta, st.root).verified) {
            await this.#publishLocked(await this.#takeBatch(), this.#drainBumps(), { root: meta });
            return { ok: true, message: "Metadata Update Processed", details: { role: "root" } };
          }
          const sessions = await this.#sessions();
          sessions.root = {
            role: "root",
            kind: "root_update",
            taskId,
            metadata: meta,
            createdAt: this.#now().toISOString(),
          };
          await this.#store.setSettings({ [SESSIONS_KEY]: sessions });
          return {
            ok: true,
            message: "Metadata Update Processed",
            details: { update: `Root v${meta.signed.version} is pending signatures` },
          };
        }),
      ),
    );
    return { taskId };
  }

  #drainBumps(): Set<string> {
    const bumps = new Set(this.#requestedBumps);
    this.#requestedBumps.clear();
    return bumps;
  }

  /** #publish for callers that already hold the publisher lock; reloads state after a conflict. */
  async #publishLocked(changes: ChangeRecord[], bumps: Set<string>, extra: PublishExtra): Promise<BatchOutcome> {
    try {
      const outcome = await this.#publish(changes, bumps, extra);
      this.#wake("published");
      return outcome;
    } catch (err) {
      for (const b of bumps) this.#requestedBumps.add(b);
      if (err instanceof StoreConflictError) await this.open();
      throw err;
    }
  }

  // ------------------------------------------------------------ delegations

  /**
   * POST/PUT /api/v1/delegations and /delegations/delete. Each role succeeds or
   * fails on its own (details.failed_roles); a deleted name is never reused.
   */
  async acceptDelegations(op: "add" | "update" | "delete", input: DelegationsInput): Promise<{ taskId: string }> {
    const st = this.#requireBootstrapped();
    if (st.bins) throw new StateError("this repository uses hash bins; custom delegations cannot be changed");
    const taskId = newTaskId();
    await this.#store.createTask({ id: taskId, name: "metadata_delegation", state: "PENDING" });
    this.#background(
      this.#runTask(taskId, "metadata_delegation", () =>
        this.#store.withLock("publisher", async () => {
          const cur = this.#state!;
          const onlineId = cur.settings.onlineKeyId;
          const deletedBefore = (await this.#store.getSetting<string[]>(DELETED_ROLES_KEY)) ?? [];
          const roles = [...(cur.targets.delegations?.roles ?? [])];
          const keys = { ...(cur.targets.delegations?.keys ?? {}), ...input.keys };
          const done: string[] = [];
          const failed: { role: string; reason: string }[] = [];
          const publish: string[] = [];
          const deleted: string[] = [];
          for (const r of input.roles) {
            const at = roles.findIndex((x) => x.name === r.name);
            const role = r.keyids.length === 0 ? { ...r, keyids: [onlineId], threshold: 1 } : r;
            if (op === "add") {
              if (at >= 0) failed.push({ role: r.name, reason: "role already exists" });
              else if (deletedBefore.includes(r.name))
                failed.push({ role: r.name, reason: "role name was deleted before and cannot be reused" });
              else {
                roles.push(role);
                publish.push(r.name);
                done.push(r.name);
              }
            } else if (at < 0) {
              failed.push({ role: r.name, reason: "role does not exist" });
            } else if (op === "update") {
              roles[at] = role;
              publish.push(r.name);
              done.push(r.name);
            } else {
              roles.splice(at, 1);
              deleted.push(r.name);
              done.push(r.name);
            }
          }
          if (done.length === 0)
            return {
              ok: false,
              message: "Metadata Delegation Failed",
              details: { delegated_roles: [], failed_roles: failed },
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
          await this.#publishLocked(await this.#takeBatch(), this.#drainBumps(), {
            delegations: { delegations: { ...(cur.targets.delegations ?? {}), keys, roles }, publish, deleted },
            // In the same transaction as the new targets: a deleted name can never come back.
            settings: deleted.length > 0 ? { [DELETED_ROLES_KEY]: [...deletedBefore, ...deleted] } : undefined,
          });
          return {
            ok: true,
            message: "Metadata Delegation Processed",
            details: { delegated_roles: done, failed_roles: failed },
          };
        }),
      ),
    );
    return { taskId };
  }

  // ------------------------------------------------------------ forced bumps and settings

  /** POST /api/v1/metadata/online: new versions of online roles (empty = all), durably queued. */
  async acceptBump(roles: string[]): Promise<{ taskId: string; roles: string[] }> {
    const st = this.#requireBootstrapped();
    const all: string[] = st.bins ? [...ONLINE_ROLES] : [...ONLINE_TOP_LEVEL_ROLES];
    const chosen = roles.length === 0 ? all : roles;
    chosen.forEach((r, i) => {
      if (!all.includes(r) && !st.bins?.isBin(r) && !this.#delegatedRole(st, r))
        throw ValidationError.at(
          ["body", "roles", i],
          `"${r}" is not an online role (online roles: ${all.join(", ")}, a bin name or a delegated role)`,
        );
    });
    const taskId = newTaskId();
    await this.#store.accept(
      { id: taskId, name: "force_online_metadata_update", state: "PENDING" },
      chosen.map((role) => ({ kind: "bump", path: "", role, fragment: null })),
      false,
    );
    this.#wake("accepted");
    return { taskId, roles: chosen };
  }

  /** PUT /api/v1/config: per-role expiration; applies from the next signature of each role. */
  async updateExpiration(expiration: Record<string, number>): Promise<{ taskId: string }> {
    this.#requireBootstrapped();
    const taskId = newTaskId();
    await this.#store.createTask({ id: taskId, name: "update_settings", state: "PENDING" });
    this.#background(
      this.#runTask(taskId, "update_settings", () =>
        this.#store.withLock("publisher", async () => {
          const st = this.#state!;
          const updated: string[] = [];
          const invalid: string[] = [];
          const next = { ...st.settings.expiration };
          for (const [role, days] of Object.entries(expiration)) {
            if (role in next) {
              next[role as ExpiringRole] = days;
              updated.push(role);
            } else invalid.push(role);
          }
          const settings = { ...st.settings, expiration: next };
          await this.#store.setSettings({ [SETTINGS_KEY]: settings });
          this.#state = { ...st, settings };
          return {
            ok: updated.length > 0,
            message: updated.length > 0 ? "Settings Updated" : "Settings Update Failed",
            details: { updated_roles: updated, invalid_roles: invalid },
          };
        }),
      ),
    );
    return { taskId };
  }

  // ------------------------------------------------------------ publishing

  /** Ask for new versions of online roles (scheduler re-signing, forced bumps). */
  requestBump(roles: Iterable<string>): void {
    for (const r of roles) this.#requestedBumps.add(r);
    this.#wake("bump");
  }

  /** Online roles whose expiry is closer than `windowMs`. */
  expiringRoles(windowMs: number): string[] {
    const st = this.#state;
    if (!st) return [];
    const limit = this.#now().getTime() + windowMs;
    const out: string[] = [];
    for (const head of st.heads.values()) {
      if (head.role === "root") continue;
      if (new Date(head.expires).getTime() <= limit) out.push(head.role);
    }
    return out;
  }

  /**
   * Publish one batch of pending work, if any. Returns what it did. Safe to
   * call concurrently: the store's publisher lock serialises callers.
   */
  async publishOnce(): Promise<BatchOutcome> {
    if (!this.#state) return { changes: 0, documents: 0, timestampVersion: null };
    return this.#store.withLock("publisher", async () => {
      // Another replica may have published since we last looked: build on its latest.
      await this.syncFromStore();
      const changes = await this.#takeBatch();
      if (changes.length === 0 && this.#requestedBumps.size === 0)
        return { changes: 0, documents: 0, timestampVersion: null };
      // A conflict means someone else published in between (another replica):
      // #publishLocked reloads, and the publisher loop retries.
      return this.#publishLocked(changes, this.#drainBumps(), {});
    });
  }

  /** Oldest pending changes, cut at a task boundary so a task is never split. */
  async #takeBatch(): Promise<ChangeRecord[]> {
    const changes = await this.#store.pendingChanges(this.#maxBatch + 1);
    if (changes.length <= this.#maxBatch) return changes;
    const lastTask = changes[this.#maxBatch - 1]!.taskId;
    let end = this.#maxBatch;
    if (changes[this.#maxBatch]!.taskId === lastTask) {
      // The task straddles the limit: drop it entirely unless it is the only one.
      end = changes.findIndex((c) => c.taskId === lastTask);
      if (end === 0) return this.#wholeTask(lastTask);
    }
    return changes.slice(0, end);
  }

  async #wholeTask(taskId: string): Promise<ChangeRecord[]> {
    // One request never exceeds max_artifacts_per_request, so a task is bounded.
    const all = await this.#store.pendingChanges(this.#maxBatch * 4);
    return all.filter((c) => c.taskId === taskId);
  }

  async #roleEntries(role: string, headVersion: number): Promise<Map<string, string>> {
    const cached = this.#entries.get(role);
    if (cached && cached.version === headVersion) return cached.entries;
    const rows = await this.#store.listArtifactsInRole(role);
    const entries = new Map(rows.map((r) => [r.path, r.fragment]));
    this.#entries.set(role, { version: headVersion, entries });
    return entries;
  }

  #expandBump(st: PublishedState, role: string): string[] {
    if (role === "bins") return st.bins ? st.bins.names() : [];
    return [role];
  }

  async #publish(changes: ChangeRecord[], bumps: Set<string>, extra: PublishExtra = {}): Promise<BatchOutcome> {
    const t0 = performance.now();
    const prev = this.#state!;
    const now = this.#now();
    let st = prev;
    const firstDocs: DocumentRecord[] = [];
    if (extra.root) {
      // Root rotation: root N+1 first; if the online key changed, every online
      // role is re-signed with the new key in this same batch and the old key
      // is no longer used.
      const root = extra.root;
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
      st = { ...st, root, settings, targets };
      firstDocs.push(
        this.#record(
          "root",
          root.signed.version,
          root.signed.expires,
          serializeEnvelope(canonicalJson(root.signed), root.signatures),
        ),
      );
    }
    const signer = this.#onlineSigner(st);
    const verify = this.#verifier.batch(signer.publicKey);
    const sessions = extra.sessions ?? (st.bins ? {} : await this.#sessions());
    let sessionsChanged = extra.sessions !== undefined;
    const deletedRoles = extra.delegations?.deleted ?? [];
    if (extra.delegations) {
      st = { ...st, targets: { ...st.targets, delegations: extra.delegations.delegations } };
      bumps.add("targets");
      for (const r of extra.delegations.publish) bumps.add(r);
      for (const r of deletedRoles) {
        delete sessions[r];
        sessionsChanged = true;
      }
    }
    const working = new Map<string, Map<string, string>>();
    const outcomes = new Map<string, TaskOutcome>();
    const touched = new Set<string>();
    const forced = new Set<string>();
    for (const b of bumps) for (const r of this.#expandBump(st, b)) forced.add(r);

    const workingFor = async (role: string): Promise<Map<string, string>> => {
      let w = working.get(role);
      if (!w) {
        // An offline role with a pending version builds on that version.
        const pending =
          sessions[role]?.kind === "delegation"
            ? (sessions[role]!.metadata.signed.targets as Record<string, unknown>)
            : undefined;
        w = pending
          ? new Map(Object.entries(pending).map(([p, info]) => [p, canonicalJson(info)]))
          : new Map(await this.#roleEntries(role, st.heads.get(role)?.version ?? 0));
        working.set(role, w);
      }
      return w;
    };

    for (const c of changes) {
      let t = outcomes.get(c.taskId);
      if (!t)
        outcomes.set(
          c.taskId,
          (t = { kinds: new Set(), added: [], deleted: [], notFound: [], invalid: [], roles: new Set(), bumped: [] }),
        );
      t.kinds.add(c.kind === "bump" && c.role === "" ? "marker" : c.kind);
      if (c.kind !== "bump" && (c.role === "" || (!st.bins && !this.#delegatedRole(st, c.role)))) {
        // No delegation covers the path (or its role was deleted since): RSTUF reports it as invalid.
        if (c.kind === "add") t.invalid.push(c.path);
        else t.notFound.push(c.path);
        continue;
      }
      if (c.kind === "add") {
        const w = await workingFor(c.role);
        if (w.get(c.path) !== c.fragment) {
          w.set(c.path, c.fragment!);
          touched.add(c.role);
        }
        t.added.push(c.path);
        t.roles.add(c.role);
      } else if (c.kind === "remove") {
        const w = await workingFor(c.role);
        if (w.delete(c.path)) {
          touched.add(c.role);
          t.deleted.push(c.path);
          t.roles.add(c.role);
        } else {
          t.notFound.push(c.path);
        }
      } else if (c.role !== "") {
        for (const r of this.#expandBump(st, c.role)) forced.add(r);
        t.bumped.push(c.role);
      }
    }

    // Which documents to write: touched/forced targets roles, then snapshot, then timestamp.
    const targetRoles = new Set<string>();
    for (const r of [...touched, ...forced]) if (isTargetsRole(r)) targetRoles.add(r);
    const offlineRoles = new Set([...targetRoles].filter((r) => this.#isOfflineRole(st, r)));
    const signedRole = extra.signedRole;
    const writeSnapshot =
      targetRoles.size > offlineRoles.size ||
      forced.has("snapshot") ||
      signedRole !== undefined ||
      deletedRoles.length > 0;
    const writeTimestamp = writeSnapshot || forced.has("timestamp");

    const docs: DocumentRecord[] = [...firstDocs];
    const expectedHeads: Record<string, number> = {};
    if (extra.root) expectedHeads.root = prev.root.signed.version;
    const newSnapshotMeta = writeSnapshot ? new Map(st.snapshotMeta) : st.snapshotMeta;
    const newEntries = new Map<string, RoleEntries>();
    const upsert = new Map<string, { role: string; fragment: string }>();
    const removed = new Set<string>();
    let newTargets: TargetsSigned | undefined;
    const exp = st.settings.expiration;

    for (const role of deletedRoles) {
      // A deleted role's artifacts leave the repository with it. Its snapshot
      // entry stays: clients reject a snapshot that drops a file the previous
      // one listed (spec 5.5.5); targets no longer delegates to it.
      for (const [path] of await this.#roleEntries(role, st.heads.get(role)?.version ?? 0)) removed.add(path);
      this.#entries.delete(role);
    }

    if (signedRole) {
      // An offline role's signing session completed: publish exactly what was signed.
      const role = signedRole.role;
      const signed = signedRole.metadata.signed as TargetsSigned;
      const head = st.heads.get(role)?.version ?? 0;
      if (signed.version !== head + 1)
        throw new Error(`${role} v${signed.version} no longer follows the published v${head}`);
      expectedHeads[role] = head;
      docs.push(
        this.#record(
          role,
          signed.version,
          signed.expires,
          serializeEnvelope(canonicalJson(signed), signedRole.metadata.signatures),
        ),
      );
      newSnapshotMeta.set(snapshotMetaName(role), `{"version":${signed.version}}`);
      const entries = new Map(Object.entries(signed.targets).map(([p, info]) => [p, canonicalJson(info)]));
      for (const row of await this.#roleEntries(role, head)) if (!entries.has(row[0])) removed.add(row[0]);
      for (const [path, fragment] of entries) upsert.set(path, { role, fragment });
      newEntries.set(role, { version: signed.version, entries });
    }

    let sinceYield = 0;
    for (const role of [...targetRoles].sort()) {
      // Signing thousands of bins takes a while: let the event loop accept
      // requests meanwhile, so the next batch grows instead of the queue.
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const head = st.heads.get(role)?.version ?? 0;
      const version = head + 1;
      let text: string;
      let expires: string;
      if (role === "targets") {
        expires = expiresIn(now, exp.targets);
        newTargets = { ...st.targets, version, expires };
        text = canonicalJson(newTargets);
      } else {
        expires = expiresIn(now, this.#expiryDaysFor(st, role));
        const entries = working.get(role) ?? (await workingFor(role));
        if (offlineRoles.has(role)) {
          // Offline keys sign this role: park the new version in its signing
          // session; its tasks finish when the signers are done.
          // A re-sign request for a role already waiting for signers keeps the
          // pending version (and the signatures it has collected).
          if (!touched.has(role) && sessions[role]?.kind === "delegation") continue;
          const targets = Object.fromEntries(
            [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([p, f]) => [p, JSON.parse(f)]),
          );
          const old = sessions[role];
          sessions[role] = {
            role,
            kind: "delegation",
            taskId: "",
            createdAt: now.toISOString(),
            metadata: {
              signed: { _type: "targets", spec_version: SPEC_VERSION, version, expires, targets },
              signatures: [],
            },
            tasks: old?.tasks ?? [],
          };
          sessionsChanged = true;
          continue;
        }
        // Every entry is already canonical; assemble the document from fragments.
        text = canonicalTargetsText({ _type: "targets", spec_version: SPEC_VERSION, version, expires }, [...entries]);
        newEntries.set(role, { version, entries });
      }
      expectedHeads[role] = head;
      docs.push(this.#signed(role, version, expires, text, signer, verify));
      newSnapshotMeta.set(snapshotMetaName(role), `{"version":${version}}`);
    }

    let snapshotDoc: DocumentRecord | undefined;
    if (writeSnapshot) {
      const head = st.heads.get("snapshot")!.version;
      expectedHeads.snapshot = head;
      snapshotDoc = this.#snapshotDoc(head + 1, expiresIn(now, exp.snapshot), [...newSnapshotMeta], signer, verify);
      docs.push(snapshotDoc);
    }
    if (writeTimestamp) {
      const head = st.heads.get("timestamp")!.version;
      expectedHeads.timestamp = head;
      if (!snapshotDoc) snapshotDoc = (await this.#store.getLatestDocument("snapshot"))!;
      docs.push(this.#timestampDoc(head + 1, expiresIn(now, exp.timestamp), snapshotDoc, signer, verify));
    }

    // Final published state of every path this batch changed (offline roles wait for their signers).
    for (const c of changes) {
      if (c.kind === "bump" || offlineRoles.has(c.role) || !working.has(c.role)) continue;
      const fragment = working.get(c.role)!.get(c.path);
      if (fragment !== undefined) {
        upsert.set(c.path, { role: c.role, fragment });
        removed.delete(c.path);
      } else {
        upsert.delete(c.path);
        removed.add(c.path);
      }
    }

    const tasks: TaskUpdate[] = [...(extra.tasks ?? []), ...(signedRole?.tasks ?? [])];
    for (const [id, t] of outcomes) {
      const result = this.#resultFor(t, now);
      const waitingOn = [...t.roles].filter((r) => offlineRoles.has(r));
      if (waitingOn.length > 0) {
        // Finished only when the offline role is signed and published.
        const final: TaskUpdate = { id, state: result.status ? "SUCCESS" : "ERRORED", result };
        for (const r of waitingOn)
          sessions[r]!.tasks = [...(sessions[r]!.tasks ?? []).filter((x) => x.id !== id), final];
        const pending = waitingOn
          .map((r) => `${r} v${sessions[r]!.metadata.signed.version} is pending signatures`)
          .join("; ");
        tasks.push({
          id,
          state: "RUNNING",
          result: taskResult(
            result.task,
            true,
            "Waiting for signatures",
            { ...(result.details ?? {}), update: pending },
            now,
          ),
        });
      } else {
        tasks.push({ id, state: result.status ? "SUCCESS" : "ERRORED", result });
      }
    }

    await verify.done();
    const tSigned = performance.now();
    const publication: Publication = {
      expectedHeads,
      documents: docs,
      artifacts: {
        upsert: [...upsert].map(([path, v]) => ({ path, role: v.role, fragment: v.fragment })),
        remove: [...removed],
      },
      consumedChanges: changes.map((c) => c.id),
      tasks,
    };
    const settingsOut: Record<string, unknown> = { ...extra.settings };
    if (st.settings !== prev.settings) settingsOut[SETTINGS_KEY] = st.settings;
    if (sessionsChanged) settingsOut[SESSIONS_KEY] = sessions;
    if (Object.keys(settingsOut).length > 0) publication.settings = settingsOut;
    await this.#store.commitPublication(publication);
    const tCommitted = performance.now();

    // Committed: only now does the in-memory view move forward.
    const heads = new Map(st.heads);
    for (const d of docs) heads.set(d.role, { role: d.role, version: d.version, expires: d.expires });
    for (const [role, e] of newEntries) this.#entries.set(role, e);
    this.#state = { ...st, heads, snapshotMeta: newSnapshotMeta, targets: newTargets ?? st.targets };
    this.#sink.publish(docs.flatMap((d) => this.#filesFor(d)));
    const ts = docs.find((d) => d.role === "timestamp");
    this.#log.debug("published", {
      changes: changes.length,
      documents: docs.length,
      timestamp: ts?.version,
      build_sign_ms: Math.round(tSigned - t0),
      commit_ms: Math.round(tCommitted - tSigned),
      serve_ms: Math.round(performance.now() - tCommitted),
    });
    if (ts) this.#emitPublished(ts.version);
    return { changes: changes.length, documents: docs.length, timestampVersion: ts?.version ?? null };
  }

  #expiryDaysFor(st: PublishedState, role: string): number {
    if (st.bins?.isBin(role)) return st.settings.expiration.bins;
    const delegated = this.#delegatedRole(st, role);
    if (delegated) return expirePolicy(delegated);
    return st.settings.expiration[role as ExpiringRole] ?? st.settings.expiration.bins;
  }

  #resultFor(t: TaskOutcome, now: Date) {
    const roles = [...t.roles].sort();
    if (t.kinds.has("add")) {
      const ok = t.added.length > 0;
      return taskResult(
        "add_artifacts",
        ok,
        ok ? "Artifact(s) Added" : "Artifact(s) Not Added",
        { added_artifacts: t.added, invalid_paths: t.invalid, artifact_roles: roles },
        now,
      );
    }
    if (t.kinds.has("remove")) {
      const ok = t.deleted.length > 0;
      return taskResult(
        "remove_artifacts",
        ok,
        ok ? "Artifact(s) Removed" : "Artifact(s) Not Found",
        { deleted_artifacts: t.deleted, not_found_artifacts: t.notFound, artifact_roles: roles },
        now,
      );
    }
    if (t.kinds.has("marker"))
      return taskResult("publish_artifacts", true, "Artifact(s) Published", { artifact_roles: roles }, now);
    return taskResult(
      "force_online_metadata_update",
      true,
      "Force online metadata update finished",
      { updated_roles: t.bumped },
      now,
    );
  }
}
