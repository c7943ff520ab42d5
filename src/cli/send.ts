/**
 * `tufbox bootstrap PAYLOAD --server URL` and `tufbox send bootstrap|update|sign
 * FILE --server URL`: post a payload written offline (tufbox ceremony, tufbox
 * root update, a `{role, signature}` file) and follow the task to its end.
 *
 * Exit 0 when the server finished the work or parked it for more signatures
 * (said so, with the command the signers run next); 1 when it refused or the
 * task failed (its reason printed); 2 for a local problem with the file.
 */
import { readFileSync } from "node:fs";
import { rootFileFrom, type RootFile } from "../offline/root-files.ts";
import { summarizeRoot, formatStatus } from "../offline/root-summary.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool } from "./flags.ts";
import { acceptedTaskId, apiClient, serverCommand, type ApiClient, type TaskData } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import { followTask, formatDetails, outcomeOf, pendingSignatures, taskFailure, taskJson } from "./task-follow.ts";

export const BOOTSTRAP_HELP = `tufbox bootstrap PAYLOAD --server URL [--token TOKEN] [--no-wait] [--json]

Sends a bootstrap payload (tufbox ceremony; RSTUF's 'rstuf admin send
bootstrap' format) to POST /api/v1/bootstrap and follows the task. When root
v1 has fewer signatures than its threshold the server waits for them (state
"signing"): the command says so and exits 0; the other root key holders then
run 'tufbox sign --key THEIR_KEY --server URL'. The online private key must
be in the server's online-key directory first.

${SERVER_FLAGS_HELP}
  --no-wait             do not wait for tasks that wait for offline signatures

Exit status: 0 done (or waiting for signatures), 1 refused by the server or
the task failed, 2 usage or a problem with the file.`;

export const SEND_HELP = `tufbox send bootstrap|update|sign FILE --server URL [--token TOKEN] [--no-wait] [--json]

Posts a payload written offline and follows the task to its end:
  bootstrap FILE   POST /api/v1/bootstrap        (tufbox ceremony; same as tufbox bootstrap)
  update FILE      POST /api/v1/metadata         (tufbox root update: root N+1)
  sign FILE        POST /api/v1/metadata/sign    ({"role": "root", "signature": {"keyid", "sig"}})

A root that still needs signatures waits on the server in a signing session;
the key holders add theirs with 'tufbox sign --key THEIR_KEY --server URL'.

${SERVER_FLAGS_HELP}
  --no-wait             do not wait for tasks that wait for offline signatures

Exit status: 0 done (or waiting for signatures), 1 refused by the server or
the task failed, 2 usage or a problem with the file.`;

