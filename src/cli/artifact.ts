/**
 * `tufbox artifact add FILE...` and `tufbox artifact delete PATH...` against
 * a server: the files are hashed here (sha256 and sha512, length), the
 * target entries posted to /api/v1/artifacts (/artifacts/delete), the task
 * followed to its end. The bytes themselves are not uploaded: they are served
 * from the server's targets directory (or wherever the artifacts live).
 */
import { basename } from "node:path";
import { stat } from "node:fs/promises";
import { checkTargetPath } from "../tuf/metadata.ts";
import { TufError } from "../tuf/errors.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { parseCustomFlag } from "./custom-flag.ts";
import { uploadCommand } from "./upload.ts";
import { flagBool, flagString } from "./flags.ts";
import { acceptedTaskId, apiClient, serverCommand, ServerError, type ApiClient, type TaskData } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import { followTask, formatDetails, outcomeOf, taskFailure, taskJson } from "./task-follow.ts";

export const ARTIFACT_HELP = `tufbox artifact add FILE... [--path TARGET | --prefix DIR/] [--custom JSON] --server URL
tufbox artifact delete PATH... --server URL
tufbox artifact upload FILE... [--prefix DIR/] --server URL   (sends the bytes too; --help for more)
    [--token TOKEN] [--no-publish] [--no-wait] [--json]

add      hashes each FILE (sha256 and sha512) and adds it to the repository
         (POST /api/v1/artifacts); its target path is the file name, or
           --path TARGET   the target path (one FILE only), e.g. releases/app-1.0.tar.gz
           --prefix DIR/   put every FILE under DIR/, e.g. --prefix releases/
           --custom JSON   a JSON object stored as the target's "custom" field
         The metadata lists the artifacts; their bytes are served from the
         server's targets directory (SERVER/targets/PATH) or your own storage.
delete   removes target paths from the repository (POST /api/v1/artifacts/delete).

  --no-publish          accept the change but publish it later (POST /api/v1/artifacts/publish)
  --no-wait             do not wait when a role signed by offline keys needs signatures
${SERVER_FLAGS_HELP}

Exit status: 0 done; 1 the server refused, the task failed, or (add) a path
was not added because no role covers it; 2 usage or unreadable files.`;

export const FLAGS = {
  path: { type: "string" },
  prefix: { type: "string" },
  custom: { type: "string" },
  "no-publish": { type: "boolean" },
  "no-wait": { type: "boolean" },
  ...SERVER_FLAGS,
} as const;

export interface ArtifactEntry {
  path: string;
  info: { length: number; hashes: { sha256: string; sha512: string }; custom?: Record<string, unknown> };
}

/** Length, sha256 and sha512 of a file, read once as a stream. */
export async function hashFile(file: string): Promise<{ length: number; sha256: string; sha512: string }> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `${file}: ${code === "ENOENT" ? "no such file" : `cannot read (${code ?? "error"})`}`,
      "give the artifact files to add",
    );
  }
  if (!info.isFile())
    throw new UsageError(
      `${file} is not a regular file`,
      "give the artifact files to add (directories are not walked)",
    );
  const sha256 = new Bun.CryptoHasher("sha256");
  const sha512 = new Bun.CryptoHasher("sha512");
  let length = 0;
  try {
    for await (const chunk of Bun.file(file).stream()) {
      sha256.update(chunk);
      sha512.update(chunk);
      length += chunk.byteLength;
    }
  } catch (err) {
    throw new UsageError(
      `${file}: cannot read (${(err as { code?: string }).code ?? "error"})`,
      "check the file's permissions",
    );
  }
  return { length, sha256: sha256.digest("hex"), sha512: sha512.digest("hex") };
}

function targetPath(path: string, flag: string): string {
  try {
    return checkTargetPath(path, "");
  } catch (err) {
    if (err instanceof TufError)
      throw new UsageError(
        `${flag} ${JSON.stringify(path)}: ${err.message}`,
        "target paths are relative, '/'-separated, without '.' or '..' segments, e.g. releases/app-1.0.tar.gz",
      );
    throw err;
  }
}

