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
import { SPEC_VERSION, type Metadata, type RootSigned, type TargetsSigned } from "../tuf/metadata.ts";
import { canonicalTargetsText, serializeEnvelope, signText, type SignedDocument } from "../tuf/document.ts";
import type { Signer } from "../tuf/signer.ts";
import { verifyRole } from "../tuf/verify.ts";
import { OnlineKeys } from "./online-key.ts";
import { ConfigurationError, StateError, ValidationError } from "./errors.ts";
import { BOOTSTRAP_KEY, SETTINGS_KEY, type BootstrapRecord, type ExpiringRole, type RepositorySettings } from "./settings.ts";
import { loadPublishedState, type PublishedState } from "./state.ts";
import { newTaskId, taskResult } from "./tasks.ts";
import type { AddArtifactsPayload, BootstrapPayload, RemoveArtifactsPayload } from "./payloads.ts";

export interface PublishedFile {
  name: string;
  bytes: Uint8Array;
}

/** Where published files go (the in-memory metadata the HTTP server serves). */
export interface PublishedSink {
  publish(files: PublishedFile[]): void;
}

export interface RepositoryLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface RepositoryOptions {
  store: Store;
  onlineKeys: OnlineKeys;
  sink: PublishedSink;
  log: RepositoryLog;
  /** most changes one publish takes (whole tasks are never split) */
  maxBatch: number;
  now?: () => Date;
}

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

interface RoleEntries {
  version: number;
  entries: Map<string, string>;
}

interface TaskOutcome {
  kinds: Set<string>;
  added: string[];
  deleted: string[];
  notFound: string[];
  roles: Set<string>;
  bumped: string[];
}

export class Repository {
  readonly #store: Store;
  readonly #keys: OnlineKeys;
  readonly #sink: PublishedSink;
  readonly #log: RepositoryLog;
  readonly #maxBatch: number;
  readonly #now: () => Date;
  #state: PublishedState | undefined;
  #bootstrap: BootstrapRecord | undefined;
  /** bin contents by role, valid for `version` (the role's head when cached) */
  readonly #entries = new Map<string, RoleEntries>();
  readonly #requestedBumps = new Set<string>();
  readonly #wakeListeners: (() => void)[] = [];

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
    this.#bootstrap = await this.#store.getSetting<BootstrapRecord>(BOOTSTRAP_KEY);
    const settings = await this.#store.getSetting<RepositorySettings>(SETTINGS_KEY);
    this.#state = settings ? await loadPublishedState(this.#store, settings) : undefined;
    this.#entries.clear();
    if (this.#state) await this.#publishLatestToSink();
  }

  /** Resume work a crash interrupted: a bootstrap accepted but not finished. */
  async resume(): Promise<void> {
    if (this.#bootstrap?.state === "pre" && !this.#state) {
      this.#log.info("resuming an interrupted bootstrap", { task_id: this.#bootstrap.taskId });
      void this.#runBootstrap();
    }
  }

  onWake(listener: () => void): void {
    this.#wakeListeners.push(listener);
  }