export const FLAGS = { ...SERVER_FLAGS, "no-wait": { type: "boolean" } } as const;

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : `cannot read (${code ?? "error"})`}`,
      `give the path of the ${what}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not JSON`, `give the ${what} as written by tufbox`);
  }
}

function readRootPayload(path: string, kind: "bootstrap" | "update"): RootFile {
  const file = rootFileFrom(
    readJsonFile(path, kind === "bootstrap" ? "bootstrap payload" : "metadata-update payload"),
    path,
  );
  if (file.kind !== kind) {
    const is =
      file.kind === "bootstrap"
        ? "a bootstrap payload"
        : file.kind === "update"
          ? "a metadata-update payload"
          : "a root metadata file, not a payload";
    const use =
      file.kind === "bootstrap"
        ? `tufbox send bootstrap ${path}`
        : file.kind === "update"
          ? `tufbox send update ${path}`
          : 'wrap it as {"metadata": {"root": …}} (tufbox root update writes that)';
    throw new UsageError(`${path} is ${is}`, `use: ${use}`);
  }
  return file;
}

/** One line per threshold: "root v1 (this root): 1 of 2 signed, threshold 2 — 1 more needed". */
function signatureLines(file: RootFile): string[] {
  const summary = summarizeRoot(file.root, { kind: file.kind });
  if (summary.problems.length > 0)
    throw new UsageError(
      `${file.source}: ${summary.problems.join("; ")}`,
      "regenerate the payload (tufbox ceremony / tufbox root update)",
    );
  return summary.status.map((st) => formatStatus(st, file.root.signed.keys).split("\n")[0]!);
}

function signHint(api: ApiClient, role = "root"): string {
  return `tufbox sign --key THEIR_KEY${role === "root" ? "" : ` --role ${role}`} --server ${api.server}`;
}

/** Post, follow, report. Returns the final task (failures are thrown as ServerError). */
async function postAndFollow(
  api: ApiClient,
  out: Output,
  path: string,
  body: unknown,
  what: string,
  hints: { hint404: string; hint422: string; failed: string },
  noWait: boolean,
): Promise<TaskData> {
  const answer = await api.post(path, body, { what, hint404: hints.hint404, hint422: hints.hint422 });
  const taskId = acceptedTaskId(answer, what);
  out.say(`${typeof answer.body?.message === "string" ? answer.body.message : "accepted."} task ${taskId}`);
  const task = await followTask(api, out.term, taskId, { waitForSigners: !noWait, signHint: signHint(api) });
  if (outcomeOf(task) === "failed") throw taskFailure(task, what, hints.failed);
  return task;
}

export async function sendBootstrap(api: ApiClient, out: Output, file: string, noWait: boolean): Promise<TaskData> {
  const payload = readRootPayload(file, "bootstrap");
  out.say(`bootstrap payload ${file}: ${signatureLines(payload).join("; ")}`);
  const task = await postAndFollow(
    api,
    out,
    "/api/v1/bootstrap",
    payload.content,
    "bootstrap the repository",
    {
      hint404: `the repository is already bootstrapped, or a bootstrap waits for signatures: see tufbox status --server ${api.server}`,
      hint422: "fix the payload (tufbox ceremony writes valid ones) and send it again",
      failed: `fix the cause above; the repository is free for another bootstrap (tufbox status --server ${api.server})`,
    },
    noWait,
  );
  const outcome = outcomeOf(task);
  if (outcome === "pending_signatures") {
    out.say(
      `${pendingSignatures(task) ?? "Root v1 is pending signatures"}: the repository goes live once the root threshold is met`,
    );
    out.say(`next: each remaining root key holder runs\n  ${signHint(api)}`);
  } else if (outcome === "finished") {
    out.say(`Bootstrap finished: the repository is live at ${api.opts.metadataUrl}/ (clients start from 1.root.json)`);
  } else {
    out.say(
      `task ${task.task_id} is ${task.state}; follow it with: tufbox task ${task.task_id} --server ${api.server} --wait`,
    );
  }
  return task;
}

export async function sendUpdate(api: ApiClient, out: Output, file: string, noWait: boolean): Promise<TaskData> {
  const payload = readRootPayload(file, "update");
  const version = payload.root.signed.version;
  out.say(`metadata-update payload ${file}: root v${version}, ${payload.root.signatures.length} signature(s)`);
  return sendRootUpdate(api, out, payload.content, version, noWait);
}

/** POST /api/v1/metadata with root N+1 and report (shared with tufbox root update --send). */
export async function sendRootUpdate(
  api: ApiClient,
  out: Output,
  body: unknown,
  version: number,
  noWait: boolean,
): Promise<TaskData> {
  const task = await postAndFollow(
    api,
    out,
    "/api/v1/metadata",
    body,
    `send root v${version}`,
    {
      hint404: `the repository is not bootstrapped, or a root update is already pending: see tufbox status --server ${api.server}; sign it (tufbox sign --server) or cancel it (POST /api/v1/metadata/sign/delete)`,
      hint422:
        "the server checked root N+1 against the published root: fix what it names (tufbox root update --server builds on the published root)",
      failed: `see tufbox status --server ${api.server}`,
    },
    noWait,
  );
  const pending = pendingSignatures(task);
  if (pending) {
    out.say(
      `${pending}: the server publishes root v${version} once the threshold of the current root and of v${version} are both met`,
    );
    out.say(`next: each missing signer runs\n  ${signHint(api)}`);
  } else if (outcomeOf(task) === "finished") {
    out.say(`root v${version} published: clients pick it up on their next update`);
  }
  return task;
}

/** The outcome line of a sign task: "Root v1 is pending signatures", "Bootstrap Finished", … */
export function signOutcome(task: TaskData): string {
  const d = task.result?.details ?? {};
  const line = [d.bootstrap, d.update].find((v): v is string => typeof v === "string");
  return line ?? (formatDetails(d).join("; ") || task.result?.message || task.state);
}

export function signFailedHint(api: ApiClient, role: string): string {
  return `the signature must verify for the document pending for ${role}: see what is pending with tufbox sign --role ${role} --server ${api.server} (it shows it before signing)`;
}

/** POST one signature and follow its task. */
export async function postSignature(
  api: ApiClient,
  out: Output,
  role: string,
  signature: { keyid: string; sig: string },
  noWait: boolean,
): Promise<TaskData> {
  return postAndFollow(
    api,
    out,
    "/api/v1/metadata/sign",
    { role, signature },
    `sign ${role}`,
    {
      hint404: `see tufbox status --server ${api.server}`,
      hint422: 'the file must be {"role": NAME, "signature": {"keyid": 64 hex, "sig": hex}}',
      failed: signFailedHint(api, role),
    },
    noWait,
  );
}

function readSignFile(path: string): { role: string; signature: { keyid: string; sig: string } } {
  const value = readJsonFile(path, "signature file") as Record<string, unknown> | null;
  const sig = value && typeof value === "object" ? (value.signature as Record<string, unknown> | undefined) : undefined;
  if (
    !value ||
    typeof value !== "object" ||
    typeof value.role !== "string" ||
    !sig ||
    typeof sig !== "object" ||
    typeof sig.keyid !== "string" ||
    typeof sig.sig !== "string"
  ) {
    throw new UsageError(
      `${path} is not a signature file`,
      'expected {"role": "root", "signature": {"keyid": "…", "sig": "…"}}; \'tufbox sign --server\' signs and sends in one step',
    );
  }
  return { role: value.role, signature: { keyid: sig.keyid, sig: sig.sig } };
}

async function sendSign(api: ApiClient, out: Output, file: string, noWait: boolean): Promise<TaskData> {
  const { role, signature } = readSignFile(file);
  const task = await postSignature(api, out, role, signature, noWait);
  out.say(signOutcome(task));
  return task;
}

function parse(command: string, argv: string[]) {
  return parseCommandArgs(command, argv, FLAGS, { config: false });
}

export async function bootstrapCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "bootstrap",
    term,
    () => json,
    async () => {
      const args = parse("bootstrap", argv);
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(BOOTSTRAP_HELP);
      const [file, extra] = args.positionals;
      if (file === undefined || extra !== undefined)
        throw new UsageError(
          "give exactly one bootstrap payload file",
          "e.g. tufbox bootstrap ceremony-payload.json --server http://127.0.0.1:8080",
        );
      const api = apiClient(args.own, term, "bootstrap");
      const out = new Output(term, json);
      const task = await sendBootstrap(api, out, file, flagBool(args.own, "no-wait"));
      out.result(taskJson(task));
    },
  );
}

export async function sendCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "send",
    term,
    () => json,
    async () => {
      const args = parse("send", argv);
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(SEND_HELP);
      const [kind, file, extra] = args.positionals;
      if (kind === undefined) {
        term.out(SEND_HELP);
        throw new UsageError("missing what to send", "use: tufbox send bootstrap|update|sign FILE --server URL");
      }
      if (!["bootstrap", "update", "sign"].includes(kind))
        throw new UsageError(`cannot send "${kind}"`, "use: tufbox send bootstrap|update|sign FILE --server URL");
      if (file === undefined || extra !== undefined)
        throw new UsageError(
          `give exactly one file to send as ${kind}`,
          `e.g. tufbox send ${kind} ${kind === "bootstrap" ? "ceremony-payload.json" : kind === "update" ? "update-payload.json" : "signature.json"} --server http://127.0.0.1:8080`,
        );
      const api = apiClient(args.own, term, "send");
      const out = new Output(term, json);
      const noWait = flagBool(args.own, "no-wait");
      const task =
        kind === "bootstrap"
          ? await sendBootstrap(api, out, file, noWait)
          : kind === "update"
            ? await sendUpdate(api, out, file, noWait)
            : await sendSign(api, out, file, noWait);
      out.result(taskJson(task));
    },
  );
}
