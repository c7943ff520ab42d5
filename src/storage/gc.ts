/**
 * The `gc-artifact-content` scheduled job: deletes stored artifact bytes that
 * no artifact lists any more, once they have been unlisted for the grace
 * period, so a client in the middle of an update (holding a timestamp that
 * still points at metadata listing the artifact) can still download it.
 *
 * Each run:
 *  1. removes staging files untouched for an hour (uploads whose process died
 *     on another host; the own host's are removed at start-up);
 *  2. finishes deletions a crashed run left half done;
 *  3. scans every published artifact (role by role) and queued change for the sha256s they
 *     list; a listed content is unmarked, an unlisted one is marked with the
 *     time it was first seen unlisted;
 *  4. deletes content marked before now − grace, through the store's
 *     handshake (store/contents.ts), so an upload of the same bytes that
 *     arrives meanwhile either revives the row first or waits for the delete.
 * A sha256 that appears anywhere in an entry (even in `custom`) counts as a
 * reference: a false positive only keeps bytes longer.
 */
import type { Store } from "../store/store.ts";
import type { ContentRecord } from "../store/contents.ts";
import type { ArtifactContent } from "./content.ts";
import { isTargetsRole } from "../tuf/roles.ts";

const SHA256_IN_FRAGMENT = /"([0-9a-f]{64})"/g;
const PAGE = 10_000;
const ROLES_PER_READ = 256;
export const STALE_STAGING_MS = 3_600_000;

export interface GcLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface GcResult {
  kept: number;
  marked: number;
  deleted: number;
  freedBytes: number;
  swept: number;
}

export async function collectContent(
  deps: { store: Store; content: ArtifactContent; log: GcLog },
  opts: { graceMs: number; now?: Date },
): Promise<GcResult> {
  const now = opts.now ?? new Date();
  const { store, content } = deps;
  const result: GcResult = { kept: 0, marked: 0, deleted: 0, freedBytes: 0, swept: 0 };
  result.swept = await content.storage.sweep(STALE_STAGING_MS);

  const live = new Map<string, ContentRecord>();
  for (let after: string | undefined; ; ) {
    const page = await store.contents.list({ after, limit: PAGE });
    if (page.length === 0) break;
    for (const row of page) {
      if (row.deleting) await remove(deps, row, result);
      else live.set(row.sha256, row);
    }
    after = page[page.length - 1]!.sha256;
  }
  if (live.size === 0) return result;

  const referenced = new Set<string>();
  const note = (fragment: string) => {
    for (const m of fragment.matchAll(SHA256_IN_FRAGMENT)) if (live.has(m[1]!)) referenced.add(m[1]!);
  };
  // Role by role, not by path: a bin's entries are read together (on SQLite
  // from its document), where a page of paths would touch a bin per path.
  const roles = (await store.getHeads()).map((h) => h.role).filter(isTargetsRole);
  for (let i = 0; i < roles.length; i += ROLES_PER_READ) {
    for (const list of (await store.listArtifactsInRoles(roles.slice(i, i + ROLES_PER_READ))).values())
      for (const a of list) note(a.fragment);
  }
  for (let afterId = 0; ; ) {
    const page = await store.contents.queuedFragments({ afterId, limit: PAGE });
    if (page.length === 0) break;
    for (const q of page) note(q.fragment);
    afterId = page[page.length - 1]!.id;
  }

  const cutoff = new Date(now.getTime() - opts.graceMs).toISOString();
  const clear: string[] = [];
  const mark: string[] = [];
  const expired: ContentRecord[] = [];
  for (const row of live.values()) {
    if (referenced.has(row.sha256)) {
      result.kept++;
      if (row.unreferencedSince !== null) clear.push(row.sha256);
    } else if (row.unreferencedSince === null) mark.push(row.sha256);
    else if (row.unreferencedSince <= cutoff) expired.push(row);
  }
  await store.contents.markUnreferenced(clear, null);
  await store.contents.markUnreferenced(mark, now.toISOString());
  result.marked = mark.length;
  for (const row of expired) {
    if (await store.contents.beginDeletion(row.sha256, cutoff)) await remove(deps, row, result);
  }
  return result;
}

async function remove(
  deps: { store: Store; content: ArtifactContent; log: GcLog },
  row: ContentRecord,
  result: GcResult,
): Promise<void> {
  try {
    await deps.content.storage.delete(row.sha256);
    await deps.store.contents.finishDeletion(row.sha256);
    result.deleted++;
    result.freedBytes += row.length;
  } catch (err) {
    // The row stays "deleting": the next run finishes it; uploads of these bytes wait until then.
    deps.log.warn("could not delete artifact content; the next run retries", {
      sha256: row.sha256,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * The default grace period: one day longer than the longest timestamp or
 * snapshot expiry, the longest a client can act on metadata fetched before
 * the removal was published.
 */
export function defaultGraceMs(expirationDays: { timestamp?: number; snapshot?: number } | undefined): number {
  const days = Math.max(expirationDays?.timestamp ?? 1, expirationDays?.snapshot ?? 1);
  return (days + 1) * 86_400_000;
}

export function describeGc(r: GcResult): string {
  const parts = [`${r.deleted} deleted (${r.freedBytes} bytes)`, `${r.marked} newly unlisted`, `${r.kept} listed`];
  if (r.swept > 0) parts.push(`${r.swept} stale staging file(s) removed`);
  return `artifact content: ${parts.join(", ")}`;
}
