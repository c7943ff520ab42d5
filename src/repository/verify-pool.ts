/**
 * Verifies freshly signed documents on another core while the publisher keeps
 * signing: ed25519 verification costs about twice a signature, and every
 * document is verified before it is written. Falls back to verifying inline
 * when workers are unavailable.
 */
import type { PublicKey } from "../tuf/keys.ts";
import { tooDeep, tooDeepError } from "./client-limits.ts";

const CHUNK = 256;
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
  #nextId = 1;
  readonly #waiting = new Map<number, (result: { failed: string[]; deep: string[] }) => void>();

  #ensureWorker(): Worker | null {
    if (this.#worker || this.#failedToStart) return this.#worker;
    try {
      // In a compiled binary every entry point sits under the bundle's root
      // (scripts/build.ts embeds the worker as src/repository/verify-worker.ts).
      const spec = import.meta.url.includes("/$bunfs/")
        ? new URL("./repository/verify-worker.ts", import.meta.url)
        : new URL("./verify-worker.ts", import.meta.url);
      const w = new Worker(spec.href);
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
    const worker = this.#ensureWorker();
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
      queue.push(chunk);
      chunk = [];
      flushed++;
      pump();
    };
    return {
      add(name, data, sig) {
        if (!worker) {
          verifyHere({ name, data, sig });
          return;
        }
        // Own buffer per item, so transferring it detaches nothing else.
        const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
        chunk.push({ name, data: own, sig });
        if (chunk.length >= CHUNK) flush();
      },
      async done() {
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
      },
    };
  }

  close(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }
}
