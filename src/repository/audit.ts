/**
 * Audit entries for the engine's accepted changes: who (the actor the API
 * passed down), which task, and a small summary — counts and role names,
 * never a signature, key or token. Written by the store in the same
 * transaction as the change (store.ts: AuditEntry).
 */
import type { AuditActor, AuditEntry } from "../store/store.ts";

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

/** `{roles: [first 20 sorted], roles_count}` */
export function rolesSummary(roles: Iterable<string>): { roles: string[]; roles_count: number } {
  const all = [...new Set(roles)].sort();
  return { roles: all.slice(0, MAX_LISTED), roles_count: all.length };
}
