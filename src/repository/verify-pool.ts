/**
 * Verifies freshly signed documents on another core while the publisher keeps
 * signing: ed25519 verification costs about twice a signature, and every
 * document is verified before it is written. Falls back to verifying inline
 * when workers are unavailable.
 */
import type { PublicKey } from "../tuf/keys.ts";
import { tooDeep, tooDeepError } from "./client-limits.ts";
import { workerUrl } from "../workers.ts";

const CHUNK = 256;
/**
 * A worker left idle this long is stopped (a second JavaScript VM, several
 * MiB of an idle server's RSS); the next large batch starts one again.
 */
const IDLE_STOP_MS = 30_000;
/** chunks handed to the worker at once: enough to keep it busy between two answers */
const WORKER_CHUNKS_IN_FLIGHT = 2;
/** share of chunks the worker gets even when its answers cannot be seen (see batch) */
const WORKER_SHARE = 0.42;
const WORKER_FAILED = "\u0000worker failed";

/** The verification worker died mid-batch: nothing was written; build the batch again (verified inline from now on). */
export class VerifierUnavailable extends Error {
  constructor() {
    super("the signature verification worker failed; the batch was not published and will be retried");
    this.name = "VerifierUnavailable";
  }
}

export interface VerifyBatch {
  /** queue one signed document; `data` is handed over (its buffer may be detached) */
  add(name: string, data: Uint8Array, sig: string): void;
  /** resolves when every queued document verified; rejects naming the first that did not */
  done(): Promise<void>;
}

export class VerifyPool {
  #worker: Worker | null = null;
  #failedToStart = false;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  /** performance.now() of the last batch started or finished */
  #lastUse = 0;
  /**
   * Batches started and not done: the worker is never stopped under one (its
   * answers would never come). One that failed before done() keeps the
   * worker for good, as before workers were stopped when idle.
   */
  #open = 0;
  readonly #idleStopMs: number;

  constructor(opts: { idleStopMs?: number } = {}) {
    this.#idleStopMs = opts.idleStopMs ?? IDLE_STOP_MS;
  }

  /** Whether a verification worker is running (it starts with the first full chunk and stops when idle). */
  get workerRunning(): boolean {
    return this.#worker !== null;
  }
  #nextId = 1;
  readonly #waiting = new Map<number, (result: { failed: string[]; deep: string[] }) => void>();

