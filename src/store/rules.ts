/**
 * Rules every store backend applies the same way, so SQLite and PostgreSQL
 * agree on them without each re-deriving the details: input checks done
 * before a transaction starts, and the code-unit / code-point path orders.
 */
import type {
  ArtifactRecord,
  AuditEntry,
  AuditQuery,
  DocumentRecord,
  NewChange,
  TaskRecord,
  TaskResult,
  TaskState,
} from "./store.ts";

/** What a unique-key violation on `table` means, in the contract's words (StoreConflictError). */
export function duplicateKeyMessage(table: string | undefined): string {
  if (table === "documents") return "a document with this role and version is already published";
  if (table === "tasks") return "a task with this id already exists";
  if (table === "artifacts") return "artifact path conflict";
  if (table === "tokens") return "a token with this id already exists";
  return "duplicate key";
}

/** Task results are stored as JSON text. */
export function taskResultText(value: TaskResult | null | undefined): string | null {
  return value == null ? null : JSON.stringify(value);
}

export function taskFromRow<R extends Omit<TaskRecord, "result"> & { result: string | null }>(row: R): TaskRecord {
  return { ...row, result: row.result === null ? null : (JSON.parse(row.result) as TaskResult) };
}

/** One step of a backend's schema, in its append-only list of migrations. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A database written by a newer tufbox: refuse it rather than guess at its schema. */
export function newerSchemaError(found: number, newest: number): Error {
  return new Error(
    `database schema is at version ${found} but this tufbox only knows up to ${newest}; ` +
      `it was written by a newer tufbox (upgrade the binary, or restore a backup taken before the upgrade)`,
  );
}

/** RSTUF's terminal states: only these may be pruned, the rest are resumed. */
export const FINISHED_STATES: readonly TaskState[] = ["SUCCESS", "FAILURE", "ERRORED", "REVOKED"];

/** Stored instants are toISOString() (UTC, milliseconds) so they compare as strings. */
export function normaliseInstant(value: string, what: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`${what}: "${value}" is not an ISO-8601 date-time`);
  return new Date(t).toISOString();
}

/**
 * An instant as TUF writes `expires` (`YYYY-MM-DDTHH:MM:SSZ`, whole seconds,
 * rounded down), so it compares as a string with stored expiry dates.
 */
export function tufInstant(value: string, what: string): string {
  return `${normaliseInstant(value, what).slice(0, 19)}Z`;
}

/** Roles whose versions retention never deletes: clients walk the whole root chain (spec 5.3.4). */
export const KEPT_FOREVER_ROLES: readonly string[] = ["root"];

/** Roles whose served documents point at other documents: their expiry bounds how long those are needed. */
export const REFERRING_ROLES: readonly string[] = ["snapshot", "timestamp"];

export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`limit must be a non-negative integer, got ${limit}`);
  return limit;
}

export function checkChange(c: NewChange) {
  if (c.kind !== "add" && c.kind !== "remove" && c.kind !== "bump") {
    throw new Error(`change for ${c.path}: unknown kind "${String(c.kind)}"`);
  }
  if (c.kind === "add" ? typeof c.fragment !== "string" : c.fragment !== null) {
    throw new Error(`change for ${c.path}: an "add" needs a fragment, a "${c.kind}" must have none`);
  }
}

export function checkDocument(d: DocumentRecord, expectedHeads: Record<string, number>) {
  if (!Number.isSafeInteger(d.version) || d.version < 1) {
    throw new Error(`document ${d.role}: version must be a positive integer, got ${d.version}`);
  }
  // Without an expected head nothing would stop two publishers forking the
  // role; make forgetting it a loud programming error, not a silent race.
  if (!Object.hasOwn(expectedHeads, d.role)) {
    throw new Error(`document ${d.role} v${d.version}: commitPublication needs expectedHeads["${d.role}"]`);
  }
}

/**
 * SQLite BINARY compares UTF-8 bytes, i.e. code points; the contract (and
 * canonical JSON key order) is UTF-16 code units. They disagree only when a
 * role mixes astral characters with U+E000–U+FFFF, so check before sorting:
 * almost always one linear pass and no copy.
 */
export function sortByCodeUnits(rows: ArtifactRecord[]): ArtifactRecord[] {
  for (let i = 1; i < rows.length; i++) {
    if (rows[i - 1]!.path > rows[i]!.path) return rows.sort((a, b) => (a.path < b.path ? -1 : 1));
  }
  return rows;
}

/**
 * Smallest string above every string that starts with `prefix`, in code
 * point order: bump the last code point (carrying past U+10FFFF). Undefined
 * when no such string exists (prefix is all U+10FFFF).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix, (ch) => ch.codePointAt(0)!);
  while (cps.length > 0) {
    const last = cps.pop()!;
    if (last < 0x10ffff) {
      // Lone surrogates cannot be stored as UTF-8 anyway; skip their range.
      cps.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
      return String.fromCodePoint(...cps);
    }
  }
  return undefined;
}

/** An audit row as both backends store it: instant normalised, summary as JSON text. */
export interface AuditRow {
  at: string;
  principal: string;
  principalName: string;
  source: string | null;
  route: string | null;
  taskId: string | null;
  action: string;
  summary: string;
}

export function auditRow(e: AuditEntry, now: string): AuditRow {
  if (typeof e.principal !== "string" || e.principal === "") throw new Error("audit entry: principal is required");
  if (typeof e.action !== "string" || e.action === "") throw new Error("audit entry: action is required");
  if (typeof e.summary !== "object" || e.summary === null || Array.isArray(e.summary))
    throw new Error("audit entry: summary must be a JSON object");
  return {
    at: e.at === undefined ? now : normaliseInstant(e.at, "audit entry at"),
    principal: e.principal,
    principalName: e.principalName ?? e.principal,
    source: e.source ?? null,
    route: e.route ?? null,
    taskId: e.taskId ?? null,
    action: e.action,
    summary: JSON.stringify(e.summary),
  };
}

export function checkAuditQuery(q: AuditQuery): AuditQuery {
  checkLimit(q.limit);
  if (q.afterId !== undefined && !Number.isSafeInteger(q.afterId))
    throw new Error(`afterId must be an integer, got ${q.afterId}`);
  return q.since === undefined ? q : { ...q, since: normaliseInstant(q.since, "audit since") };
}
