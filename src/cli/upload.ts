/**
 * `tufbox artifact upload FILE... [--prefix DIR/]`: send artifact bytes to the
 * server (PUT /api/v1/artifacts/content/<path>, streamed from disk), which
 * hashes, stores and adds them; the tasks are followed to their end. Also the
 * upload primitives `tufbox import` uses (one file by PUT, many small files
 * in one multipart form).
 */
import { basename } from "node:path";
import { stat } from "node:fs/promises";
import { checkTargetPath } from "../tuf/metadata.ts";
import { TufError } from "../tuf/errors.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { parseCustomFlag } from "./custom-flag.ts";
import { flagBool, flagString } from "./flags.ts";
import { acceptedTaskId, ServerError, apiClient, type ApiClient, type TaskData } from "./client.ts";
import { Output, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import { formatBytes } from "./format.ts";
import { isFinal } from "./task-follow.ts";
import { TransferProgress as Progress } from "./transfer-progress.ts";

export const UPLOAD_HELP = `tufbox artifact upload FILE... [--prefix DIR/] [--custom JSON] --server URL
    [--token TOKEN] [--no-publish] [--json]

Sends each FILE's bytes to the server (PUT /api/v1/artifacts/content/PATH),
which hashes and stores them and adds the artifact; clients then download it
from SERVER/targets/. The target path is the file name, under --prefix.

  --prefix DIR/         put every FILE under DIR/, e.g. --prefix releases/
  --custom JSON         a JSON object stored as each target's "custom" field
  --no-publish          accept now, publish with POST /api/v1/artifacts/publish
${SERVER_FLAGS_HELP}

Progress (count, bytes, rate, ETA) on a terminal; plain lines otherwise.
For whole directories, resumable: tufbox import DIR.`;

export const UPLOAD_FLAGS = {
  prefix: { type: "string" },
  custom: { type: "string" },
  "no-publish": { type: "boolean" },
  ...SERVER_FLAGS,
} as const;

export interface UploadedFile {
  path: string;
  length: number;
  hashes: Record<string, string>;
  task_id: string;
}

/** The URL path of a target path: each segment percent-encoded. */
export function contentUrlPath(path: string): string {
  return `/api/v1/artifacts/content/${path.split("/").map(encodeURIComponent).join("/")}`;
}

export function targetPathOrUsage(path: string, what: string): string {
  try {
    return checkTargetPath(path, "");
  } catch (err) {
    if (err instanceof TufError)
      throw new UsageError(
        `${what} ${JSON.stringify(path)} ${err.message.replace(/^: /, "")}`,
        "target paths are relative, '/'-separated, without '.' or '..' segments, e.g. releases/app-1.0.tar.gz",
      );
    throw err;
  }
}

export function prefixOf(text: string | undefined): string {
  if (text === undefined || text === "") return "";
  const p = text.endsWith("/") ? text : `${text}/`;
  targetPathOrUsage(p.slice(0, -1), "--prefix");
  return p;
}

/** Stream one file to the server; `onBytes` is called as bytes leave. */
export async function putFile(
  api: ApiClient,
  file: { file: string; path: string; size: number },
  opts: { publish: boolean; custom?: Record<string, unknown>; onBytes?: (n: number) => void },
): Promise<UploadedFile> {
  const counted = Bun.file(file.file)
    .stream()
    .pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          opts.onBytes?.(chunk.byteLength);
          ctl.enqueue(chunk);
        },
      }),
    );
  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    "content-length": String(file.size),
  };
  if (opts.custom) headers["x-tufbox-custom"] = JSON.stringify(opts.custom);
  const answer = await api.send(
    "PUT",
    contentUrlPath(file.path) + (opts.publish ? "" : "?publish=false"),
    { body: counted, headers },
    { what: `upload ${file.path}`, hint422: "fix the target path or --custom named above" },
  );
  const data = answer.body?.data ?? {};
  return { path: file.path, length: data.length, hashes: data.hashes ?? {}, task_id: acceptedTaskId(answer, "upload") };
}

