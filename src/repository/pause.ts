/**
 * Pausing publication (issue 17; Rugged's pause-processing/resume-processing):
 * while paused, changes are still accepted durably (202, tasks stay PENDING in
 * the queue), but no batch takes them. Re-signing online roles before they
 * expire goes on: DESIGN.md's "published metadata never expires while the
 * service runs" holds while paused too.
 *
 * The state is one row of the store's settings, not process memory, so it
 * survives a restart and every replica obeys it: the publisher reads it under
 * the publisher lock each time it picks work (takeBatch), and pause/resume
 * write it under the same lock. When pause answers, no batch is in flight and
 * none will take queued changes until resume.
 *
 * A re-sign while paused (the scheduler's, a root rotation, a completed
 * signing session) is built from what is *published* (the store's artifact
 * rows), never from the queue: queued artifacts are not published by it.
 * What goes through the queue waits like any change: artifact additions and
 * removals, POST /artifacts/publish, and re-sign requests made over the API
 * (POST /metadata/online — the scheduler's own re-signing before expiry is
 * not queued and goes on). Actions that are not queued still publish: a
 * bootstrap, root N+1, a delegation change, an offline role whose signers
 * finished (what they signed is published as signed).
 */
import type { AuditActor, Store } from "../store/store.ts";
import { auditEntry } from "./audit.ts";
import type { Engine } from "./engine.ts";

/** Store settings key of the pause record; absent = publishing. */
export const PAUSE_KEY = "publisher_paused";

export interface PauseRecord {
  /** ISO instant the publisher was paused */
  since: string;
  /** who paused it (audit principal name) */
  by: string;
  /** why, as the operator said (optional, shown in status) */
  reason: string | null;
}

export interface PublisherState {
  paused: boolean;
  since: string | null;
  by: string | null;
  reason: string | null;
}

export function publisherState(record: PauseRecord | undefined): PublisherState {
  return record
    ? { paused: true, since: record.since, by: record.by, reason: record.reason }
    : { paused: false, since: null, by: null, reason: null };
}

/** The pause record as the store holds it now (every replica reads the same row). */
export async function readPause(store: Store): Promise<PauseRecord | undefined> {
  return (await store.getSetting<PauseRecord>(PAUSE_KEY)) ?? undefined;
}

/**
 * Pause or resume. Written under the publisher lock, with its audit entry in
 * the same transaction; a second pause keeps the first record (and writes no
 * entry). Resume wakes the publisher.
 */
export async function setPaused(
  e: Engine,
  paused: boolean,
  actor: AuditActor,
  reason: string | null = null,
): Promise<{ state: PublisherState; changed: boolean }> {
  const out = await e.store.withLock("publisher", async () => {
    const current = await readPause(e.store);
    if (paused === (current !== undefined)) return { state: publisherState(current), changed: false };
    const record: PauseRecord | undefined = paused
      ? { since: e.now().toISOString(), by: actor.principalName, reason }
      : undefined;
    const pending = await e.store.countPendingChanges();
    // No documents: the store writes the setting and the audit entry in one transaction.
    await e.store.commitPublication({
      expectedHeads: {},
      documents: [],
      settings: { [PAUSE_KEY]: record },
      audit: [
        auditEntry(
          actor,
          null,
          paused ? "pause_publisher" : "resume_publisher",
          paused
            ? { pending_changes: pending, ...(reason ? { reason } : {}) }
            : { pending_changes: pending, paused_since: current!.since },
        ),
      ],
    });
    e.paused = record;
    return { state: publisherState(record), changed: true };
  });
  if (!paused && out.changed) e.wake("accepted");
  return out;
}
