/**
 * Re-binning online (issue 17): a new number of TAP 15 hash bins, published
 * in ONE batch — top-level targets with the new `succinct_roles.bit_length`,
 * every bin of the new layout with the artifacts redistributed by the new
 * hash prefix, then snapshot and timestamp — while artifacts keep being
 * accepted (intake does not take the publisher lock) and published before
 * and after.
 *
 * Names. Every layout keeps the prefix `bins`, and a bin name that an earlier
 * layout used too (`bins-0` is a bin of 2, 4, 8 and 16 bins) continues that
 * name's version numbers: its next version is one above the last ever
 * published, whatever layout published it. That satisfies the rules a client
 * applies to a name it cached — the snapshot rollback check (spec 5.5.5: the
 * version of every targets role in the new snapshot is ≥ the trusted one,
 * and every role listed before is still listed) and the delegated targets
 * check (spec 5.6.2 / 5.6.7.x: the version fetched equals the snapshot's) —
 * so a client that cached `bins-0` v7 of the old layout fetches v8 and reads
 * the new meaning. A fresh prefix per layout (`bins-g2-…`) would satisfy them
 * too, but every resize would then add a whole set of names to the snapshot
 * forever (a role listed once must stay listed, 5.5.5), and tuf-js's cost
 * grows faster than the square of the snapshot's roles (issue 17); with one
 * prefix the names of all layouts together are at most 16 + 256 + 4096 +
 * 16384 (one set per hex width).
 *
 * Bins no later layout delegates to keep their last version in snapshot
 * (5.5.5) and in the store (retention never deletes a role's newest version);
 * the scheduler leaves them to expire (no client fetches an undelegated
 * role), and status, /readyz and alerts leave them out (isRetiredBin).
 *
 * The artifact rows (which role lists each path; on PostgreSQL with its
 * entry) follow the publication in small transactions (finishRekey), under
 * the same publisher lock, so no batch sees them half moved.
 *
 * Changes accepted under another layout (before the resize committed, or by
 * a replica that had not caught up) carry a bin of that layout: the batch
 * routes each to the bin of the layout it publishes (routeToCurrentBins), so
 * no artifact lands in a bin clients no longer look in.
 */
import type { ArtifactRecord, AuditActor, ChangeRecord } from "../store/store.ts";
import { StoreConflictError } from "../store/store.ts";
import { isRetiredBin, layoutsOf, retiredBitLengths } from "../tuf/bin-layouts.ts";
import { bitLengthForBins, SuccinctBins } from "../tuf/bins.ts";
import { TufError } from "../tuf/errors.ts";
import { targetsEntriesOf } from "../tuf/targets-scan.ts";
import { publishLocked, takeBatch } from "./batch.ts";
import { ClientLimitError } from "./client-limits.ts";
import type { Engine, TaskOutcomeReport } from "./engine.ts";
import { ValidationError } from "./errors.ts";
import { type RepositorySettings, SETTINGS_KEY } from "./settings.ts";
import type { PublishedState } from "./state.ts";

export const RESIZE_TASK = "resize_bins";
const FIELD = ["body", "number_of_delegated_bins"];
/**
 * Bins read per store query while redistributing; the event loop gets a turn
 * between reads, so requests (artifact adds) are answered meanwhile.
 */
const READ_CHUNK = 16;
/** at most one progress write per this many ms */
const PROGRESS_EVERY_MS = 1000;
/** artifact rows moved per transaction after a resize (finishRekey) */
const REKEY_CHUNK = 10_000;
/** attempts when another replica published in between */
const ATTEMPTS = 3;

/** What one resize batch publishes, built before the batch (under the publisher lock). */
export interface Rebinning {
  from: SuccinctBins;
  to: SuccinctBins;
  /** every bin of the new layout → its entries (path → canonical target fragment) */
  entries: Map<string, Map<string, string>>;
  /** called while the new bins are signed */
  progress?: (done: number, total: number) => void;
}

const retiredCache = new WeakMap<RepositorySettings, SuccinctBins[]>();

function retiredLayouts(settings: RepositorySettings): SuccinctBins[] {
  let r = retiredCache.get(settings);
  if (!r) {
    r = layoutsOf(settings.bins?.retiredBitLengths ?? [], settings.bins?.prefix ?? "bins");
    retiredCache.set(settings, r);
  }
  return r;
}

/** A bin only an earlier layout delegated to (listed in snapshot, never re-signed). */
export function isRetiredRole(st: PublishedState, role: string): boolean {
  if (!st.bins) return false;
  const retired = retiredLayouts(st.settings);
  return retired.length > 0 && isRetiredBin(role, st.bins, retired);
}

/**
 * Route artifact changes to the bins of the layout `st` publishes (in place:
 * the caller's view of the batch follows). Only repositories that were ever
 * re-binned pay for the hashing: before that every change carries its bin.
 */
