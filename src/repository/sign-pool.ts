/**
 * Signs a large publication's targets documents on another core (issue 15).
 * At 1M artifacts in 16384 bins, signing each ~12 KB bin, putting its
 * envelope together and hashing it took ~2 s of the publisher's one thread,
 * while the second core was idle for part of the time the publisher spent
 * assembling the bins. Documents go to the worker in chunks as they are
 * assembled; a publication of fewer than a chunk (the usual few bins,
 * snapshot and timestamp) is signed right here, without waiting on another
 * thread. Only keys this process holds can move (a NativeSigner); others are
 * signed where they are.
 */
import { signedEnvelope } from "../tuf/document.ts";
import { NativeSigner, type Signer } from "../tuf/signer.ts";
import type { SignWorkerRequest, SignWorkerResult } from "./sign-worker.ts";
import { workerUrl } from "../workers.ts";

/** documents per message to the worker */
const CHUNK = 64;
/** A worker left idle this long is stopped; the next large publication starts one again. */
const IDLE_STOP_MS = 30_000;

/** One signed document: its signature, envelope bytes and their sha256, and the signed bytes (for verification). */
export interface SignedBytes {
  sig: string;
  envelope: Uint8Array;
  sha256: string;
  data: Uint8Array;
}

/** The signing worker died: nothing was written; the batch is built again and signed here. */
export class SignerUnavailable extends Error {
  constructor() {
    super("the signing worker failed; the batch was not published and will be retried");
    this.name = "SignerUnavailable";
  }
}

export interface SignBatch {
  /** Whether `signer`'s documents can be added here; when not, the caller signs them itself. */
  accepts(signer: Signer): signer is NativeSigner;
  /**
   * Sign `data` (the UTF-8 of a canonical text that envelopes as is) with
   * `signer`, one `accepts` took; `then` gets the result, here or when the
   * worker answers (never within this call).
   */
  add(signer: NativeSigner, data: Uint8Array, then: (signed: SignedBytes) => void): void;
  /** Resolves when every document added is signed (and its `then` ran); rejects when the worker failed. */
  done(): Promise<void>;
}

type Item = { data: Uint8Array; then: (signed: SignedBytes) => void };

export class SignPool {
  #worker: Worker | null = null;
  #failedToStart = false;
  /** keyids whose private key the running worker holds */
  #keysGiven = new Set<string>();
  #nextId = 1;
  readonly #waiting = new Map<number, { resolve: (r: SignWorkerResult) => void; reject: (e: Error) => void }>();
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #idleStopMs: number;

  constructor(opts: { idleStopMs?: number } = {}) {
    this.#idleStopMs = opts.idleStopMs ?? IDLE_STOP_MS;
  }

  /** Whether a signing worker is running (it starts with the first full chunk and stops when idle). */
  get workerRunning(): boolean {
    return this.#worker !== null;
  }

  #ensureWorker(): Worker | null {
    if (this.#worker || this.#failedToStart) return this.#worker;
    try {
      const w = new Worker(workerUrl("repository/sign-worker.ts"));
      w.onmessage = (e: MessageEvent<SignWorkerResult>) => {
        const waiter = this.#waiting.get(e.data.id);
        this.#waiting.delete(e.data.id);
        if (!waiter) return;
        if (e.data.error) waiter.reject(new Error(e.data.error));
        else waiter.resolve(e.data);
      };
      w.onerror = () => {
        // A broken worker must not hang the publisher: fail what waits, sign here from now on.
        for (const waiter of this.#waiting.values()) waiter.reject(new SignerUnavailable());
        this.#waiting.clear();
        this.#worker = null;
        this.#keysGiven.clear();
        this.#failedToStart = true;
      };
      w.unref();
      this.#worker = w;
    } catch {
      this.#failedToStart = true;
    }
    return this.#worker;
  }

  #post(worker: Worker, signer: NativeSigner, items: Item[]): Promise<SignWorkerResult> {
    if (!this.#keysGiven.has(signer.keyid)) {
      const pkcs8 = signer.pkcs8ForWorker();
      const msg: SignWorkerRequest = { kind: "key", keyid: signer.keyid, key: signer.publicKey.json, pkcs8 };
      worker.postMessage(msg, [pkcs8.buffer as ArrayBuffer]);
      this.#keysGiven.add(signer.keyid);
    }
    const id = this.#nextId++;
    const data = items.map((i) => i.data);
    const msg: SignWorkerRequest = { kind: "sign", id, keyid: signer.keyid, items: data };
    const answer = new Promise<SignWorkerResult>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    worker.postMessage(
      msg,
      data.map((d) => d.buffer as ArrayBuffer),
    );
    return answer;
  }

  batch(): SignBatch {
    this.#cancelIdleStop();
    const pool = this;
    /** per keyid, documents not yet handed to the worker */
    const chunks = new Map<string, { signer: NativeSigner; items: Item[] }>();
    const answers: Promise<void>[] = [];
    const post = (signer: NativeSigner, items: Item[]) => {
      const worker = pool.#ensureWorker();
      if (!worker) {
        // Never inside add(): its caller has not finished with the document yet.
        answers.push(Promise.resolve().then(() => signHere(signer, items)));
        return;
      }
      answers.push(
        pool.#post(worker, signer, items).then((r) => {
          for (let i = 0; i < items.length; i++)
            items[i]!.then({ sig: r.sigs[i]!, envelope: r.envelopes[i]!, sha256: r.sha256s[i]!, data: r.items[i]! });
        }),
      );
    };
    return {
      accepts(signer): signer is NativeSigner {
        return signer instanceof NativeSigner && !pool.#failedToStart;
      },
      add(signer, data, then) {
        // Own buffer per item, so transferring it detaches nothing else.
        const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
        let chunk = chunks.get(signer.keyid);
        if (!chunk) {
          chunk = { signer, items: [] };
          chunks.set(signer.keyid, chunk);
        }
        chunk.items.push({ data: own, then });
        if (chunk.items.length >= CHUNK) {
          post(signer, chunk.items);
          chunk.items = [];
        }
      },
      async done() {
        try {
          // What never made a full chunk is signed here: a small publication waits on no other thread.
          for (const { signer, items } of chunks.values()) signHere(signer, items);
          chunks.clear();
          // Every answer settles before the first failure is reported.
          const results = await Promise.allSettled(answers);
          const failed = results.find((r) => r.status === "rejected");
          if (failed) throw (failed as PromiseRejectedResult).reason;
        } finally {
          // Armed again whether or not this batch used the worker: batch() disarmed it.
          if (pool.#worker) pool.#stopWhenIdle();
        }
      },
    };
  }

  #cancelIdleStop(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  #stopWhenIdle(): void {
    this.#cancelIdleStop();
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.#waiting.size > 0) return this.#stopWhenIdle();
      this.close();
    }, this.#idleStopMs);
    this.#idleTimer.unref();
  }

  close(): void {
    this.#cancelIdleStop();
    this.#worker?.terminate();
    this.#worker = null;
    this.#keysGiven.clear();
    // A publication still waiting fails instead of hanging (it is not written).
    for (const waiter of this.#waiting.values()) waiter.reject(new SignerUnavailable());
    this.#waiting.clear();
  }
}

function signHere(signer: NativeSigner, items: Item[]): void {
  for (const item of items) item.then({ ...signedEnvelope(signer, item.data), data: item.data });
}
