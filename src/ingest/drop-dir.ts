/**
 * The drop directory (`ingest.drop_dir`): Rugged's monitor-worker protocol
 * without a broker. A pipeline holding no credentials writes
 * `tuf_tmp_<id>/`, copies files in, and renames it `tuf_ready_<id>/` (the
 * rename is its "done"). tufbox:
 *   1. records a claim (a task id chosen now) durably in the store, then
 *      renames the directory `tuf_processing_<id>/` — the rename is atomic, so
 *      of several replicas watching one directory exactly one wins;
 *   2. walks it (no symlinks, no special files, valid target paths), stores
 *      and hashes every file (storage/content.ts), and adds them all in ONE
 *      task with the claimed id;
 *   3. removes the directory and the claim.
 * On failure nothing is added: the directory becomes `tuf_failed_<id>/` with
 * an `error.json` ({error, file, hint, task_id}) and a FAILURE task.
 *
 * Crash safety: a `tuf_processing_` directory found at start-up is resumed
 * with its claimed task id. If that task exists, the accept had committed
 * before the crash (accept is one transaction), so only the clean-up is left;
 * otherwise the batch runs again and the store refuses a second accept with
 * the same id — never two tasks for one directory. Upper-case `TUF_` names
 * work the same way and keep their case.
 *
 * Watching: fs events where the filesystem delivers them, plus a periodic
 * scan (`ingest.scan_seconds`), because NFS and SMB do not.
 */
import { watch, type FSWatcher } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Store } from "../store/store.ts";
import { DROP_DIR_ACTOR, StoreConflictError } from "../store/store.ts";
import type { Repository } from "../repository/repository.ts";
import { newTaskId } from "../repository/task-results.ts";
import { targetInfoOf, type ArtifactContent } from "../storage/content.ts";
import { UploadError } from "../storage/storage.ts";
import { inParallel, WalkError, walkFiles, type WalkedFile } from "./walk.ts";

const NAME = /^(tuf)_(ready|processing)_(.+)$/i;
const ERROR_FILE = "error.json";
const FILES_AT_ONCE = 4;

export interface DropLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface DropDirectoryOptions {
  dir: string;
  scanSeconds: number;
  /** ready directories processed at once */
  parallel: number;
}

interface Failure {
  error: string;
  file: string | null;
  hint: string;
}

class DropFailure extends Error {
  readonly failure: Failure;
  constructor(failure: Failure) {
    super(failure.error);
    this.failure = failure;
  }
}

export class DropDirectory {
  readonly dir: string;
  readonly #opts: DropDirectoryOptions;
  readonly #store: Store;
  readonly #repo: Repository;
  readonly #content: ArtifactContent;
  readonly #log: DropLog;
  /** processing directory names being worked on */
  readonly #active = new Set<string>();
  readonly #queue: string[] = [];
  readonly #running = new Set<Promise<void>>();
  #watcher: FSWatcher | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #scanPending: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> | undefined;
  #rescan = false;
  #stopped = false;
  #waitingNoted = false;
  #idle: (() => void)[] = [];