export function routeToCurrentBins(st: PublishedState, changes: ChangeRecord[]): void {
  const bins = st.bins;
  if (!bins || (st.settings.bins?.retiredBitLengths?.length ?? 0) === 0) return;
  for (const c of changes) if (c.kind !== "bump") c.role = bins.binForPath(c.path);
}

/**
 * The published state as the resize batch leaves it: new layout in settings
 * and in targets' delegation. The batch publishes targets and every bin of
 * the new layout (not as re-sign requests: a failed resize must not leave
 * requests to re-sign every bin of the old layout behind).
 */
export function withRebinning(st: PublishedState, r: Rebinning): PublishedState {
  const old = st.settings.bins!;
  const settings: RepositorySettings = {
    ...st.settings,
    bins: {
      count: r.to.count,
      bitLength: r.to.bitLength,
      prefix: r.to.prefix,
      retiredBitLengths: retiredBitLengths(old.retiredBitLengths ?? [], old.bitLength, r.to.bitLength),
      rekeyFrom: old.bitLength,
    },
  };
  const delegations = st.targets.delegations!;
  return {
    ...st,
    settings,
    bins: r.to,
    targets: {
      ...st.targets,
      delegations: { ...delegations, succinct_roles: { ...delegations.succinct_roles!, bit_length: r.to.bitLength } },
    },
  };
}

function badCount(msg: string): ValidationError {
  return ValidationError.at(FIELD, msg);
}

/** POST /api/v1/bins: check the request, then resize in the background (202 with a task id). */
export function acceptResize(e: Engine, count: number, actor: AuditActor): Promise<{ taskId: string }> {
  const st = e.requireBootstrapped();
  let bitLength: number;
  try {
    bitLength = bitLengthForBins(count);
  } catch (err) {
    if (err instanceof TufError) throw badCount(err.message.replace(/^number_of_delegated_bins: /, ""));
    throw err;
  }
  if (!st.bins)
    throw badCount("this repository has no hash bins (it delegates to custom roles): there is no bin count to change");
  if (st.bins.count === count) throw badCount(`the repository already has ${count} bins`);
  const from = st.bins.count;
  return e.startTask(RESIZE_TASK, { actor, summary: { from, to: count } }, (taskId) =>
    e.store.withLock("publisher", () => runResize(e, taskId, bitLength)),
  );
}

async function runResize(e: Engine, taskId: string, bitLength: number): Promise<TaskOutcomeReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await resizeOnce(e, taskId, bitLength);
    } catch (err) {
      // Another replica published between our read and our commit (the
      // batch reloaded the state): build again on what it published.
      if (!(err instanceof StoreConflictError) || attempt >= ATTEMPTS) throw err;
      e.log.warn("bins resize conflicted with another publisher; building it again", {
        attempt,
        error: err.message,
      });
    }
  }
}

