/**
 * `tufbox bins resize --to N --server URL [--no-wait] [--json]`: a new number
 * of hash bins, published online by the server in one batch
 * (POST /api/v1/bins, src/repository/rebin.ts), followed to its end with the
 * task's progress: on a terminal one live line (phase, count, rate, ETA),
 * otherwise plain lines.
 */
import { bitLengthForBins, MAX_BINS, MIN_BINS } from "../tuf/bins.ts";
import { TufError } from "../tuf/errors.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { acceptedTaskId, apiClient, type ApiClient, serverCommand, type TaskData } from "./client.ts";
import { flagBool, parseCount, requireFlag } from "./flags.ts";
import { Output, type ServerTerminal } from "./output.ts";
import { progressFor } from "./progress.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import { isFinal, outcomeOf, taskFailure, taskJson } from "./task-follow.ts";

export const BINS_RESIZE_SUMMARY = "change the number of hash bins online (new delegation and bins in one publication)";

export const BINS_RESIZE_FLAGS = {
  to: { type: "string" },
  "no-wait": { type: "boolean" },
  ...SERVER_FLAGS,
} as const;

export const BINS_RESIZE_HELP = `tufbox bins resize --to N --server URL [--no-wait] [--json]

Changes the number of hash bins of a running repository (POST /api/v1/bins,
admin token). The server publishes, in one batch, targets with the new
succinct delegation and every new bin with the artifacts redistributed by
their hash; artifacts keep being accepted and published before and after.
Clients see one new timestamp; old bins stay listed in snapshot (TUF clients
refuse a snapshot that drops a role they know) with their last version.

  --to N                the new number of bins: a power of two from ${MIN_BINS} to ${MAX_BINS}
  --no-wait             print the task id and return (follow it with tufbox task ID --wait)
${SERVER_FLAGS_HELP}

Exit status: 0 resized (or accepted, with --no-wait); 1 the server refused or
the resize failed; 2 usage.`;

const HINT = `use a power of two from ${MIN_BINS} to ${MAX_BINS}, e.g. --to 4096 (tufbox bins advise suggests one)`;

function targetCount(own: Record<string, unknown>): number {
  const text = requireFlag(own as Parameters<typeof requireFlag>[0], "to", "bins resize", "--to 4096 --server URL");
  const n = parseCount(text, "--to", 1, HINT);
  try {
    bitLengthForBins(n, "--to");
  } catch (err) {
    if (err instanceof TufError) throw new UsageError(`--to ${n} is not allowed: ${err.message}`, HINT);
    throw err;
  }
  return n;
}

interface Progress {
  phase: string;
  done: number;
  total: number;
}

function progressOf(task: TaskData): Progress | undefined {
  const p = task.result?.details?.progress as Partial<Progress> | undefined;
  if (!p || typeof p.phase !== "string" || typeof p.done !== "number" || typeof p.total !== "number") return undefined;
  return p as Progress;
}

/** Poll the resize task to its end, showing the phase it reports (reading bins, signing bins). */
async function followResize(api: ApiClient, term: ServerTerminal, taskId: string): Promise<TaskData> {
  const progress = progressFor(term);
  let pause = 100;
  let lastState = "";
  try {
    for (;;) {
      const task = await api.task(taskId);
      if (isFinal(task.state)) return task;
      const p = progressOf(task);
      if (p) progress.update(p.phase, p.done, p.total);
      else if (task.state !== lastState) progress.update(`task ${task.state.toLowerCase()}`, 0, undefined);
      lastState = task.state;
      await Bun.sleep(pause);
      pause = Math.min(1000, Math.ceil(pause * 1.5));
    }
  } finally {
    progress.finish();
  }
}

export async function binsResizeCommand(argv: string[], term: ServerTerminal): Promise<void> {
  let json = false;
  return serverCommand(
    "bins resize",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("bins resize", argv, BINS_RESIZE_FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(BINS_RESIZE_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "e.g. tufbox bins resize --to 4096");
      const to = targetCount(args.own);
      const api = apiClient(args.own, term, "bins resize");
      const out = new Output(term, json);
      const answer = await api.request(
        "POST",
        "/api/v1/bins",
        { number_of_delegated_bins: to },
        { what: `resize the bins to ${to}` },
      );
      const taskId = acceptedTaskId(answer, `resize the bins to ${to}`);
      out.say(`resize to ${to} bins accepted: task ${taskId}`);
      if (flagBool(args.own, "no-wait")) {
        out.say(`follow it with: tufbox task ${taskId} --server ${api.server} --wait`);
        out.result({ task_id: taskId, state: "PENDING", to });
        return;
      }
      const started = performance.now();
      const task = await followResize(api, term, taskId);
      if (outcomeOf(task) === "failed") {
        out.result(taskJson(task, { to }));
        throw taskFailure(
          task,
          `resizing the bins to ${to}`,
          `nothing was published by it; see tufbox status --server ${api.server}`,
        ).printed();
      }
      const d = task.result?.details ?? {};
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      out.say(
        `resized ${d.from} → ${d.to} bins in ${seconds} s: ${d.artifacts} artifacts (${d.moved_artifacts} moved), ${d.documents} documents, timestamp v${d.timestamp_version}`,
      );
      out.result(taskJson(task, { to }));
    },
  );
}