/** Several (small) files in one multipart form: one task for all of them. */
export async function postFiles(
  api: ApiClient,
  files: { file: string; path: string }[],
  opts: { publish: boolean },
): Promise<UploadedFile[]> {
  const form = new FormData();
  for (const f of files) form.append("file", Bun.file(f.file), f.path);
  const answer = await api.send(
    "POST",
    `/api/v1/artifacts/upload${opts.publish ? "" : "?publish=false"}`,
    { body: form },
    { what: `upload ${files.length} file(s)`, hint422: "fix the file named above" },
  );
  const taskId = acceptedTaskId(answer, "upload");
  const stored = (answer.body?.data?.files ?? []) as { path: string; length: number; hashes: Record<string, string> }[];
  return stored.map((s) => ({ ...s, task_id: taskId }));
}

/** Poll tasks until every one is final (or waits for offline signatures). */
export async function waitTasks(
  api: ApiClient,
  taskIds: string[],
  onDone?: (t: TaskData) => void,
): Promise<TaskData[]> {
  const pending = new Set(taskIds);
  const out = new Map<string, TaskData>();
  let pause = 50;
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const t = await api.task(id);
      if (isFinal(t.state) || t.state === "RUNNING") {
        pending.delete(id);
        out.set(id, t);
        onDone?.(t);
      } else break; // the oldest is not done: later ones are not either, most likely
    }
    if (pending.size > 0) {
      await Bun.sleep(pause);
      pause = Math.min(1000, Math.ceil(pause * 1.5));
    }
  }
  return taskIds.map((id) => out.get(id)!);
}

export function failedTasks(tasks: TaskData[]): TaskData[] {
  return tasks.filter((t) => t.state !== "SUCCESS" && t.state !== "RUNNING");
}

export async function uploadCommand(argv: string[], term: ServerTerminal, json: { value: boolean }): Promise<void> {
  const args = parseCommandArgs("artifact upload", argv, UPLOAD_FLAGS);
  json.value = jsonFlag(args.own);
  if (args.own.help) return term.out(UPLOAD_HELP);
  const files = args.positionals;
  if (files.length === 0)
    throw new UsageError(
      "give at least one file to upload",
      "e.g. tufbox artifact upload dist/app-1.0.tar.gz --prefix releases/",
    );
  const prefix = prefixOf(flagString(args.own, "prefix"));
  const customText = flagString(args.own, "custom");
  const custom = customText === undefined ? undefined : parseCustomFlag(customText);
  const publish = !flagBool(args.own, "no-publish");
  const entries: { file: string; path: string; size: number }[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(file);
    } catch {
      throw new UsageError(`${file}: no such file`, "give the artifact files to upload");
    }
    if (!st.isFile()) throw new UsageError(`${file} is not a regular file`, "for a directory use: tufbox import DIR");
    const path = targetPathOrUsage(prefix + basename(file), "target path");
    if (seen.has(path)) throw new UsageError(`two files would both be ${path}`, "give each file a distinct name");
    seen.add(path);
    entries.push({ file, path, size: st.size });
  }
  const api = apiClient(args.own, term, "artifact upload");
  const out = new Output(term, json.value);
  const total = entries.reduce((n, e) => n + e.size, 0);
  const progress = new Progress(term, { label: "uploading", totalCount: entries.length, totalBytes: total });
  const uploaded: UploadedFile[] = [];
  for (const e of entries) {
    const u = await putFile(api, e, { publish, custom, onBytes: (n) => progress.add(0, n) });
    progress.add(1, 0);
    uploaded.push(u);
    if (!term.live) term.info(`${u.path}: ${u.length} bytes, sha256 ${u.hashes.sha256} (task ${u.task_id})`);
  }
  progress.done(
    `uploaded ${uploaded.length} file(s), ${formatBytes(progress.bytes)} in ${progress.seconds.toFixed(1)}s; waiting for publication`,
  );
  const tasks = await waitTasks(api, [...new Set(uploaded.map((u) => u.task_id))]);
  const failed = failedTasks(tasks);
  out.result({ uploaded, tasks: tasks.map((t) => ({ task_id: t.task_id, state: t.state })) });
  if (failed.length > 0)
    throw new ServerError(
      `${failed.length} task(s) failed: ${failed.map((t) => `${t.task_id} ${t.state} ${t.result?.error ?? ""}`).join("; ")}`,
      `see tufbox task TASK_ID --server ${api.server}`,
    ).printed();
  for (const u of uploaded) out.say(`${u.path}: published (${api.server}/targets/${u.path})`);
}
