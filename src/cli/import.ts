/**
 * `tufbox import DIR` — upload a directory of artifacts: walked (no symlinks
 * or special files), hashed in parallel, sent in parallel (large files one
 * PUT each, small ones many per multipart form, one task per request).
 *
 * `tufbox import --manifest FILE.jsonl` — add artifact entries whose bytes live
 * elsewhere (RSTUF's import-artifacts use case): one JSON object per line,
 * `{"path", "length", "hashes", "custom"?}` (or `{"path", "info": {…}}`),
 * validated completely first, then sent in batches.
 *
 * Both are resumable: a journal (the --state file) records what the server
 * acknowledged (a 202: bytes and change durable), and a second run with the
 * same arguments skips it — after Ctrl-C, a lost connection or a reboot.
 * Progress on a terminal, plain lines otherwise, --json for scripts.
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { checkHashes, checkTargetPath } from "../tuf/metadata.ts";
import { assertCanonicalSafe } from "../tuf/canonical.ts";
import { TufError } from "../tuf/errors.ts";
import { inParallel, WalkError, walkFiles, type WalkedFile } from "../ingest/walk.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool, flagString, parseCount } from "./flags.ts";
import { acceptedTaskId, apiClient, serverCommand, ServerError, type ApiClient } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import { formatBytes } from "./format.ts";
import { TransferProgress as Progress } from "./transfer-progress.ts";
import { failedTasks, postFiles, prefixOf, putFile, waitTasks, type UploadedFile } from "./upload.ts";

export const IMPORT_HELP = `tufbox import DIR [--prefix DIR/] [--jobs N] --server URL
tufbox import --manifest FILE.jsonl [--batch N] --server URL
    [--token TOKEN] [--no-publish] [--state FILE] [--restart] [--json]

DIR             uploads every file under DIR (target path = its path relative
                to DIR, under --prefix); the server hashes and stores the bytes.
                Symbolic links and special files are refused.
--manifest F    adds the artifact entries of a JSONL file, one per line:
                {"path": "a/b.tar.gz", "length": 123, "hashes": {"sha256": "…"}, "custom": {…}}
                (bytes are not uploaded; they live wherever you serve them).

  --jobs N        files hashed / requests in flight at once (default 4)
  --batch N       manifest entries per request (default 10000, the server's default limit)
  --no-publish    accept now, publish with POST /api/v1/artifacts/publish
  --one-publication  hold every entry, then publish them together at the end (no
                  publication competes with the import; the server still publishes at
                  most publisher.max_batch changes at a time). Publishes anything else
                  held on the server too.
  --state FILE    the resume journal (default: one per server and source under
                  $XDG_STATE_HOME/tufbox); a second run skips what the server acknowledged
  --restart       forget the journal and send everything again
${SERVER_FLAGS_HELP}`;

export const IMPORT_FLAGS = {
  manifest: { type: "string" },
  prefix: { type: "string" },
  jobs: { type: "string" },
  batch: { type: "string" },
  state: { type: "string" },
  restart: { type: "boolean" },
  "no-publish": { type: "boolean" },
  "one-publication": { type: "boolean" },
  ...SERVER_FLAGS,
} as const;

/** Files at or above this size go alone (PUT); smaller ones share multipart forms. */
const LARGE_FILE = 8 * 1024 * 1024;
const FORM_MAX_FILES = 500;
const FORM_MAX_BYTES = 32 * 1024 * 1024;

export async function importCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "import",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("import", argv, IMPORT_FLAGS);
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(IMPORT_HELP);
      const jobs = parseCount(flagString(args.own, "jobs") ?? "4", "--jobs", 1, "e.g. --jobs 4");
      const onePublication = flagBool(args.own, "one-publication");
      if (onePublication && flagBool(args.own, "no-publish"))
        throw new UsageError("--one-publication and --no-publish exclude each other", "choose one");
      const publish = !flagBool(args.own, "no-publish") && !onePublication;
      const manifest = flagString(args.own, "manifest");
      const out = new Output(term, json);
      if (manifest !== undefined) {
        if (args.positionals.length > 0 || args.own.prefix !== undefined)
          throw new UsageError("--manifest takes no DIR and no --prefix", "paths come from the manifest's lines");
        const batch = parseCount(flagString(args.own, "batch") ?? "10000", "--batch", 1, "e.g. --batch 10000");
        const api = apiClient(args.own, term, "import");
        const journal = openJournal(args.own, term, api, "manifest", resolve(manifest), statSync(manifest).size);
        return importManifest(api, out, manifest, { batch, jobs, publish, journal, onePublication });
      }
      if (args.positionals.length !== 1)
        throw new UsageError(
          "give one directory to import",
          "e.g. tufbox import ./dist --prefix releases/ --server URL",
        );
      const dir = args.positionals[0]!;
      if (!existsSync(dir) || !statSync(dir).isDirectory())
        throw new UsageError(`${dir} is not a directory`, "for single files use: tufbox artifact upload FILE...");
      const prefix = prefixOf(flagString(args.own, "prefix"));
      const api = apiClient(args.own, term, "import");
      const journal = openJournal(args.own, term, api, `dir ${prefix}`, resolve(dir), 0);
      return importDirectory(api, out, dir, { prefix, jobs, publish, journal, onePublication });
    },
  );
}