/** The target entries for FILE... with --path / --prefix / --custom; `onHashed` after each file. */
export async function artifactEntries(
  files: string[],
  opts: { path?: string; prefix?: string; custom?: string },
  onHashed?: (done: number, bytes: number) => void,
): Promise<ArtifactEntry[]> {
  if (files.length === 0)
    throw new UsageError(
      "give at least one file to add",
      "e.g. tufbox artifact add dist/app-1.0.tar.gz --prefix releases/ --server URL",
    );
  if (opts.path !== undefined && files.length > 1)
    throw new UsageError(
      `--path names one target, but ${files.length} files were given`,
      "use --prefix DIR/ to put several files under one directory",
    );
  if (opts.path !== undefined && opts.prefix !== undefined)
    throw new UsageError(
      "--path and --prefix exclude each other",
      "--path is the whole target path of one file; --prefix a directory for each file's name",
    );
  let prefix = opts.prefix ?? "";
  if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
  const custom = opts.custom !== undefined ? parseCustomFlag(opts.custom) : undefined;
  const entries: ArtifactEntry[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  for (const file of files) {
    const path = targetPath(opts.path ?? prefix + basename(file), opts.path !== undefined ? "--path" : "target path");
    if (seen.has(path))
      throw new UsageError(
        `two files would both be ${path}`,
        "give each file a distinct name (or add them separately with --path)",
      );
    seen.add(path);
    const { length, sha256, sha512 } = await hashFile(file);
    entries.push({ path, info: { length, hashes: { sha256, sha512 }, ...(custom ? { custom } : {}) } });
    bytes += length;
    onHashed?.(entries.length, bytes);
  }
  return entries;
}

function doneWith(task: TaskData, what: string, hint: string): TaskData {
  if (outcomeOf(task) === "failed") throw taskFailure(task, what, hint);
  return task;
}

async function post(
  api: ApiClient,
  out: Output,
  path: string,
  body: unknown,
  what: string,
  noWait: boolean,
): Promise<TaskData> {
  const answer = await api.post(path, body, {
    what,
    hint404: `the repository is not bootstrapped yet: tufbox bootstrap PAYLOAD --server ${api.server} (tufbox status --server ${api.server} shows its state)`,
    hint422: "fix the item named above",
  });
  const taskId = acceptedTaskId(answer, what);
  out.say(`${typeof answer.body?.message === "string" ? answer.body.message : "accepted."} task ${taskId}`);
  return followTask(api, out.term, taskId, {
    waitForSigners: !noWait,
    signHint: `tufbox sign --key THEIR_KEY --role ROLE --server ${api.server}`,
  });
}

/** Up to this many files are listed one per line; more get a summary (the --json document lists all). */
export const FILES_LISTED = 20;

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** Count, rate and ETA while hashing, on a terminal that can rewrite its status line. */
function hashingProgress(out: Output, total: number): ((done: number, bytes: number) => void) | undefined {
  const live = out.term.live;
  if (!live || total < 2) return undefined;
  const started = performance.now();
  let shown = 0;
  return (done, bytes) => {
    const now = performance.now();
    if (done < total && now - shown < 100) return;
    shown = now;
    const seconds = (now - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? (total - done) / rate : 0;
    live(
      `hashing ${done}/${total} files, ${size(bytes)}, ${rate.toFixed(0)} files/s, ETA ${eta.toFixed(0)}s${done === total ? "" : "…"}`,
    );
    if (done === total) live(null);
  };
}

/** One line: how many artifacts were added, in how many roles (bins), by which task. */
function addSummary(task: TaskData): string {
  const d = task.result?.details ?? {};
  const count = (k: string) => (Array.isArray(d[k]) ? (d[k] as unknown[]).length : 0);
  const roles = Array.isArray(d.artifact_roles) ? (d.artifact_roles as string[]) : [];
  const bins = roles.length > 0 && roles.every((r) => /^bins-[0-9a-f]+$/.test(r));
  const invalid = count("invalid_paths");
  return `summary: ${count("added_artifacts")} artifact(s) added${invalid > 0 ? `, ${invalid} not added` : ""}; ${roles.length} ${bins ? "hash bin(s)" : "role(s)"} touched; task ${task.task_id} ${task.state}`;
}

function report(out: Output, task: TaskData, api: ApiClient): void {
  for (const line of formatDetails(task.result?.details)) out.say(line);
  if (task.state === "RUNNING")
    out.say(
      `waiting for offline signatures; follow it with: tufbox task ${task.task_id} --server ${api.server} --wait`,
    );
}

async function add(
  api: ApiClient,
  out: Output,
  files: string[],
  own: Record<string, string | boolean | string[] | undefined>,
): Promise<void> {
  const entries = await artifactEntries(
    files,
    { path: flagString(own, "path"), prefix: flagString(own, "prefix"), custom: flagString(own, "custom") },
    hashingProgress(out, files.length),
  );
  if (entries.length <= FILES_LISTED)
    for (const e of entries) out.say(`${e.path}: ${e.info.length} bytes, sha256 ${e.info.hashes.sha256}`);
  else
    out.say(
      `${entries.length} files hashed (sha256, sha512), ${size(entries.reduce((n, e) => n + e.info.length, 0))}: ${entries[0]!.path} … ${entries.at(-1)!.path}`,
    );
  const publish = !flagBool(own, "no-publish");
  const task = doneWith(
    await post(
      api,
      out,
      "/api/v1/artifacts",
      { artifacts: entries, publish_artifacts: publish },
      `add ${entries.length} artifact(s)`,
      flagBool(own, "no-wait"),
    ),
    "adding artifacts",
    "no artifact was added: the paths above are not covered by any delegated role; see tufbox status --server " +
      api.server,
  );
  report(out, task, api);
  if (task.state === "SUCCESS") out.say(addSummary(task));
  const invalid = (task.result?.details?.invalid_paths as string[] | undefined) ?? [];
  out.result(taskJson(task, { artifacts: entries }));
  const shown =
    invalid.length > FILES_LISTED
      ? `${invalid.slice(0, FILES_LISTED).join(", ")}, … (${invalid.length} in all; --json lists them)`
      : invalid.join(", ");
  if (invalid.length > 0)
    throw new ServerError(
      `not added: ${shown} (no delegated role covers these paths)`,
      "choose paths that a role's paths or hash prefixes cover (tufbox status shows the roles), then add them again",
    ).printed();
  if (task.state === "SUCCESS" && !out.json)
    out.say(`clients find the artifacts once their bytes are at ${api.server}/targets/PATH (or your artifact storage)`);
}

async function remove(
  api: ApiClient,
  out: Output,
  paths: string[],
  own: Record<string, string | boolean | string[] | undefined>,
): Promise<void> {
  if (paths.length === 0)
    throw new UsageError(
      "give at least one target path to delete",
      "e.g. tufbox artifact delete releases/app-1.0.tar.gz --server URL",
    );
  for (const p of paths) targetPath(p, "path");
  if (new Set(paths).size !== paths.length) throw new UsageError("a path is given twice", "give each target path once");
  const publish = !flagBool(own, "no-publish");
  const task = doneWith(
    await post(
      api,
      out,
      "/api/v1/artifacts/delete",
      { artifacts: paths, publish_artifacts: publish },
      `delete ${paths.length} artifact(s)`,
      flagBool(own, "no-wait"),
    ),
    "deleting artifacts",
    "none of the paths is in the repository; check them (they are target paths, not file names)",
  );
  report(out, task, api);
  out.result(taskJson(task, { artifacts: paths }));
}

export async function artifactCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "artifact",
    term,
    () => json,
    async () => {
      const [sub, ...rest] = argv;
      if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
        term.out(ARTIFACT_HELP);
        if (sub === undefined)
          throw new UsageError(
            "missing subcommand",
            "use 'tufbox artifact add FILE...' or 'tufbox artifact delete PATH...'",
          );
        return;
      }
      if (sub === "upload") {
        const ref = { value: false };
        try {
          return await uploadCommand(rest, term, ref);
        } finally {
          json = ref.value;
        }
      }
      if (sub !== "add" && sub !== "delete")
        throw new UsageError(
          `unknown subcommand "${sub}"`,
          "use 'tufbox artifact add FILE...' or 'tufbox artifact delete PATH...'",
        );
      const args = parseCommandArgs("artifact", rest, FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(ARTIFACT_HELP);
      if (sub === "delete") {
        for (const f of ["path", "prefix", "custom"])
          if (args.own[f] !== undefined)
            throw new UsageError(`--${f} is for artifact add`, "artifact delete takes target paths");
      }
      const api = apiClient(args.own, term, `artifact ${sub}`);
      const out = new Output(term, json);
      if (sub === "add") return add(api, out, args.positionals, args.own);
      return remove(api, out, args.positionals, args.own);
    },
  );
}
