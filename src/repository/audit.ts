/**
 * Audit entries for the engine's accepted changes: who (the actor the API
 * passed down), which task, and a small summary — counts and role names,
 * never a signature, key or token. Written by the store in the same
 * transaction as the change (store.ts: AuditEntry).
 */
import type { AuditActor, AuditEntry, Store } from "../store/store.ts";
import { newTaskId } from "./task-results.ts";

/** Role lists in summaries are capped: a batch can touch 16384 bins. */
const MAX_LISTED = 20;

export function auditEntry(
  actor: AuditActor,
  taskId: string | null,
  action: string,
  summary: Record<string, unknown>,
): AuditEntry {
  return { ...actor, taskId, action, summary };
}

/**
 * An operation that ran while its request waited (a backup, a job run by
 * hand), recorded as a finished task with its audit entry, one transaction:
 * it is never listed unfinished. The action is the task's name.
 */
export async function recordFinishedTask(
  store: Store,
  actor: AuditActor,
  name: string,
  outcome: { ok: boolean; message: string; details: Record<string, unknown> },
): Promise<string> {
  const id = newTaskId();
  await store.createTask(
    {
      id,
      name,
      state: outcome.ok ? "SUCCESS" : "FAILURE",
      result: {
        task: name,
        status: outcome.ok,
        last_update: new Date().toISOString(),
        message: outcome.message,
        details: outcome.details,
      },
    },
    auditEntry(actor, id, name, outcome.details),
  );
  return id;
}

/** `{roles: [first 20 sorted], roles_count}` */
export function rolesSummary(roles: Iterable<string>): { roles: string[]; roles_count: number } {
  const all = new Set(roles);
  // The first few in order without sorting them all: a request of 1000
  // artifacts names ~1000 bins, and sorting each request's was a tenth of
  // its acceptance.
  const first: string[] = [];
  for (const role of all) {
    if (first.length === MAX_LISTED && role >= first[MAX_LISTED - 1]!) continue;
    let i = first.length;
    while (i > 0 && first[i - 1]! > role) i--;
    first.splice(i, 0, role);
    if (first.length > MAX_LISTED) first.pop();
  }
  return { roles: first, roles_count: all.size };
}