// ------------------------------------------------------------------ journal

interface Journal {
  file: string;
  /** DIR: "path\tsha256" acknowledged; manifest: "line" (highest contiguous acknowledged line) */
  done: Set<string>;
  lastLine: number;
  append(entry: Record<string, unknown>): void;
}

function openJournal(
  own: Record<string, unknown>,
  term: ServerTerminal,
  api: ApiClient,
  kind: string,
  source: string,
  size: number,
): Journal {
  const key = createHash("sha256").update(`${kind}\n${api.server}\n${source}`).digest("hex").slice(0, 16);
  const base = term.env.XDG_STATE_HOME || join(term.env.HOME || homedir(), ".local", "state");
  const file = (own.state as string | undefined) ?? join(base, "tufbox", `import-${key}.jsonl`);
  const header = { kind, server: api.server, source, size };
  if (own.restart === true) rmSync(file, { force: true });
  const done = new Set<string>();
  let lastLine = 0;
  if (existsSync(file)) {
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "");
    const first = lines.length > 0 ? safeJson(lines[0]!) : undefined;
    if (JSON.stringify(first) !== JSON.stringify(header)) {
      term.info(`the journal ${file} is for another import; starting afresh`);
      rmSync(file, { force: true });
    } else {
      for (const l of lines.slice(1)) {
        const e = safeJson(l) as { path?: string; sha256?: string; line?: number } | undefined;
        if (e?.path && e.sha256) done.add(`${e.path}\t${e.sha256}`);
        if (typeof e?.line === "number") lastLine = Math.max(lastLine, e.line);
      }
    }
  }
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(header) + "\n");
  }
  return {
    file,
    done,
    lastLine,
    append: (entry) => appendFileSync(file, JSON.stringify(entry) + "\n"),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ DIR

interface Hashed extends WalkedFile {
  sha256: string;
}

async function sha256File(file: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(file).stream()) h.update(chunk);
  return h.digest("hex");
}

