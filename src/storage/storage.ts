/**
 * Artifact content storage: the bytes of artifacts tufbox was given (upload
 * API, drop directory, `tufbox import`), content-addressed by sha256 so the
 * same bytes under two target paths are stored once. One interface, two
 * backends (local.ts, s3.ts), one contract suite (test/storage/contract.ts)
 * run against both — S3 against a real S3-protocol server.
 *
 * Bytes always arrive in two steps: `stage` streams them into a file in the
 * staging directory while hashing (never whole in memory), then `commit`
 * makes them durable under their content name (fsync + rename, or the S3
 * acknowledgement). Only then is the content durable: the upload API answers 202 after `commit` and the
 * store's accept. Which contents exist, and the GC handshake, live in the
 * store (store/contents.ts); content.ts ties the two together.
 */

export type ContentHash = "sha256" | "sha512";
export const CONTENT_HASHES: readonly ContentHash[] = ["sha256", "sha512"];

export interface Digest {
  length: number;
  sha256: string;
  /** only when storage.hashes includes sha512 */
  sha512: string | null;
}

/** Bytes received in full in the staging directory, not yet under their content name (nor durable). */
export interface StagedContent extends Digest {
  /** put the bytes under their content name (idempotent; dedup); durable when it resolves */
  commit(): Promise<void>;
  /** drop the staged bytes (after commit: only the staging copy, if any is left) */
  discard(): Promise<void>;
}

export interface StageOptions {
  /** refuse (UploadError "too_large") as soon as more than this many bytes arrive */
  maxBytes: number;
  /** the declared length (Content-Length); a different byte count is an UploadError "length_mismatch" */
  expectedLength?: number;
  /** hashes to compute besides sha256 */
  hashes: readonly ContentHash[];
  /** expected digests (e.g. from a Content-Digest header); a mismatch is UploadError "digest_mismatch" */
  expectedDigest?: Partial<Record<ContentHash, string>>;
}

export interface ServeOptions {
  /** the target's base name, for Content-Disposition */
  name: string;
  /** the URL names the bytes by hash: cache forever */
  immutable: boolean;
}

export interface ContentStorage {
  readonly kind: "local" | "s3";
  /** create directories; remove staging files left by crashed processes */
  open(): Promise<void>;
  close(): Promise<void>;
  /** stream `body` into staging, hashing it; throws UploadError (nothing is left behind then) */
  stage(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: StageOptions): Promise<StagedContent>;
  /** whether the bytes of `sha256` are stored */
  exists(sha256: string): Promise<boolean>;
  /** the bytes of `sha256`, e.g. to verify them (undefined when not stored) */
  read(sha256: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /** an HTTP response serving the stored bytes (GET with Range, HEAD, If-None-Match) */
  serve(req: Request, content: { sha256: string; length: number }, opts: ServeOptions): Promise<Response>;
  /** delete the bytes of `sha256` (no error when already gone) */
  delete(sha256: string): Promise<void>;
  /** remove staging files not touched for `olderThanMs` (uploads that died); returns how many */
  sweep(olderThanMs: number): Promise<number>;
}

export type UploadErrorKind = "too_large" | "length_mismatch" | "digest_mismatch" | "aborted";

/** The bytes could not be taken; nothing was stored. The HTTP layer maps `kind` to a status. */
export class UploadError extends Error {
  readonly kind: UploadErrorKind;
  constructor(kind: UploadErrorKind, message: string) {
    super(message);
    this.name = "UploadError";
    this.kind = kind;
  }
}

/** Bytes storage could not take or give (disk full, S3 unreachable): a 503-class failure, never a partial write. */
export class StorageError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = "StorageError";
    this.hint = hint;
  }
}