  constructor(
    deps: { store: Store; repo: Repository; content: ArtifactContent; log: DropLog },
    opts: DropDirectoryOptions,
  ) {
    this.dir = opts.dir;
    this.#opts = opts;
    this.#store = deps.store;
    this.#repo = deps.repo;
    this.#content = deps.content;
    this.#log = deps.log;
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    try {
      this.#watcher = watch(this.dir, () => this.#soon());
      this.#watcher.on("error", (err) =>
        this.#log.warn("drop directory watch failed; scanning only", { error: String(err) }),
      );
    } catch (err) {
      this.#log.warn("cannot watch the drop directory; scanning only", { error: String(err) });
    }
    this.#timer = setInterval(() => this.#soon(), this.#opts.scanSeconds * 1000);
    this.#log.info("watching the drop directory", { dir: this.dir });
    await this.scan();
  }

  /** Stop watching; batches under way finish (their directories stay consistent either way). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
    if (this.#scanPending) clearTimeout(this.#scanPending);
    this.#queue.length = 0;
    await this.#scanning;
    await Promise.allSettled([...this.#running]);
  }

  /** Resolves when nothing is queued or running (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.#active.size === 0 && this.#queue.length === 0 && !this.#scanning) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #soon(): void {
    if (this.#stopped || this.#scanPending) return;
    // Events come in bursts (one per file copied); one scan per burst.
    this.#scanPending = setTimeout(() => {
      this.#scanPending = undefined;
      void this.scan();
    }, 50);
  }

  /** Look for ready (and, at start-up, processing) directories and queue them. */
  scan(): Promise<void> {
    if (this.#scanning) {
      this.#rescan = true;
      return this.#scanning;
    }
    this.#scanning = this.#scanOnce()
      .catch((err) => this.#log.error("drop directory scan failed", { error: errorText(err) }))
      .finally(() => {
        this.#scanning = undefined;
        if (this.#rescan && !this.#stopped) {
          this.#rescan = false;
          void this.scan();
        } else this.#maybeIdle();
      });
    return this.#scanning;
  }

  async #scanOnce(): Promise<void> {
    if (!this.#repo.bootstrapped) {
      // Ready directories wait: failing them would only make the pipeline write them again.
      if (!this.#waitingNoted) this.#log.warn("drop directory waits until the repository is bootstrapped");
      this.#waitingNoted = true;
      return;
    }
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      this.#log.warn("cannot read the drop directory", { dir: this.dir, error: errorText(err) });
      return;
    }
    names.sort();
    for (const name of names) {
      if (this.#stopped) return;
      const m = NAME.exec(name);
      if (!m) continue;
      const upper = m[1] === "TUF";
      const id = m[3]!;
      const processing = `${upper ? "TUF_PROCESSING" : "tuf_processing"}_${id}`;
      if (this.#active.has(processing)) continue;
      if (!(await isDirectory(join(this.dir, name)))) continue;
      this.#active.add(processing);
      if (m[2]!.toLowerCase() === "ready") {
        const claimed = await this.#claim(name, processing).catch((err) => {
          this.#log.error("cannot claim a ready directory", { dir: name, error: errorText(err) });
          return false;
        });
        if (!claimed) {
          this.#active.delete(processing);
          continue;
        }
      }
      // A processing directory we did not claim in this run: a crash left it (resume it).
      this.#queue.push(processing);
    }
    this.#pump();
  }

  async #claim(ready: string, processing: string): Promise<boolean> {
    if (await exists(join(this.dir, processing))) {
      this.#log.warn("a ready directory waits: a processing directory with its id exists", { dir: ready });
      return false;
    }
    // The claim is durable before the rename, so a processing directory always has one.
    await this.#store.setSettings({
      [claimKey(processing)]: { taskId: newTaskId(), claimedAt: new Date().toISOString() },
    });
    try {
      await rename(join(this.dir, ready), join(this.dir, processing));
      return true;
    } catch (err) {
      // Another replica won the rename, or the pipeline took it back.
      await this.#store.setSettings({ [claimKey(processing)]: undefined });
      if ((err as { code?: string }).code !== "ENOENT") throw err;
      return false;
    }
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#opts.parallel && this.#queue.length > 0) {
      const name = this.#queue.shift()!;
      const work = this.#process(name).finally(() => {
        this.#running.delete(work);
        this.#active.delete(name);
        this.#pump();
        this.#maybeIdle();
      });
      this.#running.add(work);
    }
  }

  #maybeIdle(): void {
    if (this.#active.size > 0 || this.#queue.length > 0 || this.#scanning) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  async #process(processing: string): Promise<void> {
    const path = join(this.dir, processing);
    let claim = await this.#store.getSetting<{ taskId: string }>(claimKey(processing));
    if (!claim) {
      claim = { taskId: newTaskId() };
      await this.#store.setSettings({ [claimKey(processing)]: { ...claim, claimedAt: new Date().toISOString() } });
    }
    const taskId = claim.taskId;
    try {
      if (!(await this.#store.getTask(taskId))) await this.#ingest(path, taskId);
      else
        this.#log.info("drop directory was accepted before a restart; cleaning up", {
          dir: processing,
          task_id: taskId,
        });
      await rm(path, { recursive: true, force: true });
      await this.#store.setSettings({ [claimKey(processing)]: undefined });
    } catch (err) {
      const failure: Failure =
        err instanceof DropFailure
          ? err.failure
          : {
              error: errorText(err),
              file: null,
              hint: "see the tufbox log; rename the directory to tuf_ready_<id> to retry",
            };
      await this.#fail(processing, taskId, failure).catch((e) =>
        this.#log.error("cannot mark a drop directory failed", { dir: processing, error: errorText(e) }),
      );
    }
  }

  async #ingest(path: string, taskId: string): Promise<void> {
    let files: WalkedFile[];
    try {
      files = await walkFiles(path);
    } catch (err) {
      if (err instanceof WalkError) throw new DropFailure({ error: err.message, file: err.file, hint: err.hint });
      throw err;
    }
    if (files.length === 0)
      throw new DropFailure({
        error: "the directory holds no files",
        file: null,
        hint: "copy the artifacts into tuf_tmp_<id>/ before renaming it tuf_ready_<id>/",
      });
    const started = performance.now();
    const stored = await inParallel(files, FILES_AT_ONCE, async (f) => {
      try {
        const digest = await this.#content.receive(Bun.file(f.file).stream(), {
          expectedLength: f.size,
          maxBytes: Math.max(f.size, 1),
        });
        return { path: f.path, digest };
      } catch (err) {
        if (err instanceof UploadError)
          throw new DropFailure({
            error: `${f.path} changed while it was read (${err.message})`,
            file: f.path,
            hint: "write files into tuf_tmp_<id>/ and rename it only when every file is complete",
          });
        throw new DropFailure({
          error: `${f.path}: ${errorText(err)}`,
          file: f.path,
          hint: "check that tufbox can read the file and that artifact storage is reachable",
        });
      }
    });
    try {
      await this.#repo.acceptAdd(
        {
          artifacts: stored.map(({ path, digest }) => ({ path, info: targetInfoOf(digest) })),
          addTaskIdToCustom: false,
          publish: true,
        },
        DROP_DIR_ACTOR,
        { taskId },
      );
    } catch (err) {
      // The same claimed task id twice: a replica resuming the same directory got there first.
      if (!(err instanceof StoreConflictError && (await this.#store.getTask(taskId)))) throw err;
    }
    this.#log.info("drop directory accepted", {
      dir: path,
      task_id: taskId,
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      ms: Math.round(performance.now() - started),
    });
  }

  async #fail(processing: string, taskId: string, failure: Failure): Promise<void> {
    const upper = processing.startsWith("TUF_");
    const id = processing.slice("tuf_processing_".length);
    let failed = `${upper ? "TUF_FAILED" : "tuf_failed"}_${id}`;
    if (await exists(join(this.dir, failed))) failed += `.${Date.now()}`;
    const from = join(this.dir, processing);
    const body = JSON.stringify({ ...failure, task_id: taskId }, null, 2) + "\n";
    const fh = await open(join(from, ERROR_FILE), "w");
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(from, join(this.dir, failed));
    await this.#store.setSettings({ [claimKey(processing)]: undefined });
    const now = new Date().toISOString();
    await this.#store
      .createTask({
        id: taskId,
        name: "add_artifacts",
        state: "FAILURE",
        result: {
          task: "add_artifacts",
          status: false,
          last_update: now,
          message: "Drop directory failed",
          error: failure.error,
          details: { drop_directory: failed, file: failure.file, hint: failure.hint },
        },
      })
      .catch(() => undefined);
    this.#log.warn("drop directory failed; nothing from it was added", { dir: failed, ...failure, task_id: taskId });
  }
}

function claimKey(processing: string): string {
  return `ingest.drop.${processing}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