async function importDirectory(
  api: ApiClient,
  out: Output,
  dir: string,
  opts: { prefix: string; jobs: number; publish: boolean; journal: Journal; onePublication: boolean },
): Promise<void> {
  const term = out.term;
  let walked: WalkedFile[];
  try {
    walked = await walkFiles(dir);
  } catch (err) {
    if (err instanceof WalkError) throw new UsageError(err.message, err.hint);
    throw err;
  }
  if (walked.length === 0) throw new UsageError(`${dir} holds no files`, "give the directory holding the artifacts");
  const files = walked.map((f) => ({ ...f, path: opts.prefix + f.path }));
  for (const f of files) checkPathOrUsage(f.path, "target path");
  const totalBytes = files.reduce((n, f) => n + f.size, 0);

  const hashing = new Progress(term, { label: "hashing", totalCount: files.length, totalBytes });
  const hashed: Hashed[] = await inParallel(files, opts.jobs, async (f) => {
    const sha256 = await sha256File(f.file);
    hashing.add(1, f.size);
    return { ...f, sha256 };
  });
  hashing.done(`hashed ${files.length} file(s), ${formatBytes(totalBytes)} in ${hashing.seconds.toFixed(1)}s`);

  const todo = hashed.filter((f) => !opts.journal.done.has(`${f.path}\t${f.sha256}`));
  const skipped = hashed.length - todo.length;
  if (skipped > 0) term.info(`${skipped} file(s) already acknowledged by the server (journal ${opts.journal.file})`);
  const sending = new Progress(term, {
    label: "uploading",
    totalCount: todo.length,
    totalBytes: todo.reduce((n, f) => n + f.size, 0),
  });

  // Requests: each large file alone, small files packed into forms.
  const requests: Hashed[][] = [];
  let form: Hashed[] = [];
  let formBytes = 0;
  for (const f of todo) {
    if (f.size >= LARGE_FILE) {
      requests.push([f]);
      continue;
    }
    if (form.length >= FORM_MAX_FILES || formBytes + f.size > FORM_MAX_BYTES) {
      requests.push(form);
      form = [];
      formBytes = 0;
    }
    form.push(f);
    formBytes += f.size;
  }
  if (form.length > 0) requests.push(form);

  const taskIds: string[] = [];
  await inParallel(requests, opts.jobs, async (group) => {
    let uploaded: UploadedFile[];
    if (group.length === 1 && group[0]!.size >= LARGE_FILE) {
      uploaded = [await putFile(api, group[0]!, { publish: opts.publish, onBytes: (n) => sending.add(0, n) })];
    } else {
      uploaded = await postFiles(api, group, { publish: opts.publish });
      sending.add(
        0,
        group.reduce((n, f) => n + f.size, 0),
      );
    }
    for (const [i, f] of group.entries()) {
      const u = uploaded[i];
      // The server hashed what it received: it must be what we hashed here.
      if (!u || u.path !== f.path || u.hashes.sha256 !== f.sha256)
        throw new ServerError(
          `${f.path}: the server stored sha256 ${u?.hashes.sha256 ?? "?"}, the file has ${f.sha256}`,
          "the file changed while it was imported, or the upload was corrupted; run the import again",
        );
      opts.journal.append({ path: f.path, sha256: f.sha256, task_id: u.task_id });
    }
    taskIds.push(uploaded[0]!.task_id);
    sending.add(group.length, 0);
  });
  sending.done(
    `sent ${todo.length} file(s), ${formatBytes(sending.bytes)} in ${sending.seconds.toFixed(1)}s in ${requests.length} request(s); waiting for publication`,
  );
  await finish(
    api,
    out,
    taskIds,
    {
      files: hashed.length,
      bytes: totalBytes,
      uploaded: todo.length,
      skipped,
      seconds: hashing.seconds,
      journal: opts.journal.file,
    },
    opts.onePublication,
  );
}

function checkPathOrUsage(path: string, what: string): void {
  try {
    checkTargetPath(path, "");
  } catch (err) {
    if (err instanceof TufError)
      throw new UsageError(`${what} ${JSON.stringify(path)} ${err.message.replace(/^: /, "")}`, "rename the file");
    throw err;
  }
}

async function finish(
  api: ApiClient,
  out: Output,
  taskIds: string[],
  summary: Record<string, unknown>,
  onePublication = false,
): Promise<void> {
  if (onePublication) {
    // Everything was held: one publish request releases it all as one batch.
    const answer = await api.post("/api/v1/artifacts/publish", undefined, { what: "publish the held artifacts" });
    taskIds = [...taskIds, acceptedTaskId(answer, "publish artifacts")];
  }
  const waiting = new Progress(out.term, {
    label: "publishing",
    unit: "tasks",
    totalCount: taskIds.length,
    totalBytes: 0,
  });
  const tasks = await waitTasks(api, taskIds, () => waiting.add(1, 0));
  waiting.done(`${tasks.length} task(s) finished in ${waiting.seconds.toFixed(1)}s`);
  const failed = failedTasks(tasks);
  out.result({ ...summary, tasks: tasks.length, failed_tasks: failed.map((t) => t.task_id) });
  if (failed.length > 0)
    throw new ServerError(
      `${failed.length} task(s) failed: ${failed
        .slice(0, 5)
        .map((t) => `${t.task_id} ${t.state} ${t.result?.error ?? ""}`)
        .join("; ")}`,
      `see tufbox task TASK_ID --server ${api.server}`,
    ).printed();
  out.say(
    `imported ${summary.uploaded} of ${summary.files} (${summary.skipped} acknowledged before); every task finished`,
  );
}

// ------------------------------------------------------------------ manifest

async function* lines(file: string): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let rest = "";
  for await (const chunk of Bun.file(file).stream()) {
    rest += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n", start)) {
      yield rest.slice(start, nl);
      start = nl + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (rest !== "") yield rest;
}

