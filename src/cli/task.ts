/**
 * `tufbox task TASK_ID --server URL [--wait]`: a task's state and result
 * (GET /api/v1/task), optionally followed to its end.
 */
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool } from "./flags.ts";
import { apiClient, serverCommand, type TaskData } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import {
  followTask,
  formatDetails,
  isFinal,
  outcomeOf,
  pendingSignatures,
  taskFailure,
  taskJson,
} from "./task-follow.ts";

export const TASK_HELP = `tufbox task TASK_ID --server URL [--wait [--no-wait]] [--json]

Shows a task's state and result (GET /api/v1/task). States: PENDING, RECEIVED,
STARTED, RUNNING (waiting for offline signatures), SUCCESS, FAILURE, ERRORED
(finished without success), REVOKED (its signing session was cancelled).
An id the server does not know reads as PENDING.

  --wait                follow the task until it ends (a bootstrap waiting for root
                        signatures ends the wait)
  --no-wait             with --wait: stop when it waits for offline signatures
${SERVER_FLAGS_HELP}

Exit status: 0 unless the task FAILED, ERRORED or was REVOKED (1); 2 usage.`;

export const FLAGS = { wait: { type: "boolean" }, "no-wait": { type: "boolean" }, ...SERVER_FLAGS } as const;

export function describeTask(task: TaskData): string[] {
  const r = task.result;
  const lines = [`task ${task.task_id}: ${task.state}${r?.task ? ` (${r.task})` : ""}`];
  if (r?.message) lines.push(`message: ${r.message}`);
  if (r?.error) lines.push(`error: ${r.error}`);
  for (const l of formatDetails(r?.details)) lines.push(l);
  if (r?.last_update) lines.push(`last update: ${r.last_update}`);
  return lines;
}

export async function taskCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "task",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("task", argv, FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(TASK_HELP);
      const [id, extra] = args.positionals;
      if (id === undefined || extra !== undefined)
        throw new UsageError(
          "give exactly one task id",
          "e.g. tufbox task 3f2c…(32 hex) --server URL; commands that post print it",
        );
      if (!/^[A-Za-z0-9_-]{1,128}$/.test(id))
        throw new UsageError(
          `"${id}" is not a task id`,
          "task ids are what the server answered with a request (32 lower-case hex characters for tufbox)",
        );
      if (flagBool(args.own, "no-wait") && !flagBool(args.own, "wait"))
        throw new UsageError(
          "--no-wait only changes --wait",
          "use --wait --no-wait to follow a task until it ends or waits for signatures",
        );
      const api = apiClient(args.own, term, "task");
      const out = new Output(term, json);
      const task = flagBool(args.own, "wait")
        ? await followTask(api, term, id, { waitForSigners: !flagBool(args.own, "no-wait") })
        : await api.task(id);
      for (const line of describeTask(task)) out.say(line);
      if (task.state === "RUNNING" || pendingSignatures(task)) {
        out.say(
          `waiting for signatures: the key holders run tufbox sign --key THEIR_KEY [--role ROLE] --server ${api.server}`,
        );
      } else if (!isFinal(task.state) && !flagBool(args.own, "wait")) {
        out.say(`not finished; follow it with: tufbox task ${id} --server ${api.server} --wait`);
      }
      out.result(taskJson(task));
      if (outcomeOf(task) === "failed")
        throw taskFailure(
          task,
          `task ${id}`,
          `the error above is the server's reason; see tufbox status --server ${api.server}`,
        ).printed();
    },
  );
}
