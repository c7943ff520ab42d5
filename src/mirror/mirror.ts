/**
 * `tufbox mirror`: follows an upstream repository with the TUF client
 * workflow (sync.ts), keeps every verified document in the mirror store
 * (store.ts) and target files on disk (targets.ts), and serves them with
 * tufbox's own layout and static server (src/server/http.ts), so devices
 * only change their base URL and keep verifying with their own root.
 *
 * When it syncs: at start, every `intervalSeconds`, whenever the upstream's
 * change feed announces a newer timestamp (events.ts), and when another
 * process committed to the same store (`tufbox mirror --from` importing a
 * bundle), which it notices through SQLite's data_version.
 *
 * Offline tolerance: a sync that fails for any reason (upstream unreachable,
 * a document that fails a check) changes nothing that is served. The mirror
 * logs why, counts the failure by reason, and reports since when it is stale
 * (status(), /readyz, /metrics), then tries again at the next occasion.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { PublishedMetadata, type PublishInput } from "../server/published.ts";
import { parseMetadataFileName } from "../tuf/file-names.ts";
import type { TargetFile } from "../tuf/metadata.ts";
import { HttpSource, type Source } from "./source.ts";
import { MirrorStore, MirrorStoreConflict, type MirrorDocument } from "./store.ts";
import {
  FAILURE_REASONS,
  SyncFailure,
  syncMetadata,
  type FailureReason,
  type SyncProgress,
  type SyncResult,
  type TrustedState,
} from "./sync.ts";
import { TargetFailure, TargetStore, type TargetFailureReason } from "./targets.ts";
import { UpstreamEvents } from "./events.ts";
import { currentNames, startingState, type Anchor } from "./state.ts";

export interface PrefetchProgress {
  targets: number;
  bytes: number;
  /** targets matching the globs found so far */
  total: number;
}

export interface MirrorProgress {
  sync?(p: SyncProgress): void;
  prefetch?(p: PrefetchProgress): void;
  done?(): void;
}

export interface MirrorOptions {
  dataDir: string;
  /** where target files are kept (default DATA_DIR/targets) */
  targetsDir?: string;
  anchor: Anchor;
  /** upstream base URL; none = serve what is stored (air-gapped, updated by `mirror --from`) */
  upstream?: string;
  /** target paths to download ahead of requests (Bun.Glob syntax); none = only on request */
  prefetch: string[];
  intervalSeconds: number;
  log: Logger;
  progress?: MirrorProgress;
  /** how often to look for commits by other processes (default 1000 ms) */
  watchMs?: number;
  fetch?: typeof fetch;
}

export interface FailureRecord {
  reason: FailureReason;
  message: string;
  at: string;
}

export interface MirrorStatus {
  mirror: true;
  upstream: string | null;
  data_dir: string;
  interval_seconds: number;
  prefetch: string[];
  versions: { root: number; timestamp: number | null; snapshot: number | null; targets: number | null };
  expires: Record<string, string>;
  roles: number;
  last_success_at: string | null;
  last_attempt_at: string | null;
  /** when the served state stopped being current (the first failure after the last success), or null */
  stale_since: string | null;
  last_failure: FailureRecord | null;
  failures: Record<FailureReason, number>;
  syncs: number;
  events_connected: boolean;
  targets: { fetched: number; bytes: number; failures: Record<TargetFailureReason, number> };
}

const TARGET_FAILURES: readonly TargetFailureReason[] = ["unavailable", "mismatch", "unreachable"];
const REPEAT_LOG_MS = 600_000;

export class Mirror {
  readonly store: MirrorStore;
  readonly metadata: PublishedMetadata;
  readonly targets: TargetStore;
  readonly source: Source | undefined;
  readonly #opts: MirrorOptions;
  readonly #log: Logger;
  readonly #anchor: Anchor;
  #state: TrustedState;
  #generation: number;
  #dataVersion: number;
  readonly #globs: InstanceType<typeof Bun.Glob>[];

  #events: UpstreamEvents | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #watch: ReturnType<typeof setInterval> | undefined;
  #gcTimer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #wanted = false;
  #stopped = false;
  #firstSyncReported = false;

