/**
 * Task ids and results as RSTUF reports them (RSTUF-API.md "Tasks"), and what
 * a published batch says about each task whose changes it carried.
 */
import { randomUUID } from "node:crypto";
import type { TaskResult, TaskUpdate } from "../store/store.ts";

/** 32 lower-case hex characters, like RSTUF's Celery task ids without dashes. */
export function newTaskId(): string {
  return randomUUID().replaceAll("-", "");
}

export function nowIso(now: Date = new Date()): string {
  return now.toISOString();
}

export function taskResult(
  task: string,
  status: boolean,
  message: string,
  details: Record<string, unknown> | null,
  now: Date,
  error?: string,
): TaskResult {
  const r: TaskResult = { task, status, last_update: nowIso(now), message, details };
  if (error !== undefined) r.error = error;
  return r;
}

/** What one batch did with one task's changes. */
export interface TaskOutcome {
  kinds: Set<string>;
  added: string[];
  deleted: string[];
  notFound: string[];
  invalid: string[];
  roles: Set<string>;
  bumped: string[];
}

export function emptyOutcome(): TaskOutcome {
  return { kinds: new Set(), added: [], deleted: [], notFound: [], invalid: [], roles: new Set(), bumped: [] };
}

/** The RSTUF result of a task the batch carried: add, remove, publish marker or forced re-sign. */
export function batchTaskResult(t: TaskOutcome, now: Date): TaskResult {
  const roles = [...t.roles].sort();
  if (t.kinds.has("add")) {
    const ok = t.added.length > 0;
    return taskResult(
      "add_artifacts",
      ok,
      ok ? "Artifact(s) Added" : "Artifact(s) Not Added",
      { added_artifacts: t.added, invalid_paths: t.invalid, artifact_roles: roles },
      now,
    );
  }
  if (t.kinds.has("remove")) {
    const ok = t.deleted.length > 0;
    return taskResult(
      "remove_artifacts",
      ok,
      ok ? "Artifact(s) Removed" : "Artifact(s) Not Found",
      { deleted_artifacts: t.deleted, not_found_artifacts: t.notFound, artifact_roles: roles },
      now,
    );
  }
  if (t.kinds.has("marker"))
    return taskResult("publish_artifacts", true, "Artifact(s) Published", { artifact_roles: roles }, now);
  return taskResult(
    "force_online_metadata_update",
    true,
    "Force online metadata update finished",
    { updated_roles: t.bumped },
    now,
  );
}

/**
 * The task updates a batch commits. A task whose paths went to an offline
 * role stays RUNNING ("Waiting for signatures"); its final result is parked
 * with that role's signing session (`park`) and recorded when the role is
 * signed and published.
 */
export function batchTaskUpdates(
  outcomes: Map<string, TaskOutcome>,
  now: Date,
  waiting: (role: string) => { version: number; park: (update: TaskUpdate) => void } | undefined,
): TaskUpdate[] {
  const updates: TaskUpdate[] = [];
  for (const [id, t] of outcomes) {
    const result = batchTaskResult(t, now);
    const state = result.status ? "SUCCESS" : "ERRORED";
    const waitingOn = [...t.roles].flatMap((r) => {
      const w = waiting(r);
      return w ? [{ role: r, ...w }] : [];
    });
    if (waitingOn.length === 0) {
      updates.push({ id, state, result });
      continue;
    }
    // Finished only when the offline role is signed and published.
    for (const w of waitingOn) w.park({ id, state, result });
    const pending = waitingOn.map((w) => `${w.role} v${w.version} is pending signatures`).join("; ");
    updates.push({
      id,
      state: "RUNNING",
      result: taskResult(
        result.task,
        true,
        "Waiting for signatures",
        { ...(result.details ?? {}), update: pending },
        now,
      ),
    });
  }
  return updates;
}