async function resizeOnce(e: Engine, taskId: string, bitLength: number): Promise<TaskOutcomeReport> {
  const started = performance.now();
  // An earlier resize whose rows were not all moved (a crash): finish it first.
  await finishRekey(e);
  const st = e.requireBootstrapped();
  const from = st.bins;
  if (!from) return { ok: false, message: "Bins Resize Failed", error: "this repository has no hash bins" };
  const to = new SuccinctBins(bitLength, from.prefix);
  if (from.bitLength === bitLength)
    return {
      ok: false,
      message: "Bins Resize Failed",
      error: `the repository already has ${to.count} bins`,
      details: { from: from.count, to: to.count },
    };
  let lastReport = 0;
  // Progress writes one after another, all done before the task's outcome is written (runTask).
  let written: Promise<unknown> = Promise.resolve();
  const report = (phase: string, done: number, total: number) => {
    const now = performance.now();
    if (done < total && now - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = now;
    // Best effort: progress is for the operator watching.
    written = written.then(() =>
      e.store
        .updateTasks([
          {
            id: taskId,
            state: "STARTED",
            result: {
              task: RESIZE_TASK,
              status: false,
              last_update: e.now().toISOString(),
              message: `Resizing bins ${from.count} → ${to.count}: ${phase}`,
              details: { progress: { phase, done, total }, from: from.count, to: to.count },
            },
          },
        ])
        .catch(() => undefined),
    );
  };

  // Every artifact, read bin by bin from the store, to its bin of the new layout.
  const entries = new Map<string, Map<string, string>>();
  for (const name of to.names()) entries.set(name, new Map());
  const names = from.names();
  let artifacts = 0;
  for (let i = 0; i < names.length; i += READ_CHUNK) {
    const rows = await e.store.listArtifactsInRoles(names.slice(i, i + READ_CHUNK));
    for (const list of rows.values()) {
      for (const a of list) {
        entries.get(to.binForPath(a.path))!.set(a.path, a.fragment);
        artifacts++;
      }
    }
    report("reading bins", Math.min(i + READ_CHUNK, names.length), names.length);
    await yieldTurn();
  }
  const readMs = performance.now() - started;
  const changes = await takeBatch(e);
  let outcome: Awaited<ReturnType<typeof publishLocked>>;
  try {
    outcome = await publishLocked(e, changes, e.drainBumps(), {
      rebin: { from, to, entries, progress: (done, total) => report("signing bins", done, total) },
    });
  } catch (err) {
    await written;
    if (!(err instanceof ClientLimitError)) throw err;
    // Nothing was published; the changes it took stay queued for the next batch.
    return {
      ok: false,
      message: "Bins Resize Failed",
      error: `${to.count} bins are too few for these artifacts (choose more): ${err.message}`,
      details: { from: from.count, to: to.count, artifacts },
    };
  }
  const publishedMs = performance.now() - started;
  // Published. Now the artifact rows follow, in small transactions (see finishRekey).
  let movedCount: number | null = null;
  try {
    movedCount = await finishRekey(e, (done, total) => report("moving artifact rows", done, total));
  } catch (err) {
    // The new layout is out; the rows are moved before the next publication (publishOnce).
    e.log.warn("bins resized, but moving the artifact rows was interrupted; the next publication finishes it", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
  await written;
  const ms = Math.round(performance.now() - started);
  const readMsRounded = Math.round(readMs);
  e.log.info("bins resized", {
    task_id: taskId,
    from: from.count,
    to: to.count,
    artifacts,
    moved: movedCount,
    read_ms: readMsRounded,
    published_ms: Math.round(publishedMs),
    ms,
  });
  return {
    ok: true,
    message: "Bins Resized",
    details: {
      from: from.count,
      to: to.count,
      artifacts,
      moved_artifacts: movedCount,
      changes_published_with_it: changes.length,
      documents: outcome.documents,
      timestamp_version: outcome.timestampVersion,
      read_ms: readMsRounded,
      published_ms: Math.round(publishedMs),
      ms,
    },
  };
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Move the artifact rows still filed under bins of the layout before the
 * last resize to their bins of the current one, in transactions of
 * REKEY_CHUNK rows with a turn of the event loop between, then clear the
 * marker (settings `bins.rekeyFrom`) with the last of them. Caller holds the
 * publisher lock. Returns the rows moved.
 *
 * Why after the publication and not in it: the rows are an index for
 * lookups and listings (and on PostgreSQL the publisher's copy of each
 * bin's entries), not what clients read, and
 * moving 1M of them in the publication's one transaction held SQLite — and
 * with it every request, artifact adds included — for minutes (bench at 1M,
 * 2-core machine). The publisher lock keeps every batch out until the rows
 * are in place; a crash in between leaves the marker, and the next
 * publishOnce (any replica) or resize finishes the move first. Idempotent: a
 * row already in its bin is left alone.
 */
export async function finishRekey(e: Engine, progress?: (done: number, total: number) => void): Promise<number> {
  const st = e.state;
  if (!st?.settings.bins) return 0;
  const stored = (await e.store.getSetting<RepositorySettings>(SETTINGS_KEY)) ?? st.settings;
  const b = stored.bins;
  if (!b || b.rekeyFrom === undefined) {
    // Another replica finished it: forget the marker here too.
    if (st.settings.bins.rekeyFrom !== undefined) e.state = { ...st, settings: withoutMarker(st.settings) };
    return 0;
  }
  // Read from the new bins' documents, which list every artifact with the
  // role it moves to: the old rows' roles need not be readable (on SQLite a
  // bin's entries come from its head document, and a name both layouts share
  // already has its new one). A row is moved when the layout before the
  // resize filed it under another bin; moving it again after a crash is a no-op.
  const before = new SuccinctBins(b.rekeyFrom, b.prefix);
  const names = new SuccinctBins(b.bitLength, b.prefix).names();
  let pending: ArtifactRecord[] = [];
  let moved = 0;
  const flush = async (settings?: Record<string, unknown>) => {
    await e.store.commitPublication({
      expectedHeads: {},
      documents: [],
      artifacts: { upsert: pending, remove: [] },
      ...(settings ? { settings } : {}),
    });
    moved += pending.length;
    pending = [];
    await yieldTurn();
  };
  for (let i = 0; i < names.length; i += READ_CHUNK) {
    for (const name of names.slice(i, i + READ_CHUNK)) {
      const doc = await e.store.getLatestDocument(name);
      if (!doc) continue;
      for (const [path, fragment] of targetsEntriesOf(doc.bytes))
        if (before.binForPath(path) !== name) pending.push({ path, role: name, fragment });
    }
    if (pending.length >= REKEY_CHUNK) await flush();
    progress?.(Math.min(i + READ_CHUNK, names.length), names.length);
    await yieldTurn();
  }
  const cleared = withoutMarker(stored);
  await flush({ [SETTINGS_KEY]: cleared });
  const now = e.state!;
  e.state = { ...now, settings: withoutMarker(now.settings) };
  return moved;
}

function withoutMarker(settings: RepositorySettings): RepositorySettings {
  if (!settings.bins || settings.bins.rekeyFrom === undefined) return settings;
  const { rekeyFrom: _, ...bins } = settings.bins;
  return { ...settings, bins };
}
