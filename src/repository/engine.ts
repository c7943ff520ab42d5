/**
 * What every workflow of the repository engine shares: the store, the online
 * keys, the published state held in memory, the caches, the publisher's
 * wake-ups and the background tasks. The workflows (bootstrap.ts, intake.ts,
 * signing-sessions.ts, root-update.ts, delegations.ts, batch.ts, sync.ts) are
 * functions over one Engine; repository.ts is the façade the rest of tufbox
 * calls.
 *
 * The published state is only ever replaced as a whole, after a commit (or
 * reloaded after a conflict): a failed batch cannot leave it half-updated.
 */
import type { Logger } from "../log.ts";
import type { AuditActor, DocumentRecord, Store } from "../store/store.ts";
import { auditEntry } from "./audit.ts";
import { metadataFileName } from "../tuf/file-names.ts";
import type { DelegatedRole } from "../tuf/metadata.ts";
import { isSignedByOnlineKey, onlineKeyFor, onlineKeyIds } from "../tuf/roles.ts";
import type { Signer } from "../tuf/signer.ts";
import { ConfigurationError, StateError } from "./errors.ts";
import type { OnlineKeys } from "./online-key.ts";
import { BOOTSTRAP_KEY, type BootstrapRecord, type RepositorySettings, SETTINGS_KEY } from "./settings.ts";
import type { PauseRecord } from "./pause.ts";
import { loadPublishedState, type PublishedState } from "./state.ts";
import { newTaskId, taskResult } from "./task-results.ts";
import { SignPool } from "./sign-pool.ts";
import { VerifyPool } from "./verify-pool.ts";

export interface SinkFile {
  name: string;
  bytes: Uint8Array;
  /** hex sha256 of bytes, when known */
  sha256?: string;
}

/** Where published files go (the in-memory metadata the HTTP server serves). */
export interface PublishedSink {
  publish(files: SinkFile[]): void;
}

export type WakeReason = "accepted" | "published" | "bump";

/** A targets role's entries (path → canonical target fragment), valid for `version`. */
export interface RoleEntries {
  version: number;
  entries: Map<string, string>;
}

export interface EngineOptions {
  store: Store;
  onlineKeys: OnlineKeys;
  sink: PublishedSink;
  log: Logger;
  /** most changes one publish takes (whole tasks are never split) */
  maxBatch: number;
  now?: () => Date;
}

/** What a background task body reports; runTask turns it into the RSTUF task result. */
export interface TaskOutcomeReport {
  ok: boolean;
  message: string;
  details?: Record<string, unknown>;
  error?: string;
}