  #ensureWorker(): Worker | null {
    if (this.#worker || this.#failedToStart) return this.#worker;
    try {
      const w = new Worker(workerUrl("repository/verify-worker.ts"));
      w.onmessage = (e: MessageEvent<{ id: number; failed: string[]; deep: string[] }>) => {
        const resolve = this.#waiting.get(e.data.id);
        this.#waiting.delete(e.data.id);
        resolve?.({ failed: e.data.failed, deep: e.data.deep ?? [] });
      };
      w.onerror = () => {
        // A broken worker must not hang the publisher: fail what waits, verify inline from now on.
        for (const resolve of this.#waiting.values()) resolve({ failed: [WORKER_FAILED], deep: [] });
        this.#waiting.clear();
        this.#worker = null;
        this.#failedToStart = true;
      };
      w.unref();
      this.#worker = w;
    } catch {
      this.#failedToStart = true;
    }
    return this.#worker;
  }

  /**
   * Chunks go to the worker two at a time, the rest wait here: when the
   * publisher has signed everything and calls done(), it verifies what is
   * still waiting itself, from the other end of the queue, so both cores
   * finish together (bootstrap of 16384 bins: signing takes the main core
   * ~0.3 s, verifying all on one core ~0.7 s).
   */
  batch(key: PublicKey): VerifyBatch {
    this.#lastUse = performance.now();
    this.#open++;
    // Started with the first full chunk: a small publication (a few bins,
    // snapshot, timestamp) is verified here, without a round trip through
    // another thread that a busy machine may not schedule at once.
    let worker: Worker | null = null;
    const pool = this;
    const pending: Promise<{ failed: string[]; deep: string[] }>[] = [];
    const inlineFailed: string[] = [];
    const inlineDeep: string[] = [];
    type Item = { data: Uint8Array; sig: string; name: string };
    let chunk: Item[] = [];
    const queue: Item[][] = [];
    let inFlight = 0;
    let flushed = 0;
    let posted = 0;
    // The worker's answers are only seen when the publisher yields; a caller
    // that signs without yielding (bootstrap) still gives the worker its
    // share: verifying costs ~2.3 signatures, so while the main core signs n
    // documents the worker verifies ~0.43 n.
    const wanted = () => inFlight < WORKER_CHUNKS_IN_FLIGHT || posted < WORKER_SHARE * flushed;
    const verifyHere = (item: Item) => {
      if (tooDeep(item.data)) inlineDeep.push(item.name);
      if (!key.verify(item.data, item.sig)) inlineFailed.push(item.name);
    };
    const pump = () => {
      while (worker && queue.length > 0 && wanted()) {
        const items = queue.shift()!;
        posted++;
        const id = this.#nextId++;
        inFlight++;
        pending.push(
          new Promise((resolve) =>
            this.#waiting.set(id, (result) => {
              inFlight--;
              resolve(result);
              pump();
            }),
          ),
        );
        worker.postMessage(
          { id, keyid: key.keyid, key: key.json, items },
          items.map((i) => i.data.buffer as ArrayBuffer),
        );
      }
    };
    const flush = () => {
      if (chunk.length === 0) return;
      worker ??= pool.#ensureWorker();
      queue.push(chunk);
      chunk = [];
      flushed++;
      pump();
    };
    return {
      add(name, data, sig) {
        if (pool.#failedToStart) {
          verifyHere({ name, data, sig });
          return;
        }
        // Own buffer per item, so transferring it detaches nothing else.
        const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
        chunk.push({ name, data: own, sig });
        if (chunk.length >= CHUNK) flush();
      },
      async done() {
        try {
          await finish();
        } finally {
          pool.#open--;
          pool.#stopWhenIdle();
        }
      },
    };

    async function finish() {
      // Nothing handed to the worker yet and less than a chunk: verify here.
      if (posted === 0 && queue.length === 0) {
        for (const item of chunk) verifyHere(item);
        chunk = [];
      }
      flush();
      while (queue.length > 0) {
        for (const item of queue.pop()!) verifyHere(item);
        // Let the worker's answers in, so it keeps getting chunks meanwhile.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const results = await Promise.all(pending);
      const failed = [...inlineFailed, ...results.flatMap((r) => r.failed)];
      if (failed.includes(WORKER_FAILED)) throw new VerifierUnavailable();
      // A document clients could not parse is never published (client-limits.ts).
      const deep = [...inlineDeep, ...results.flatMap((r) => r.deep)];
      if (deep.length > 0) throw tooDeepError(deep[0]!);
      if (failed.length > 0)
        throw new Error(
          `signature of ${failed[0]} does not verify with ${key.keyid}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ""}; nothing was published`,
        );
    }
  }

  /** Stop the worker once no batch used it for IDLE_STOP_MS (a batch that never finished counts from its start). */
  #stopWhenIdle(): void {
    this.#lastUse = performance.now();
    if (!this.#worker || this.#idleTimer) return;
    const check = () => {
      this.#idleTimer = null;
      if (!this.#worker) return;
      const idleFor = performance.now() - this.#lastUse;
      // A batch in progress arms the timer again when it is done.
      if (this.#open > 0) return;
      if (idleFor < this.#idleStopMs || this.#waiting.size > 0) {
        this.#idleTimer = setTimeout(check, Math.max(this.#idleStopMs - idleFor, this.#idleStopMs / 4));
        this.#idleTimer.unref();
        return;
      }
      this.#worker.terminate();
      this.#worker = null;
    };
    this.#idleTimer = setTimeout(check, this.#idleStopMs);
    this.#idleTimer.unref();
  }

  close(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    this.#worker?.terminate();
    this.#worker = null;
  }
}
