/**
 * Artifact content: the storage backend (bytes) and the store's contents
 * index (which bytes exist) used together, so that every caller — upload API,
 * drop directory — receives bytes the same way:
 *   1. stage: stream into the staging area, hashing (nothing is kept on failure);
 *   2. register: the contents row, durable (waits while the GC job deletes
 *      the same bytes; see store/contents.ts for the handshake);
 *   3. commit: the bytes under their content name, durable.
 * Only then may the caller accept the artifact: a 202 means both the bytes
 * and the change are on disk.
 */
import type { ContentIndex, ContentRecord } from "../store/contents.ts";
import {
  StorageError,
  type ContentHash,
  type ContentStorage,
  type Digest,
  type ServeOptions,
  type StagedContent,
} from "./storage.ts";

export interface ReceiveOptions {
  /** the declared length (Content-Length or a file's size) */
  expectedLength?: number;
  /** bytes allowed for this one content (default: the configured upload limit) */
  maxBytes?: number;
  expectedDigest?: Partial<Record<ContentHash, string>>;
}

export interface ArtifactContentOptions {
  hashes: readonly ContentHash[];
  maxUploadBytes: number;
  /** how long `register` waits for the GC job to finish deleting the same bytes (default 30 s) */
  gcWaitMs?: number;
}

export class ArtifactContent {
  readonly storage: ContentStorage;
  readonly index: ContentIndex;
  readonly hashes: readonly ContentHash[];
  readonly maxUploadBytes: number;
  readonly #gcWaitMs: number;

  constructor(storage: ContentStorage, index: ContentIndex, opts: ArtifactContentOptions) {
    this.storage = storage;
    this.index = index;
    this.hashes = opts.hashes;
    this.maxUploadBytes = opts.maxUploadBytes;
    this.#gcWaitMs = opts.gcWaitMs ?? 30_000;
  }

  /** Stage only (several files of one request are staged before any is kept). */
  stage(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: ReceiveOptions = {}): Promise<StagedContent> {
    return this.storage.stage(body, {
      maxBytes: opts.maxBytes ?? this.maxUploadBytes,
      expectedLength: opts.expectedLength,
      hashes: this.hashes,
      expectedDigest: opts.expectedDigest,
    });
  }

  /** Register and commit staged bytes: durable when it resolves; the staging copy is gone either way. */
  async keep(staged: StagedContent): Promise<Digest> {
    try {
      await this.#register(staged);
      await staged.commit();
    } finally {
      await staged.discard();
    }
    return { length: staged.length, sha256: staged.sha256, sha512: staged.sha512 };
  }

  /** `keep` for several staged contents (one form): registered in one transaction, then committed. */
  async keepAll(staged: StagedContent[]): Promise<Digest[]> {
    try {
      const live = await this.index.putAll(
        staged.map((d) => ({ sha256: d.sha256, sha512: d.sha512, length: d.length })),
      );
      // Rows the GC job is deleting right now: wait for each, as `keep` does.
      for (const [i, ok] of live.entries()) if (!ok) await this.#register(staged[i]!);
      // In parallel: the disk merges concurrent flushes (one form of many small files).
      let next = 0;
      const worker = async () => {
        while (next < staged.length) await staged[next++]!.commit();
      };
      await Promise.all(Array.from({ length: Math.min(16, staged.length) }, worker));
    } finally {
      for (const s of staged) await s.discard();
    }
    return staged.map((s) => ({ length: s.length, sha256: s.sha256, sha512: s.sha512 }));
  }

  /** Stage, register and commit one stream. */
  async receive(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: ReceiveOptions = {}): Promise<Digest> {
    return this.keep(await this.stage(body, opts));
  }

  async #register(d: Digest): Promise<void> {
    const deadline = Date.now() + this.#gcWaitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
      if (await this.index.put({ sha256: d.sha256, sha512: d.sha512, length: d.length })) return;
      if (Date.now() > deadline)
        throw new StorageError(
          `content ${d.sha256} is being deleted by the gc-artifact-content job`,
          "retry the upload in a minute",
        );
      await Bun.sleep(pause);
    }
  }

  /** A stored content by one of its hashes (sha256, or sha512 when it was computed). */
  async find(hash: string): Promise<ContentRecord | undefined> {
    const found = hash.length === 128 ? await this.index.getBySha512(hash) : await this.index.get(hash);
    return found && !found.deleting ? found : undefined;
  }

  serve(req: Request, content: ContentRecord, opts: ServeOptions): Promise<Response> {
    return this.storage.serve(req, content, opts);
  }
}

/** The TUF target info (`length`, `hashes`, optional `custom`) of stored content. */
export function targetInfoOf(
  d: Digest,
  custom?: Record<string, unknown>,
): { length: number; hashes: Record<string, string>; custom?: Record<string, unknown> } {
  const hashes: Record<string, string> = { sha256: d.sha256 };
  if (d.sha512) hashes.sha512 = d.sha512;
  return { length: d.length, hashes, ...(custom ? { custom } : {}) };
}