export class Engine {
  readonly store: Store;
  readonly keys: OnlineKeys;
  readonly sink: PublishedSink;
  readonly log: Logger;
  readonly maxBatch: number;
  readonly now: () => Date;
  readonly verifier = new VerifyPool();
  /** signs large publications' targets documents on another core */
  readonly signPool = new SignPool();
  state: PublishedState | undefined;
  bootstrap: BootstrapRecord | undefined;
  /** entries read ahead for the batch being built (prefetchEntries); empty between batches */
  readonly entries = new Map<string, RoleEntries>();
  /** re-sign requests held by this process (the scheduler's, a root rotation that failed) */
  readonly requestedBumps = new Set<string>();
  /** bytes of the latest document of every role (metrics: largest bin vs the client cap) */
  readonly sizes = new Map<string, number>();
  /** the pause record as last read from the store (pause.ts); the store's row is what counts */
  paused: PauseRecord | undefined;
  readonly #wakeListeners: ((reason: WakeReason) => void)[] = [];
  readonly #publishedListeners: ((timestampVersion: number) => void)[] = [];
  readonly #inFlight = new Set<Promise<void>>();

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.keys = opts.onlineKeys;
    this.sink = opts.sink;
    this.log = opts.log;
    this.maxBatch = opts.maxBatch;
    this.now = opts.now ?? (() => new Date());
  }

  /** Load what is published and hand the latest files to the sink. */
  async open(): Promise<void> {
    this.bootstrap = (await this.store.getSetting<BootstrapRecord>(BOOTSTRAP_KEY)) ?? undefined;
    const settings = await this.store.getSetting<RepositorySettings>(SETTINGS_KEY);
    this.state = settings ? await loadPublishedState(this.store, settings) : undefined;
    this.entries.clear();
    if (this.state) await this.#publishLatest(this.state);
  }

  /**
   * Hand the sink the top-level documents. Bins and delegated roles are not
   * read here: the sink loads those from the store when a client asks (with
   * 16384 bins at 1M artifacts they are ~200 MB, and reading them all made a
   * restart take seconds before timestamp.json was served).
   */
  async #publishLatest(_st: PublishedState): Promise<void> {
    const files: SinkFile[] = [];
    // Targets first, root, snapshot, timestamp last: as a publication becomes visible.
    for (const role of ["targets", "root", "snapshot", "timestamp"]) {
      const doc = await this.store.getLatestDocument(role);
      if (!doc) continue;
      files.push(...this.filesFor(doc));
    }
    this.sink.publish(files);
    for (const { role, length } of await this.store.getHeadLengths()) this.sizes.set(role, length);
  }

  /** The names a document is served under; the digest travels along so the server does not hash again. */
  filesFor(doc: DocumentRecord): SinkFile[] {
    this.sizes.set(doc.role, doc.bytes.length);
    const file = (name: string): SinkFile => ({ name, bytes: doc.bytes, sha256: doc.sha256 });
    const files = [file(metadataFileName(doc.role, doc.version))];
    if (doc.role === "root") files.push(file("root.json"));
    return files;
  }

  // ------------------------------------------------------------ events

  onWake(listener: (reason: WakeReason) => void): void {
    this.#wakeListeners.push(listener);
  }

  wake(reason: WakeReason): void {
    for (const l of this.#wakeListeners) l(reason);
  }

  onPublished(listener: (timestampVersion: number) => void): void {
    this.#publishedListeners.push(listener);
  }

  emitPublished(version: number): void {
    for (const l of this.#publishedListeners) {
      try {
        l(version);
      } catch (err) {
        this.log.error("publication listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  // ------------------------------------------------------------ background work

  /** Work started by a request and finished in the background (tasks, bootstrap). */
  background(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  /** Wait for background work to finish (shutdown: before the store closes). */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Run a background task body and record its outcome as the task's result; never throws. */
  async runTask(taskId: string, name: string, body: () => Promise<TaskOutcomeReport>): Promise<void> {
    try {
      await this.store.updateTasks([{ id: taskId, state: "STARTED", result: null }]);
      const r = await body();
      await this.store.updateTasks([
        {
          id: taskId,
          state: r.ok ? "SUCCESS" : "ERRORED",
          result: taskResult(name, r.ok, r.message, r.details ?? null, this.now(), r.error),
        },
      ]);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.log.error(`${name} failed`, { task_id: taskId, error: reason });
      await this.store
        .updateTasks([
          {
            id: taskId,
            state: "FAILURE",
            result: taskResult(name, false, `${name} failed`, null, this.now(), reason),
          },
        ])
        .catch(() => undefined);
    }
  }

  /**
   * Accept a request that runs as a background task: the task is stored
   * (PENDING) before the 202, with its audit entry (who, what) in the same
   * transaction.
   */
  async startTask(
    name: string,
    audit: { actor: AuditActor; summary: Record<string, unknown> },
    body: (taskId: string) => Promise<TaskOutcomeReport>,
  ): Promise<{ taskId: string }> {
    const taskId = newTaskId();
    await this.store.createTask(
      { id: taskId, name, state: "PENDING" },
      auditEntry(audit.actor, taskId, name, audit.summary),
    );
    this.background(this.runTask(taskId, name, () => body(taskId)));
    return { taskId };
  }

  // ------------------------------------------------------------ the published state

  requireBootstrapped(): PublishedState {
    if (!this.state) throw new StateError("System has not a Repository Metadata");
    return this.state;
  }

  /**
   * The signer of an online role in `st`: the key its delegator names for it
   * (tuf/roles.ts onlineKeyFor), loaded by its x-rstuf-online-key-uri.
   */
  signerFor(st: Pick<PublishedState, "root" | "targets">, role: string): Signer {
    const k = onlineKeyFor(st.root.signed, st.targets, role);
    if (!k)
      throw new ConfigurationError(
        `no online key signs ${role}`,
        "only targets, snapshot, timestamp, the hash bins and delegated roles with one online key are signed by the server",
      );
    return this.keys.signerFor(k.keyid, k.key);
  }

  /** The signers of a publication built over `st()` (read when each document is signed). */
  roleSigners(st: () => Pick<PublishedState, "root" | "targets">): (role: string) => Signer {
    return (role) => this.signerFor(st(), role);
  }

  /**
   * A role's published entries, read from the store each time. Not cached
   * between batches: all bins' entries at 1M artifacts are ~250 MB of strings
   * (most of the process's memory), and a batch that touches most bins would
   * cycle through any smaller cache without a hit. SQLite reads them out of
   * the role's head document, PostgreSQL as one range of its (role, path) key.
   */
  async roleEntries(role: string, headVersion: number): Promise<Map<string, string>> {
    const prefetched = this.entries.get(role);
    if (prefetched && prefetched.version === headVersion) {
      this.entries.delete(role);
      return prefetched.entries;
    }
    const rows = await this.store.listArtifactsInRole(role);
    return new Map(rows.map((r) => [r.path, r.fragment]));
  }

  /**
   * Read the entries of the roles a batch is about to touch in few queries
   * (one per chunk of roles on PostgreSQL instead of one per bin); each is
   * handed out once by roleEntries, and whatever the batch did not use is
   * dropped by releaseEntries, so nothing outlives the batch.
   */
  async prefetchEntries(roles: Iterable<[string, number]>): Promise<void> {
    const wanted = new Map(roles);
    if (wanted.size === 0) return;
    const rows = await this.store.listArtifactsInRoles([...wanted.keys()]);
    for (const [role, list] of rows) {
      this.entries.set(role, { version: wanted.get(role)!, entries: new Map(list.map((r) => [r.path, r.fragment])) });
    }
  }

  releaseEntries(): void {
    this.entries.clear();
  }

  drainBumps(): Set<string> {
    const bumps = new Set(this.requestedBumps);
    this.requestedBumps.clear();
    return bumps;
  }
}

export function delegatedRole(st: PublishedState, role: string): DelegatedRole | undefined {
  return st.targets.delegations?.roles?.find((r) => r.name === role);
}

/** A delegated role whose keys are offline: its new versions go through a signing session. */
export function isOfflineRole(st: PublishedState, role: string): boolean {
  const r = delegatedRole(st, role);
  return r !== undefined && !isSignedByOnlineKey(r, onlineKeyIds(st.root.signed, st.targets));
}