  #lastSuccessAt: Date | null = null;
  #lastAttemptAt: Date | null = null;
  #staleSince: Date | null = null;
  #lastFailure: FailureRecord | null = null;
  readonly #failures = Object.fromEntries(FAILURE_REASONS.map((r) => [r, 0])) as Record<FailureReason, number>;
  readonly #targetFailures = Object.fromEntries(TARGET_FAILURES.map((r) => [r, 0])) as Record<
    TargetFailureReason,
    number
  >;
  #syncs = 0;
  #fetched = 0;
  #fetchedBytes = 0;
  readonly #logged = new Map<string, number>();

  private constructor(opts: MirrorOptions, store: MirrorStore) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#anchor = opts.anchor;
    this.store = store;
    const start = startingState(store, opts.anchor);
    this.#state = start.state;
    this.#generation = start.stored?.generation ?? store.generation();
    this.#dataVersion = store.dataVersion();
    this.#globs = opts.prefetch.map((g) => new Bun.Glob(g));
    this.source = opts.upstream ? new HttpSource(opts.upstream, { fetch: opts.fetch }) : undefined;
    this.metadata = new PublishedMetadata({
      loader: async (name) => this.#loadFile(name),
      lister: async () => this.#listFiles(),
      // Older versions come from SQLite on demand (clients ask for them only in the
      // middle of an update); a small cache keeps a Pi's memory low.
      cacheBytes: 2 * 1024 * 1024,
    });
    this.targets = new TargetStore({
      dir: opts.targetsDir ?? join(opts.dataDir, "targets"),
      tmpDir: join(opts.dataDir, "tmp"),
      state: () => this.#state,
      roleBytes: (role, version) => this.#documentBytes(role, version),
      onStored: (_path, length) => {
        this.#fetched++;
        this.#fetchedBytes += length;
      },
    });
    const last = store.get("last_success_at");
    if (last) this.#lastSuccessAt = new Date(last);
    const stale = store.get("stale_since");
    if (stale) this.#staleSince = new Date(stale);
    const prefetchKey = JSON.stringify(opts.prefetch);
    if (store.get("prefetch") !== prefetchKey) {
      store.resetTargetsDone();
      store.set("prefetch", prefetchKey);
    }
    this.#publishAll();
  }

  /** Opens (or creates) the mirror in `opts.dataDir`; serves the stored state at once, if any. */
  static async open(opts: MirrorOptions): Promise<Mirror> {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(opts.dataDir, { recursive: true });
    return new Mirror(opts, MirrorStore.open(join(opts.dataDir, "mirror.db")));
  }

  get state(): TrustedState {
    return this.#state;
  }

  /** Whether there is a verified state to serve (a timestamp). */
  get ready(): boolean {
    return this.#state.timestamp !== undefined;
  }

  get eventsConnected(): boolean {
    return this.#events?.connected ?? false;
  }

  // ------------------------------------------------------------ files

  #documentBytes(role: string, version: number): Uint8Array | undefined {
    const hot = this.metadata.peek(`${version}.${role}.json`);
    return hot?.bytes ?? this.store.document(role, version)?.bytes;
  }

  async #loadFile(name: string): Promise<Uint8Array | undefined> {
    if (name === "timestamp.json") return this.#state.timestamp?.bytes;
    if (name === "root.json") return this.#state.rootBytes;
    const parsed = parseMetadataFileName(name);
    if (!parsed || parsed.version === null || parsed.role === "timestamp") return undefined;
    return this.store.document(parsed.role, parsed.version)?.bytes;
  }

  async #listFiles(): Promise<string[]> {
    const names = this.store
      .listDocuments()
      .filter((d) => d.role !== "timestamp")
      .map((d) => `${d.version}.${d.role}.json`);
    if (this.#state.timestamp) names.push("timestamp.json");
    names.push("root.json");
    return names;
  }

  /**
   * The files that make `state` current, for PublishedMetadata: versioned
   * names (unless `aliasesOnly`: they were just published), then the
   * unversioned aliases.
   */
  #filesOf(state: TrustedState, aliasesOnly = false): PublishInput[] {
    const files: PublishInput[] = [];
    const consistent = state.root.signed.consistent_snapshot;
    if (!aliasesOnly || !consistent) {
      for (const { name, role, version } of currentNames(state)) {
        const bytes =
          role === "root"
            ? state.rootBytes
            : role === "snapshot"
              ? state.snapshot!.bytes
              : this.#documentBytes(role, version);
        if (!bytes) continue;
        if (!aliasesOnly) files.push({ name, bytes });
        // Without consistent snapshots clients ask for snapshot.json, targets.json, ROLE.json (5.5.1, 5.6.1).
        if (!consistent && role !== "root") files.push({ name: `${role}.json`, bytes });
      }
    }
    files.push({ name: "root.json", bytes: state.rootBytes });
    // Last, so no client sees a timestamp before what it points to is served (one batch anyway).
    if (state.timestamp) files.push({ name: "timestamp.json", bytes: state.timestamp.bytes });
    return files;
  }

  #publishAll(): void {
    this.metadata.publish(this.#filesOf(this.#state));
  }

  // ------------------------------------------------------------ running

  /** Starts syncing (at once, on the interval, on upstream events) and watching the store. */
  start(): void {
    if (this.source) {
      this.#timer = setInterval(() => this.requestSync(), this.#opts.intervalSeconds * 1000);
      this.#events = new UpstreamEvents({
        base: this.#opts.upstream!,
        log: this.#log,
        fetch: this.#opts.fetch,
        onVersion: (version) => {
          if (version > (this.#state.timestamp?.doc.signed.version ?? 0)) this.requestSync();
        },
      });
      this.#events.start();
      this.requestSync();
    }
    this.#watch = setInterval(() => this.#checkStore(), this.#opts.watchMs ?? 1000);
    if (!this.source) void this.prefetchPending();
  }

  /** Asks for a sync; several requests while one runs make one more run after it. */
  requestSync(): void {
    if (this.#stopped || !this.source) return;
    this.#wanted = true;
    if (!this.#running) this.#running = this.#loop().finally(() => (this.#running = undefined));
  }

  /** Runs a sync now (or waits for the one running and one more) and resolves when done. */
  async syncNow(): Promise<void> {
    this.requestSync();
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    while (this.#wanted && !this.#stopped) {
      this.#wanted = false;
      await this.#syncOnce();
    }
  }

  async #syncOnce(): Promise<void> {
    const source = this.source!;
    this.#reloadIfChanged();
    const now = new Date();
    this.#lastAttemptAt = now;
    this.#syncs++;
    let result: SyncResult;
    try {
      const first = !this.#firstSyncReported && !this.ready;
      result = await syncMetadata(this.#state, {
        source,
        now,
        stored: (role, version) => this.#documentBytes(role, version),
        progress: first ? this.#opts.progress?.sync : undefined,
      });
      if (!result.unchanged || this.#state.root !== result.state.root) this.#commit(result);
    } catch (err) {
      if (err instanceof MirrorStoreConflict && err.kind === "generation") {
        // Someone else committed meanwhile: start again from their state.
        this.#log.info("the mirror's store changed during a sync; syncing again", { why: err.message });
        this.#reloadIfChanged(true);
        this.#wanted = true;
        return;
      }
      const failure =
        err instanceof SyncFailure
          ? err
          : err instanceof MirrorStoreConflict
            ? new SyncFailure("invalid", err.message)
            : new SyncFailure("invalid", `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
      this.#recordFailure(failure, now);
      return;
    }
    this.#recordSuccess(now, result);
    try {
      await this.prefetchPending();
    } catch (err) {
      // Target downloads never undo a verified sync; they are tried again at the next one.
      this.#log.error("prefetching targets failed", { error: err instanceof Error ? err.message : String(err) });
    }
    // A sync parses and verifies every new document; give that garbage back soon
    // (after the static routes are rebuilt) rather than whenever the heap next
    // grows: a Pi mirror is mostly idle.
    if (!result.unchanged) this.#collectSoon();
    if (!this.#firstSyncReported) {
      this.#firstSyncReported = true;
      this.#opts.progress?.done?.();
    }
  }

  #commit(result: SyncResult): void {
    const documents: MirrorDocument[] = [...result.documents];
    // The operator's trusted root is served too (devices ship it), once.
    const a = this.#anchor.root.signed.version;
    if (!this.store.document("root", a) && !documents.some((d) => d.role === "root" && d.version === a))
      documents.push({ role: "root", version: a, bytes: this.#anchor.bytes, sha256: this.#anchor.sha256 });
    const s = result.state;
    this.#generation = this.store.commit({
      expected: this.#generation,
      documents,
      anchorVersion: s.anchorVersion,
      rootVersion: s.root.signed.version,
      timestampVersion: s.timestamp?.doc.signed.version ?? null,
      snapshotVersion: s.snapshot?.doc.signed.version ?? null,
      upsertHeads: result.upsertHeads,
      removeHeads: result.removeHeads,
    });
    this.#dataVersion = this.store.dataVersion();
    // One batch: publish() makes new versions and the new timestamp.json visible at once.
    const files: PublishInput[] = documents
      .filter((d) => d.role !== "timestamp")
      .map((d) => ({ name: `${d.version}.${d.role}.json`, bytes: d.bytes, sha256: d.sha256 }));
    this.#state = s;
    this.metadata.publish([...files, ...this.#filesOf(s, true)]);
  }

  #recordSuccess(now: Date, result: SyncResult): void {
    this.#lastSuccessAt = now;
    this.store.set("last_success_at", now.toISOString());
    if (this.#staleSince) {
      this.#log.info("upstream verified again; the mirror is current", {
        stale_since: this.#staleSince.toISOString(),
      });
      this.#staleSince = null;
      this.store.set("stale_since", "");
    }
    if (!result.unchanged)
      this.#log.info("synced", {
        timestamp: result.state.timestamp?.doc.signed.version,
        snapshot: result.state.snapshot?.doc.signed.version,
        root: result.state.root.signed.version,
        documents: result.downloaded.documents,
        bytes: result.downloaded.bytes,
      });
    for (const w of result.warnings) this.#logOnce("warn", `sync: ${w}`, {});
  }

  #recordFailure(failure: SyncFailure, now: Date): void {
    this.#failures[failure.reason]++;
    this.#lastFailure = { reason: failure.reason, message: failure.message, at: now.toISOString() };
    if (!this.#staleSince) {
      this.#staleSince = now;
      this.store.set("stale_since", now.toISOString());
    }
    this.#logOnce("warn", "sync refused; still serving the last verified state", {
      reason: failure.reason,
      why: failure.message,
      timestamp: this.#state.timestamp?.doc.signed.version ?? null,
      stale_since: this.#staleSince.toISOString(),
    });
  }

  #collectSoon(): void {
    if (this.#gcTimer !== undefined) return;
    this.#gcTimer = setTimeout(() => {
      this.#gcTimer = undefined;
      Bun.gc(true);
    }, 1000);
    this.#gcTimer.unref?.();
  }

  /** Logs a message at most every 10 minutes when it repeats (an offline mirror retries every interval). */
  #logOnce(level: "warn" | "info", msg: string, fields: Record<string, unknown>): void {
    const key = `${msg}\0${fields.reason ?? ""}\0${fields.why ?? ""}`;
    const now = Date.now();
    const last = this.#logged.get(key);
    if (last !== undefined && now - last < REPEAT_LOG_MS) {
      this.#log.debug(msg, fields);
      return;
    }
    if (this.#logged.size > 1000) this.#logged.clear();
    this.#logged.set(key, now);
    this.#log[level](msg, fields);
  }

  /** Picks up a state another process committed (an imported bundle). */
  #checkStore(): void {
    if (this.#running) return;
    try {
      if (this.#reloadIfChanged()) void this.prefetchPending();
    } catch (err) {
      this.#log.error("reading the mirror store failed", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  #reloadIfChanged(force = false): boolean {
    const dv = this.store.dataVersion();
    if (!force && dv === this.#dataVersion) return false;
    this.#dataVersion = dv;
    const generation = this.store.generation();
    if (!force && generation === this.#generation) return false;
    const start = startingState(this.store, this.#anchor);
    this.#generation = generation;
    this.#state = start.state;
    this.#publishAll();
    this.#log.info("loaded a state committed by another process", {
      timestamp: this.#state.timestamp?.doc.signed.version ?? null,
    });
    return true;
  }

  // ------------------------------------------------------------ targets

  #matches(path: string): boolean {
    return this.#globs.some((g) => g.match(path));
  }

  /** Downloads the targets matching the prefetch globs in roles not yet handled; failures wait for the next sync. */
  async prefetchPending(): Promise<void> {
    if (this.#globs.length === 0) return;
    const progress: PrefetchProgress = { targets: 0, bytes: 0, total: 0 };
    const report = this.#opts.progress?.prefetch;
    for (const head of [...this.#state.heads.values()]) {
      if (head.targetsDone || this.#stopped) continue;
      const signed = this.targets.role(head.role);
      if (!signed) continue;
      const wanted: [string, TargetFile][] = [];
      for (const path of Object.keys(signed.targets)) {
        if (!this.#matches(path)) continue;
        // Only the file info a client's search would find counts (5.6.7).
        const found = await this.targets.resolve(path);
        if (!found || found.role !== head.role) continue;
        if (await this.targets.has(path, found.file)) continue;
        wanted.push([path, found.file]);
      }
      progress.total += wanted.length;
      let failed = 0;
      await runPool(wanted, 4, async ([path, file]) => {
        try {
          await this.targets.ensure(path, file, this.source);
          progress.targets++;
          progress.bytes += file.length;
          report?.(progress);
        } catch (err) {
          if (!(err instanceof TargetFailure)) throw err;
          failed++;
          this.recordTargetFailure(err);
        }
      });
      if (failed === 0 && this.#state.heads.get(head.role)?.version === head.version) {
        this.store.markTargetsDone(head.role, head.version);
        head.targetsDone = true;
      }
    }
  }

  recordTargetFailure(err: TargetFailure): void {
    this.#targetFailures[err.reason]++;
    this.#logOnce("warn", "target refused or unavailable; not served", { reason: err.reason, why: err.message });
  }

  /** A /targets/ request the static server found no file for. */
  serveMissingTarget(req: Request, encoded: string): Promise<Response> {
    return this.targets.serveMissing(req, encoded, this.source, (f) => this.recordTargetFailure(f));
  }

  // ------------------------------------------------------------ status

  status(): MirrorStatus {
    const s = this.#state;
    const expires: Record<string, string> = { root: s.root.signed.expires };
    if (s.timestamp) expires.timestamp = s.timestamp.doc.signed.expires;
    if (s.snapshot) expires.snapshot = s.snapshot.doc.signed.expires;
    const targets = s.heads.get("targets");
    if (targets) expires.targets = targets.expires;
    return {
      mirror: true,
      upstream: this.#opts.upstream ?? null,
      data_dir: this.#opts.dataDir,
      interval_seconds: this.#opts.intervalSeconds,
      prefetch: this.#opts.prefetch,
      versions: {
        root: s.root.signed.version,
        timestamp: s.timestamp?.doc.signed.version ?? null,
        snapshot: s.snapshot?.doc.signed.version ?? null,
        targets: targets?.version ?? null,
      },
      expires,
      roles: s.heads.size,
      last_success_at: this.#lastSuccessAt?.toISOString() ?? null,
      last_attempt_at: this.#lastAttemptAt?.toISOString() ?? null,
      stale_since: this.#staleSince?.toISOString() ?? null,
      last_failure: this.#lastFailure,
      failures: { ...this.#failures },
      syncs: this.#syncs,
      events_connected: this.eventsConnected,
      targets: { fetched: this.#fetched, bytes: this.#fetchedBytes, failures: { ...this.#targetFailures } },
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#watch !== undefined) clearInterval(this.#watch);
    if (this.#gcTimer !== undefined) clearTimeout(this.#gcTimer);
    await this.#events?.stop();
    while (this.#running) await this.#running;
    this.store.close();
  }
}

async function runPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}
