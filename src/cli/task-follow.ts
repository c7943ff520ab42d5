/**
 * Following a task to its end (GET /api/v1/task until SUCCESS, FAILURE,
 * ERRORED or REVOKED) with a progress display, and what its result says:
 * details in words, the outcome a script branches on, a failure as a
 * ServerError with a hint.
 */
import { type ApiClient, ServerError, type TaskData } from "./client.ts";
import type { ServerTerminal } from "./output.ts";

export const FINAL_STATES = ["SUCCESS", "FAILURE", "ERRORED", "REVOKED"] as const;
const FAILED_STATES = ["FAILURE", "ERRORED", "REVOKED"];

export function isFinal(state: string): boolean {
  return (FINAL_STATES as readonly string[]).includes(state);
}

/** "Root v1 is pending signatures" / "releases v2 is pending signatures" from a task's details. */
export function pendingSignatures(task: TaskData): string | undefined {
  const d = task.result?.details;
  if (!d) return undefined;
  for (const key of ["bootstrap", "update"]) {
    const v = d[key];
    if (typeof v === "string" && /is pending signatures/.test(v)) return v;
  }
  return undefined;
}

/** A bootstrap parked for root signatures: nothing changes until someone signs. */
function bootstrapWaiting(task: TaskData): boolean {
  const v = task.result?.details?.bootstrap;
  return task.state === "RUNNING" && typeof v === "string" && /pending signatures/.test(v);
}

export interface FollowOptions {
  /** keep waiting while the task waits for offline signatures (RUNNING); false = --no-wait */
  waitForSigners: boolean;
  /** command the hint for offline signers names */
  signHint?: string;
  /** milliseconds between polls at first (grows to `maxPollMs`) */
  pollMs?: number;
  maxPollMs?: number;
}

function short(id: string): string {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

function elapsed(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
}

/**
 * Poll a task until SUCCESS, FAILURE, ERRORED (or REVOKED). RUNNING means the
 * task waits for offline signatures: a bootstrap waiting for root signatures
 * returns at once (only `tufbox sign` moves it on); other tasks keep waiting
 * unless `waitForSigners` is false. On a TTY one line shows state and
 * elapsed time; otherwise each new state is one line on stderr.
 */
export async function followTask(
  api: ApiClient,
  term: ServerTerminal,
  taskId: string,
  opts: FollowOptions,
): Promise<TaskData> {
  const started = performance.now();
  let pause = opts.pollMs ?? 50;
  const maxPause = opts.maxPollMs ?? 1000;
  let lastState = "";
  let waitingShown = false;
  const onSigint = () => {
    term.live?.(null);
    term.info(
      `\nstopped following task ${taskId}; it continues on the server: tufbox task ${taskId} --server ${api.server} --wait`,
    );
    process.exit(130);
  };
  // Ctrl-C only stops watching; say how to pick the task up again.
  const ownsProcess = term.live !== undefined;
  if (ownsProcess) process.once("SIGINT", onSigint);
  try {
    for (;;) {
      const task = await api.task(taskId);
      const t = performance.now() - started;
      // A root parked for signatures is reported by RSTUF as SUCCESS; printing
      // that first would read as "done" to an operator who still has to sign.
      const state = outcomeOf(task) === "pending_signatures" ? "waiting for signatures" : task.state;
      if (term.live) term.live(`task ${short(taskId)} ${state} ${elapsed(t)}`);
      else if (state !== lastState) term.info(`task ${taskId}: ${state}`);
      lastState = state;
      if (isFinal(task.state) || bootstrapWaiting(task)) return task;
      if (task.state === "RUNNING") {
        if (!opts.waitForSigners) return task;
        if (!waitingShown) {
          term.live?.(null);
          const what = pendingSignatures(task) ?? task.result?.message ?? "waiting for offline signatures";
          term.info(`waiting for signatures: ${what}`);
          term.info(
            `  the role's key holders run: ${opts.signHint ?? `tufbox sign --key THEIR_KEY --role ROLE --server ${api.server}`}`,
          );
          term.info(`  (Ctrl-C stops waiting; the task goes on: tufbox task ${taskId} --server ${api.server} --wait)`);
          waitingShown = true;
        }
        pause = Math.max(pause, 500);
      }
      await Bun.sleep(pause);
      pause = Math.min(maxPause, Math.ceil(pause * 1.5));
    }
  } finally {
    term.live?.(null);
    if (ownsProcess) process.off("SIGINT", onSigint);
  }
}

const DETAIL_LABELS: Record<string, string> = {
  added_artifacts: "added",
  invalid_paths: "invalid paths (no role covers them; not added)",
  artifact_roles: "roles",
  deleted_artifacts: "deleted",
  not_found_artifacts: "not found",
  updated_roles: "updated roles",
  invalid_roles: "invalid roles",
  delegated_roles: "delegated roles",
  failed_roles: "failed roles",
  deleted_roles: "deleted roles",
};

/** Lists longer than this are shown as a count and their first items (--json has them all). */
export const DETAIL_LIST_SHOWN = 10;

/** A task's details as `label: value` lines. */
export function formatDetails(details: Record<string, unknown> | null | undefined): string[] {
  if (!details) return [];
  const lines: string[] = [];
  for (const [k, v] of Object.entries(details)) {
    if (Array.isArray(v) && v.length === 0) continue;
    const label = DETAIL_LABELS[k] ?? k;
    const item = (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x));
    // An add of 5,000 files must not print one 300 KB line.
    const value = Array.isArray(v)
      ? v.length > DETAIL_LIST_SHOWN
        ? `${v.length}: ${v.slice(0, DETAIL_LIST_SHOWN).map(item).join(", ")}, … (${v.length - DETAIL_LIST_SHOWN} more)`
        : v.map(item).join(", ")
      : typeof v === "string"
        ? v
        : JSON.stringify(v);
    lines.push(`${label}: ${value}`);
  }
  return lines;
}

export type Outcome = "finished" | "pending_signatures" | "waiting" | "failed";

/** What a followed task came to, for messages and --json. */
export function outcomeOf(task: TaskData): Outcome {
  if (FAILED_STATES.includes(task.state)) return "failed";
  if (bootstrapWaiting(task)) return "pending_signatures";
  if (task.state === "RUNNING" || !isFinal(task.state)) return "waiting";
  return pendingSignatures(task) !== undefined ? "pending_signatures" : "finished";
}

/** The ServerError for a failed task: the server's `result.error` (or message), and a hint. */
export function taskFailure(task: TaskData, what: string, hint: string): ServerError {
  const r = task.result;
  const reason = r?.error ?? r?.message ?? "no reason given";
  const message = r?.message && r.error && r.message !== r.error ? `${r.message}: ${r.error}` : reason;
  return new ServerError(`${what} failed (task ${task.task_id} ${task.state}): ${message}`, hint, { detail: task });
}

export function taskJson(task: TaskData, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { task_id: task.task_id, state: task.state, outcome: outcomeOf(task), result: task.result, ...extra };
}