  #wake(): void {
    for (const l of this.#wakeListeners) l();
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

  binsOf(): SuccinctBins | null {
    return this.#state?.bins ?? null;
  }

  async #publishLatestToSink(): Promise<void> {
    const st = this.#state!;
    const files: PublishedFile[] = [];
    const roles = [...st.heads.keys()].filter((r) => r !== "snapshot" && r !== "timestamp" && r !== "root");
    for (const role of [...roles, "root", "snapshot", "timestamp"]) {
      const doc = await this.#store.getLatestDocument(role);
      if (!doc) continue;
      files.push(...this.#filesFor(doc));
    }
    this.#sink.publish(files);
  }

  #filesFor(doc: DocumentRecord): PublishedFile[] {
    if (doc.role === "timestamp") return [{ name: "timestamp.json", bytes: doc.bytes }];
    const files = [{ name: `${doc.version}.${doc.role}.json`, bytes: doc.bytes }];
    if (doc.role === "root") files.push({ name: "root.json", bytes: doc.bytes });
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
    const verification = verifyRole(utf8(canonicalJson(root.signed)), root.signatures, root.signed.keys, root.signed.roles.root);
    if (verification.invalid.length > 0) {
      throw ValidationError.at(["body", "metadata", "root", "signatures"], `signature by ${verification.invalid.join(", ")} does not verify`);
    }
    for (const sig of root.signatures) {
      if (!root.signed.roles.root.keyids.includes(sig.keyid)) {
        throw ValidationError.at(["body", "metadata", "root", "signatures"], `signature by ${sig.keyid}, which is not a root key`);
      }
    }
    if (!verification.verified) {
      throw ValidationError.at(["body", "metadata", "root", "signatures"], `root is signed by ${verification.signed.length} of the ${verification.threshold} required root keys; signing sessions for a pending bootstrap are not supported by this version yet`);
    }
    const onlineId = root.signed.roles.timestamp.keyids[0]!;
    try {
      this.#keys.signerFor(onlineId, root.signed.keys[onlineId]!);
    } catch (err) {
      if (err instanceof ConfigurationError) {
        throw ValidationError.at(["body", "metadata", "root", "signed", "keys", onlineId], `${err.message} (hint: ${err.hint})`);
      }
      throw err;
    }
    const taskId = newTaskId();
    const record: BootstrapRecord = { state: "pre", taskId };
    // The task, the bootstrap lock and the payload are written together: a
    // crash after the 202 resumes the bootstrap on restart.
    await this.#store.accept({ id: taskId, name: "bootstrap", state: "PENDING" }, [], false);
    await this.#store.setSettings({ [BOOTSTRAP_KEY]: record, [BOOTSTRAP_PAYLOAD_KEY]: payload });
    this.#bootstrap = record;
    void this.#runBootstrap();
    return { taskId };
  }

