/**
 * `tufbox delegation upload FILE --role NAME --server URL`: send a delegated
 * role's next version, signed elsewhere by the role's offline keys, whole
 * (POST /api/v1/delegations/metadata, RSTUF's draft shape for issue #647) and
 * follow the task until it is published. The server refuses a document that
 * does not verify, skips a version, leaves the role's paths, is over the
 * client size cap or has expired (422, naming the field).
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseCommandArgs, UsageError } from "./args.ts";
import { acceptedTaskId, apiClient, serverCommand } from "./client.ts";
import { flagBool, flagString } from "./flags.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import { followTask, outcomeOf, taskFailure, taskJson } from "./task-follow.ts";

export const DELEGATION_HELP = `tufbox delegation upload FILE [--role NAME] --server URL [--no-wait] [--json]

Uploads a delegated role's next version, fully signed by the role's offline keys
(a targets document {"signed": …, "signatures": […]}), and follows the task until
the role, a new snapshot and a new timestamp are published.

The server accepts it when it verifies with the keys and threshold targets
delegates to the role, its version is the published one + 1, it has not expired,
every target path is inside the role's delegated paths, and it is under the
5,000,000-byte limit clients download for a targets role; otherwise it answers
with the field at fault and publishes nothing.

  --role NAME           the delegated role (default: from a file named ROLE.json or
                        N.ROLE.json)
  --no-wait             do not follow the task
${SERVER_FLAGS_HELP}

Exit status: 0 once published (or accepted, with --no-wait); 1 refused or failed; 2 usage.`;

export const DELEGATION_FLAGS = { role: { type: "string" }, "no-wait": { type: "boolean" }, ...SERVER_FLAGS } as const;

/** `releases.json` and `7.releases.json` name their role. */
export function roleFromFileName(file: string): string | undefined {
  return /^(?:\d+\.)?([A-Za-z0-9_-]+)\.json$/.exec(basename(file))?.[1];
}

function readDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : `cannot read (${code ?? "error"})`}`,
      "give the path of the signed delegated role document",
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not JSON`, 'give the signed document: {"signed": {…}, "signatures": […]}');
  }
}

export async function delegationCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "delegation",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("delegation", argv, DELEGATION_FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(DELEGATION_HELP);
      const [sub, file, extra] = args.positionals;
      if (sub !== "upload") {
        if (sub === undefined) term.out(DELEGATION_HELP);
        throw new UsageError(
          sub === undefined ? "missing the subcommand" : `unknown subcommand "${sub}"`,
          "use: tufbox delegation upload FILE --role NAME --server URL",
        );
      }
      if (file === undefined || extra !== undefined)
        throw new UsageError(
          "give exactly one signed document",
          "e.g. tufbox delegation upload 8.releases.json --server http://127.0.0.1:8080",
        );
      const role = flagString(args.own, "role") ?? roleFromFileName(file);
      if (role === undefined)
        throw new UsageError(`cannot tell the role from the file name ${basename(file)}`, "give it with --role NAME");
      const metadata = readDocument(file);
      const api = apiClient(args.own, term, "delegation");
      const out = new Output(term, json);
      const what = `upload ${role}`;
      const answer = await api.post(
        "/api/v1/delegations/metadata",
        { rolename: role, metadata },
        {
          what,
          hint404: `see the repository's state with: tufbox status --server ${api.server}`,
          hint422: `fix the document (or --role) as the server says; the published ${role} is at ${api.opts.metadataUrl}/`,
        },
      );
      const taskId = acceptedTaskId(answer, what);
      out.say(`${typeof answer.body?.message === "string" ? answer.body.message : "accepted."} task ${taskId}`);
      if (flagBool(args.own, "no-wait")) {
        out.result({ task_id: taskId, role });
        return;
      }
      const task = await followTask(api, term, taskId, { waitForSigners: false });
      if (outcomeOf(task) === "failed")
        throw taskFailure(task, what, `fix the cause above and upload again (tufbox status --server ${api.server})`);
      out.say(`${role} published with a new snapshot and timestamp`);
      out.result(taskJson(task, { role }));
    },
  );
}
