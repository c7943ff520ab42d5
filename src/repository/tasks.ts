/** Task ids and result shapes as RSTUF reports them (RSTUF-API.md "Tasks"). */
import { randomUUID } from "node:crypto";
import type { TaskResult } from "../store/store.ts";

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
