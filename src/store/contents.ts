/**
 * Which artifact bytes tufbox holds (src/storage/), one row per distinct
 * content, keyed by sha256: the same bytes under two target paths are one row
 * and one stored object. Both store backends implement this, and
 * test/store/contents-contract.ts runs against each.
 *
 * The row is also the handshake between uploads and the content GC job
 * (storage/gc.ts), so neither needs a lock held across a slow byte transfer:
 * - an upload calls `put` BEFORE writing the bytes under their final name;
 *   `put` revives a row (clears `unreferencedSince`) unless the GC job has
 *   already started deleting it, in which case it returns false and the upload
 *   waits for `finishDeletion` before trying again;
 * - the GC job calls `beginDeletion`, which succeeds only while the row is still
 *   unreferenced since before the grace cut-off (a concurrent `put` made it
 *   live again), then deletes the bytes, then `finishDeletion`.
 * So bytes written by an upload are never deleted by a GC run that started
 * before the upload's `put`, and a GC run never starts on a row an upload revived.
 */

export interface ContentRecord {
  /** hex sha256 of the bytes: the key */
  sha256: string;
  /** hex sha512, when storage.hashes includes it (or an earlier upload computed it) */
  sha512: string | null;
  length: number;
  /** ISO instant the row was first written */
  storedAt: string;
  /** ISO instant the GC job first saw no artifact or queued change listing it; null while listed */
  unreferencedSince: string | null;
  /** the GC job is deleting the bytes */
  deleting: boolean;
}

export interface NewContent {
  sha256: string;
  sha512: string | null;
  length: number;
}

/** A queued "add" change's target info, for the GC job's reference scan. */
export interface QueuedFragment {
  id: number;
  fragment: string;
}

export interface ContentIndex {
  /**
   * Insert, or revive (clear `unreferencedSince`, fill in a missing sha512).
   * Durable when it resolves. False when the row is being deleted by the GC
   * job: the caller must wait and retry, never write bytes under it now.
   */
  put(content: NewContent): Promise<boolean>;
  /** `put` for several contents in one durable transaction (one fsync for a whole form) */
  putAll(contents: NewContent[]): Promise<boolean[]>;
  get(sha256: string): Promise<ContentRecord | undefined>;
  getBySha512(sha512: string): Promise<ContentRecord | undefined>;
  /** rows with sha256 > `after`, in sha256 order */
  list(opts: { after?: string; limit: number }): Promise<ContentRecord[]>;
  /**
   * `since` = null: these are listed again (clear the mark). Otherwise mark
   * them unreferenced since `since`, keeping an earlier mark.
   */
  markUnreferenced(sha256s: string[], since: string | null): Promise<void>;
  /** start deleting one row: only if not already deleting and unreferenced since at or before `before` */
  beginDeletion(sha256: string, before: string): Promise<boolean>;
  /** the bytes are gone: drop the row (only if it is being deleted) */
  finishDeletion(sha256: string): Promise<void>;
  /** every queued "add" change (held or not) with id > afterId, oldest first */
  queuedFragments(opts: { afterId: number; limit: number }): Promise<QueuedFragment[]>;
}

export const CONTENT_HEX = { sha256: /^[0-9a-f]{64}$/, sha512: /^[0-9a-f]{128}$/ };

/** Refuse malformed rows in every backend alike (contract: a bad hash never reaches the table). */
export function checkNewContent(c: NewContent): void {
  if (!CONTENT_HEX.sha256.test(c.sha256)) throw new Error(`content sha256 must be 64 lower-case hex characters`);
  if (c.sha512 !== null && !CONTENT_HEX.sha512.test(c.sha512))
    throw new Error(`content sha512 must be 128 lower-case hex characters`);
  if (!Number.isSafeInteger(c.length) || c.length < 0) throw new Error(`content length must be a non-negative integer`);
}