  async #runBootstrap(): Promise<void> {
    const record = this.#bootstrap!;
    const payload = await this.#store.getSetting<BootstrapPayload>(BOOTSTRAP_PAYLOAD_KEY);
    const now = this.#now();
    try {
      if (!payload) throw new Error("bootstrap payload missing from the store");
      await this.#store.updateTasks([{ id: record.taskId, state: "STARTED", result: null }]);
      const started = performance.now();
      const { publication, settings } = this.#buildBootstrap(payload, record, now);
      await this.#store.withLock("publisher", () => this.#store.commitPublication(publication));
      this.#bootstrap = { state: "finished", taskId: record.taskId };
      this.#state = await loadPublishedState(this.#store, settings);
      this.#sink.publish(publication.documents.flatMap((d) => this.#filesFor(d)));
      this.#log.info("bootstrap finished", { task_id: record.taskId, bins: settings.bins?.count ?? 0, documents: publication.documents.length, ms: Math.round(performance.now() - started) });
      this.#wake();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#log.error("bootstrap failed", { task_id: record.taskId, error: reason });
      this.#bootstrap = undefined;
      await this.#store.setSettings({ [BOOTSTRAP_KEY]: null, [BOOTSTRAP_PAYLOAD_KEY]: null });
      await this.#store.updateTasks([{ id: record.taskId, state: "FAILURE", result: taskResult("bootstrap", false, "Bootstrap failed", null, this.#now(), reason) }]);
    }
  }

  #buildBootstrap(payload: BootstrapPayload, record: BootstrapRecord, now: Date): { publication: Publication; settings: RepositorySettings } {
    const root = payload.root;
    const onlineId = root.signed.roles.timestamp.keyids[0]!;
    const onlineKey = root.signed.keys[onlineId]!;
    const signer = this.#keys.signerFor(onlineId, onlineKey);
    const bins = new SuccinctBins(payload.bitLength, "bins");
    const settings: RepositorySettings = {
      expiration: payload.expiration,
      bins: { count: bins.count, bitLength: bins.bitLength, prefix: bins.prefix },
      onlineKeyId: onlineId,
      consistentSnapshot: root.signed.consistent_snapshot,
    };
    const docs: DocumentRecord[] = [];
    const rootText = canonicalJson(root.signed);
    docs.push(this.#record("root", 1, root.signed.expires, serializeEnvelope(rootText, root.signatures)));

    const targets: TargetsSigned = {
      _type: "targets",
      spec_version: SPEC_VERSION,
      version: 1,
      expires: expiresIn(now, payload.expiration.targets),
      targets: {},
      delegations: {
        keys: { [onlineId]: onlineKey },
        succinct_roles: { bit_length: bins.bitLength, name_prefix: bins.prefix, keyids: [onlineId], threshold: 1 },
      },
    };
    const snapshotMeta: [string, string][] = [];
    docs.push(this.#signed("targets", 1, targets.expires, canonicalJson(targets), signer));
    snapshotMeta.push(["targets.json", '{"version":1}']);
    const binExpires = expiresIn(now, payload.expiration.bins);
    for (const name of bins.names()) {
      const text = canonicalTargetsText({ _type: "targets", spec_version: SPEC_VERSION, version: 1, expires: binExpires }, []);
      docs.push(this.#signed(name, 1, binExpires, text, signer));
      snapshotMeta.push([`${name}.json`, '{"version":1}']);
    }
    const snapshotDoc = this.#snapshotDoc(1, expiresIn(now, payload.expiration.snapshot), snapshotMeta, signer);
    docs.push(snapshotDoc);
    docs.push(this.#timestampDoc(1, expiresIn(now, payload.expiration.timestamp), snapshotDoc, signer));
    const publication: Publication = {
      expectedHeads: Object.fromEntries(docs.map((d) => [d.role, 0])),
      documents: docs,
      tasks: [{ id: record.taskId, state: "SUCCESS", result: taskResult("bootstrap", true, "Bootstrap finished", { bootstrap: "Bootstrap Finished" }, now) }],
      settings: { [SETTINGS_KEY]: settings, [BOOTSTRAP_KEY]: { state: "finished", taskId: record.taskId }, [BOOTSTRAP_PAYLOAD_KEY]: null },
    };
    return { publication, settings };
  }

  // ------------------------------------------------------------ documents

  #record(role: string, version: number, expires: string, bytes: Uint8Array): DocumentRecord {
    return { role, version, expires, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
  }

  /** Sign with the online key and verify before anything is written. */
  #signed(role: string, version: number, expires: string, signedText: string, signer: Signer): DocumentRecord {
    const doc: SignedDocument = signText(signedText, [signer]);
    const sig = doc.signatures[0]!;
    if (!signer.publicKey.verify(utf8(signedText), sig.sig)) {
      throw new Error(`signature of ${version}.${role}.json by ${signer.keyid} does not verify; nothing was published`);
    }
    return this.#record(role, version, expires, doc.bytes);
  }

  #snapshotDoc(version: number, expires: string, meta: [string, string][], signer: Signer): DocumentRecord {
    const text = canonicalObjectFromEntries([
      ["_type", '"snapshot"'],
      ["expires", canonicalString(expires)],
      ["meta", canonicalObjectFromEntries(meta)],
      ["spec_version", canonicalString(SPEC_VERSION)],
      ["version", String(version)],
    ]);
    return this.#signed("snapshot", version, expires, text, signer);
  }

  #timestampDoc(version: number, expires: string, snapshot: DocumentRecord, signer: Signer): DocumentRecord {
    const signed = {
      _type: "timestamp",
      spec_version: SPEC_VERSION,
      version,
      expires,
      meta: { "snapshot.json": { version: snapshot.version, length: snapshot.bytes.length, hashes: { sha256: snapshot.sha256 } } },
    };
    return this.#signed("timestamp", version, expires, canonicalJson(signed), signer);
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

  /** Durably accept artifact additions; resolves once they are on disk. */
  async acceptAdd(p: AddArtifactsPayload): Promise<{ taskId: string; paths: string[] }> {
    const st = this.#requireBootstrapped();
    const taskId = newTaskId();
    const changes: NewChange[] = p.artifacts.map((a) => {
      const info = p.addTaskIdToCustom ? { ...a.info, custom: { ...(a.info.custom ?? {}), added_by_task_id: taskId } } : a.info;
      return { kind: "add", path: a.path, role: this.#roleForPath(st, a.path), fragment: canonicalJson(info) };
    });
    const paths = p.artifacts.map((a) => a.path);
    if (p.publish) {
      await this.#store.accept({ id: taskId, name: "add_artifacts", state: "PENDING" }, changes, false);
      this.#wake();
    } else {
      // Accepted and kept, not published until POST /artifacts/publish: the task itself is done.
      const roles = [...new Set(changes.map((c) => c.role))];
      const result = taskResult("add_artifacts", true, "Artifact(s) Added", { added_artifacts: paths, invalid_paths: [], artifact_roles: roles, published: false }, this.#now());
      await this.#store.accept({ id: taskId, name: "add_artifacts", state: "SUCCESS", result }, changes, true);
    }
    return { taskId, paths };
  }

  async acceptRemove(p: RemoveArtifactsPayload): Promise<{ taskId: string; paths: string[] }> {
    const st = this.#requireBootstrapped();
    const taskId = newTaskId();
    const changes: NewChange[] = p.paths.map((path) => ({ kind: "remove", path, role: this.#roleForPath(st, path), fragment: null }));
    if (p.publish) {
      await this.#store.accept({ id: taskId, name: "remove_artifacts", state: "PENDING" }, changes, false);
      this.#wake();
    } else {
      const result = taskResult("remove_artifacts", true, "Artifact(s) Removed", { deleted_artifacts: p.paths, not_found_artifacts: [], published: false }, this.#now());
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
    await this.#store.accept({ id: taskId, name: "publish_artifacts", state: "PENDING" }, [{ kind: "bump", path: "", role: "", fragment: null }], false);
    this.#wake();
    return { taskId };
  }

  #roleForPath(st: PublishedState, path: string): string {
    if (!st.bins) throw new StateError("this repository has no hash bins");
    return st.bins.binForPath(path);
  }

  // ------------------------------------------------------------ publishing

  /** Ask for new versions of online roles (scheduler re-signing, forced bumps). */
  requestBump(roles: Iterable<string>): void {
    for (const r of roles) this.#requestedBumps.add(r);
    this.#wake();
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
      const changes = await this.#takeBatch();
      const bumps = new Set(this.#requestedBumps);
      if (changes.length === 0 && bumps.size === 0) return { changes: 0, documents: 0, timestampVersion: null };
      this.#requestedBumps.clear();
      try {
        return await this.#publish(changes, bumps);
      } catch (err) {
        for (const b of bumps) this.#requestedBumps.add(b);
        if (err instanceof StoreConflictError) {
          // Someone else published in between (another replica): reload and let the caller retry.
          this.#log.warn("publish conflict, reloading published state", { error: err.message });
          await this.open();
        }
        throw err;
      }
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

  async #publish(changes: ChangeRecord[], bumps: Set<string>): Promise<BatchOutcome> {
    const st = this.#state!;
    const now = this.#now();
    const signer = this.#onlineSigner(st);
    const working = new Map<string, Map<string, string>>();
    const outcomes = new Map<string, TaskOutcome>();
    const touched = new Set<string>();
    const forced = new Set<string>();
    for (const b of bumps) for (const r of this.#expandBump(st, b)) forced.add(r);

    const workingFor = async (role: string): Promise<Map<string, string>> => {
      let w = working.get(role);
      if (!w) {
        w = new Map(await this.#roleEntries(role, st.heads.get(role)?.version ?? 0));
        working.set(role, w);
      }
      return w;
    };

    for (const c of changes) {
      let t = outcomes.get(c.taskId);
      if (!t) outcomes.set(c.taskId, (t = { kinds: new Set(), added: [], deleted: [], notFound: [], roles: new Set(), bumped: [] }));
      t.kinds.add(c.kind === "bump" && c.role === "" ? "marker" : c.kind);
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
    for (const r of [...touched, ...forced]) if (r !== "snapshot" && r !== "timestamp" && r !== "root") targetRoles.add(r);
    const writeSnapshot = targetRoles.size > 0 || forced.has("snapshot");
    const writeTimestamp = writeSnapshot || forced.has("timestamp");

    const docs: DocumentRecord[] = [];
    const expectedHeads: Record<string, number> = {};
    const newSnapshotMeta = writeSnapshot ? new Map(st.snapshotMeta) : st.snapshotMeta;
    const newEntries = new Map<string, RoleEntries>();
    let newTargets: TargetsSigned | undefined;
    const exp = st.settings.expiration;

    for (const role of [...targetRoles].sort()) {
      const head = st.heads.get(role)?.version ?? 0;
      const version = head + 1;
      expectedHeads[role] = head;
      let text: string;
      let expires: string;
      if (role === "targets") {
        expires = expiresIn(now, exp.targets);
        newTargets = { ...st.targets, version, expires };
        text = canonicalJson(newTargets);
      } else {
        expires = expiresIn(now, this.#expiryDaysFor(st, role));
        const entries = working.get(role) ?? (await this.#roleEntries(role, head));
        // Every entry is already canonical; assemble the document from fragments.
        text = canonicalTargetsText({ _type: "targets", spec_version: SPEC_VERSION, version, expires }, [...entries]);
        newEntries.set(role, { version, entries });
      }
      docs.push(this.#signed(role, version, expires, text, signer));
      newSnapshotMeta.set(`${role}.json`, `{"version":${version}}`);
    }

    let snapshotDoc: DocumentRecord | undefined;
    if (writeSnapshot) {
      const head = st.heads.get("snapshot")!.version;
      expectedHeads.snapshot = head;
      snapshotDoc = this.#snapshotDoc(head + 1, expiresIn(now, exp.snapshot), [...newSnapshotMeta], signer);
      docs.push(snapshotDoc);
    }
    if (writeTimestamp) {
      const head = st.heads.get("timestamp")!.version;
      expectedHeads.timestamp = head;
      if (!snapshotDoc) snapshotDoc = (await this.#store.getLatestDocument("snapshot"))!;
      docs.push(this.#timestampDoc(head + 1, expiresIn(now, exp.timestamp), snapshotDoc, signer));
    }

    // Final state of every path this batch changed.
    const upsert = new Map<string, { role: string; fragment: string }>();
    const removed = new Set<string>();
    for (const c of changes) {
      if (c.kind === "bump") continue;
      const fragment = working.get(c.role)?.get(c.path);
      if (fragment !== undefined) {
        upsert.set(c.path, { role: c.role, fragment });
        removed.delete(c.path);
      } else {
        upsert.delete(c.path);
        removed.add(c.path);
      }
    }

    const tasks: TaskUpdate[] = [];
    for (const [id, t] of outcomes) {
      const result = this.#resultFor(t, now);
      tasks.push({ id, state: result.status ? "SUCCESS" : "ERRORED", result });
    }

    const publication: Publication = {
      expectedHeads,
      documents: docs,
      artifacts: { upsert: [...upsert].map(([path, v]) => ({ path, role: v.role, fragment: v.fragment })), remove: [...removed] },
      consumedChanges: changes.map((c) => c.id),
      tasks,
    };
    await this.#store.commitPublication(publication);

    // Committed: only now does the in-memory view move forward.
    const heads = new Map(st.heads);
    for (const d of docs) heads.set(d.role, { role: d.role, version: d.version, expires: d.expires });
    for (const [role, e] of newEntries) this.#entries.set(role, e);
    this.#state = { ...st, heads, snapshotMeta: newSnapshotMeta, targets: newTargets ?? st.targets };
    this.#sink.publish(docs.flatMap((d) => this.#filesFor(d)));
    const ts = docs.find((d) => d.role === "timestamp");
    this.#log.debug("published", { changes: changes.length, documents: docs.length, timestamp: ts?.version });
    return { changes: changes.length, documents: docs.length, timestampVersion: ts?.version ?? null };
  }

  #expiryDaysFor(st: PublishedState, role: string): number {
    if (st.bins?.isBin(role)) return st.settings.expiration.bins;
    return st.settings.expiration[role as ExpiringRole] ?? st.settings.expiration.bins;
  }

  #resultFor(t: TaskOutcome, now: Date) {
    const roles = [...t.roles].sort();
    if (t.kinds.has("add")) {
      return taskResult("add_artifacts", true, "Artifact(s) Added", { added_artifacts: t.added, invalid_paths: [], artifact_roles: roles }, now);
    }
    if (t.kinds.has("remove")) {
      const ok = t.deleted.length > 0;
      return taskResult("remove_artifacts", ok, ok ? "Artifact(s) Removed" : "Artifact(s) Not Found", { deleted_artifacts: t.deleted, not_found_artifacts: t.notFound, artifact_roles: roles }, now);
    }
    if (t.kinds.has("marker")) return taskResult("publish_artifacts", true, "Artifact(s) Published", { artifact_roles: roles }, now);
    return taskResult("force_online_metadata_update", true, "Force online metadata update finished", { updated_roles: t.bumped }, now);
  }
}