interface ManifestEntry {
  path: string;
  info: { length: number; hashes: Record<string, string>; custom?: Record<string, unknown> };
}

function parseEntry(text: string, n: number): ManifestEntry | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const bad = (why: string) =>
    new UsageError(
      `manifest line ${n}: ${why}`,
      `each line is {"path": "...", "length": N, "hashes": {"sha256": "..."}} (custom optional)`,
    );
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    throw bad("not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("not a JSON object");
  const o = v as Record<string, unknown>;
  const info = (o.info ?? o) as Record<string, unknown>;
  try {
    const path = checkTargetPath(o.path, "path");
    if (typeof info.length !== "number" || !Number.isSafeInteger(info.length) || info.length < 0)
      throw bad("length must be a non-negative integer");
    const hashes = checkHashes(info.hashes, "hashes");
    const entry: ManifestEntry = { path, info: { length: info.length, hashes } };
    if (info.custom !== undefined && info.custom !== null) {
      if (typeof info.custom !== "object" || Array.isArray(info.custom)) throw bad("custom must be an object");
      assertCanonicalSafe(info.custom, "custom");
      entry.info.custom = info.custom as Record<string, unknown>;
    }
    return entry;
  } catch (err) {
    if (err instanceof TufError) throw bad(err.message);
    throw err;
  }
}

async function importManifest(
  api: ApiClient,
  out: Output,
  file: string,
  opts: { batch: number; jobs: number; publish: boolean; journal: Journal; onePublication: boolean },
): Promise<void> {
  const term = out.term;
  // Pass 1: the whole file is valid, or nothing is sent.
  let total = 0;
  let n = 0;
  try {
    for await (const line of lines(file)) if (parseEntry(line, ++n)) total++;
  } catch (err) {
    if (err instanceof TypeError)
      throw new UsageError(`${file} is not UTF-8`, "write the manifest as UTF-8 JSON lines");
    throw err;
  }
  if (total === 0) throw new UsageError(`${file} holds no entries`, "one JSON object per line");
  const resumeAfter = opts.journal.lastLine;
  if (resumeAfter > 0) term.info(`resuming after line ${resumeAfter} (journal ${opts.journal.file})`);
  const progress = new Progress(term, { label: "adding", unit: "artifacts", totalCount: total, totalBytes: 0 });

  // Pass 2: batches, a few in flight; the journal only records a line once every line before it is acknowledged.
  const taskIds: string[] = [];
  let skipped = 0;
  const inFlight = new Set<Promise<void>>();
  const acked = new Map<number, number>(); // batch first line -> last line
  const order: number[] = [];
  let journaled = resumeAfter;
  const advance = () => {
    while (order.length > 0 && acked.has(order[0]!)) {
      journaled = acked.get(order.shift()!)!;
      opts.journal.append({ line: journaled });
    }
  };
  const send = async (entries: ManifestEntry[], first: number, last: number) => {
    const answer = await api.post(
      "/api/v1/artifacts",
      { artifacts: entries, publish_artifacts: opts.publish },
      { what: `add manifest lines ${first}-${last}`, hint422: "fix the manifest line named above" },
    );
    taskIds.push(acceptedTaskId(answer, "add artifacts"));
    acked.set(first, last);
    advance();
    progress.add(entries.length, 0);
  };
  let batch: ManifestEntry[] = [];
  let first = 0;
  n = 0;
  for await (const line of lines(file)) {
    n++;
    const e = parseEntry(line, n);
    if (!e) continue;
    if (n <= resumeAfter) {
      skipped++;
      continue;
    }
    if (batch.length === 0) first = n;
    batch.push(e);
    if (batch.length >= opts.batch) {
      const [b, f, l] = [batch, first, n];
      order.push(f);
      batch = [];
      const p = send(b, f, l).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= opts.jobs) await Promise.race(inFlight);
    }
  }
  if (batch.length > 0) {
    order.push(first);
    const p = send(batch, first, n).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  progress.skip(skipped, 0);
  progress.done(
    `sent ${total - skipped} entries in ${progress.seconds.toFixed(1)}s (${taskIds.length} request(s)); waiting for publication`,
  );
  await finish(
    api,
    out,
    taskIds,
    {
      files: total,
      uploaded: total - skipped,
      skipped,
      seconds: progress.seconds,
      journal: opts.journal.file,
    },
    opts.onePublication,
  );
}
