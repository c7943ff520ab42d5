/**
 * The tufbox / RSTUF HTTP API from the command line (shared/RSTUF-API.md):
 * the server URL and token, requests whose failures carry the server's
 * `detail` (422: the field and why; 404: the state conflict; 401: why the
 * token was refused) plus a hint, and published metadata under `/metadata/`.
 * Which server and token (flags, env) is server-options.ts; where output goes
 * is output.ts; following a task to its end is task-follow.ts; the server's
 * root reached from a trusted one is server-root.ts.
 *
 * Exit codes: a `ServerError` (the server said no, a task failed, the server
 * cannot be reached or serves metadata that does not verify) is 1; a
 * `UsageError` (flags, local files) is 2.
 */
import { TufError } from "../tuf/errors.ts";
import { OfflineError } from "../offline/errors.ts";
import { UsageError, type ParsedArgs } from "./args.ts";
import type { Terminal } from "./terminal.ts";
import { METADATA_URL_ENV, SERVER_ENV, type ServerOptions, serverOptions, TOKEN_ENV } from "./server-options.ts";

/** The server said no, a task failed, or the server cannot be reached: exit 1. */
export class ServerError extends Error {
  readonly hint: string;
  /** HTTP status when the server answered */
  readonly status: number | undefined;
  /** the server's `detail` (or the task), for --json */
  readonly detail: unknown;
  /** the command already wrote its --json document (the failed task): no second one */
  resultPrinted = false;
  constructor(message: string, hint: string, opts: { status?: number; detail?: unknown } = {}) {
    super(message);
    this.name = "ServerError";
    this.hint = hint;
    this.status = opts.status;
    this.detail = opts.detail;
  }

  /** Mark that the --json document was written already. */
  printed(): this {
    this.resultPrinted = true;
    return this;
  }
}

// ------------------------------------------------------------------ requests

export interface RequestContext {
  /** what the request does, for messages ("send the bootstrap payload") */
  what: string;
  /** hint for a 404 (RSTUF's state conflicts: not bootstrapped, already bootstrapped, …) */
  hint404?: string;
  /** hint for a 422 */
  hint422?: string;
}

export interface ApiAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a server's JSON answer, read field by field with checks
  body: any;
}

/** Per-request limit: a server that accepts the connection and never answers should not hang a script forever. */
const REQUEST_TIMEOUT_MS = 120_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The 422 issues as `loc: msg` lines (FastAPI shape: `{"detail": [{loc, msg, type}]}`). */
export function validationIssues(detail: unknown): string[] {
  if (!Array.isArray(detail)) return [];
  return detail.map((d) => {
    if (!isObject(d)) return String(d);
    const loc = Array.isArray(d.loc) ? d.loc.map(String).join(".") : "";
    const msg = typeof d.msg === "string" ? d.msg : JSON.stringify(d);
    return loc ? `${loc}: ${msg}` : msg;
  });
}

/** `detail.error` / `detail.message` of the `{"detail": {"message", "error"}}` shape. */
function detailText(detail: unknown): string | undefined {
  if (typeof detail === "string") return detail;
  if (!isObject(detail)) return undefined;
  const error = typeof detail.error === "string" ? detail.error : undefined;
  const message = typeof detail.message === "string" ? detail.message : undefined;
  if (error && message && error !== message) return `${message}: ${error}`;
  return error ?? message;
}

export class ApiClient {
  readonly opts: ServerOptions;
  readonly #fetch: typeof fetch;

  constructor(opts: ServerOptions, fetchFn: typeof fetch = fetch) {
    this.opts = opts;
    this.#fetch = fetchFn;
  }

  get server(): string {
    return this.opts.server;
  }

  async #send(url: string, init: RequestInit, what: string): Promise<Response> {
    try {
      return await this.#fetch(url, { redirect: "manual", ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const e = err as { name?: string; code?: string; message?: string };
      const reason =
        e.name === "TimeoutError"
          ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
          : (e.code ?? e.message ?? String(err));
      throw new ServerError(
        `cannot ${what}: ${new URL(url).origin} cannot be reached (${reason})`,
        `check --server (or ${SERVER_ENV}) and that the server is running: curl ${this.opts.server}/healthz`,
      );
    }
  }

  /** An API request; a non-2xx answer becomes a ServerError carrying the server's detail. */
  async request(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body: unknown,
    ctx: RequestContext,
  ): Promise<ApiAnswer> {
    const url = `${this.opts.server}${path}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    // Reads too: tufbox's own read routes (alerts, roles) need a token; RSTUF's ignore it.
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`;
    const res = await this.#send(
      url,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
      ctx.what,
    );
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.status >= 200 && res.status < 300 && parsed !== undefined) return { status: res.status, body: parsed };
    throw this.#failure(method, path, res, parsed, ctx);
  }

  /**
   * A request with a body that is not JSON (artifact uploads: a file stream, a
   * multipart form); answers and failures as `request`. No timeout: an upload
   * of a large file takes as long as it takes.
   */
  async send(
    method: "PUT" | "POST",
    path: string,
    init: { body: RequestInit["body"]; headers?: Record<string, string> },
    ctx: RequestContext,
  ): Promise<ApiAnswer> {
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`;
    let res: Response;
    try {
      res = await this.#fetch(`${this.opts.server}${path}`, {
        method,
        headers,
        body: init.body,
        redirect: "manual",
        // Streamed request bodies need it (fetch standard).
        duplex: "half",
      } as RequestInit);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new ServerError(
        `cannot ${ctx.what}: ${this.opts.server} cannot be reached (${e.code ?? e.message ?? String(err)})`,
        `check --server (or ${SERVER_ENV}) and that the server is running: curl ${this.opts.server}/healthz`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.status >= 200 && res.status < 300 && parsed !== undefined) return { status: res.status, body: parsed };
    throw this.#failure(method, path, res, parsed, ctx);
  }

  #failure(method: string, path: string, res: Response, parsed: unknown, ctx: RequestContext): ServerError {
    const status = res.status;
    const route = `${method} ${path.split("?")[0]}`;
    const detail = isObject(parsed) ? parsed.detail : undefined;
    const text = detailText(detail);
    if (parsed === undefined) {
      const ok = status >= 200 && status < 300;
      return new ServerError(
        `cannot ${ctx.what}: ${route} answered HTTP ${status}${ok ? " without a JSON body" : ""}${status >= 300 && status < 400 ? ` (redirect to ${res.headers.get("location") ?? "?"})` : ""}`,
        `is ${this.opts.server} the tufbox / RSTUF API base URL? e.g. --server http://127.0.0.1:8080`,
        { status },
      );
    }
    if (status === 401 || status === 403) {
      const reason = text ?? "Unauthorized";
      const hint =
        this.opts.token === undefined
          ? `give a token with --token TOKEN or ${TOKEN_ENV} (the admin token is printed once when the server first started, or set with TUFBOX_ADMIN_TOKEN; tufbox token create makes scoped ones)`
          : status === 403
            ? "this token lacks the scope named above: use a token that has it (tufbox token create --scope …)"
            : `the server does not accept this token: check --token / ${TOKEN_ENV}`;
      return new ServerError(`cannot ${ctx.what}: the server refused the request (${status}): ${reason}`, hint, {
        status,
        detail,
      });
    }
    if (status === 422) {
      const issues = validationIssues(detail);
      return new ServerError(
        `cannot ${ctx.what}: the server rejected it (422): ${issues.length > 0 ? issues.join("; ") : (text ?? "invalid request")}`,
        ctx.hint422 ?? "fix the field named above and send again",
        { status, detail },
      );
    }
    if (status === 404) {
      return new ServerError(
        `cannot ${ctx.what}: ${text ?? `${route} not found`} (404)`,
        ctx.hint404 ?? `see the repository's state with: tufbox status --server ${this.opts.server}`,
        { status, detail },
      );
    }
    if (status === 405)
      return new ServerError(
        `cannot ${ctx.what}: the server does not offer ${route} (405)`,
        "the route may be disabled on this server (RSTUF_DISABLE_ENDPOINTS), or the server is not tufbox / RSTUF",
        { status, detail },
      );
    if (status === 413)
      return new ServerError(
        `cannot ${ctx.what}: ${text ?? "request too large"} (413)`,
        "send fewer items per request",
        { status, detail },
      );
    if (status === 429 || status === 503) {
      const wait = res.headers.get("retry-after");
      return new ServerError(
        `cannot ${ctx.what}: ${text ?? `HTTP ${status}`} (${status})`,
        wait ? `retry in ${wait} s` : "retry later",
        { status, detail },
      );
    }
    if (status >= 500)
      return new ServerError(
        `cannot ${ctx.what}: the server failed (${status}): ${text ?? "internal error"}`,
        "see the server's log; retry once it is fixed",
        { status, detail },
      );
    return new ServerError(
      `cannot ${ctx.what}: ${route} answered ${status}${text ? `: ${text}` : ""}`,
      `see the repository's state with: tufbox status --server ${this.opts.server}`,
      { status, detail },
    );
  }

  get(path: string, ctx: RequestContext): Promise<ApiAnswer> {
    return this.request("GET", path, undefined, ctx);
  }

  post(path: string, body: unknown, ctx: RequestContext): Promise<ApiAnswer> {
    return this.request("POST", path, body, ctx);
  }

  delete(path: string, ctx: RequestContext): Promise<ApiAnswer> {
    return this.request("DELETE", path, undefined, ctx);
  }

  /** A published metadata file as JSON; undefined when it does not exist (404). */
  async metadata(name: string): Promise<unknown> {
    const url = `${this.opts.metadataUrl}/${encodeURIComponent(name)}`;
    // Metadata may live on other storage that redirects (RSTUF): follow, without credentials.
    const res = await this.#send(
      url,
      { method: "GET", headers: { accept: "application/json" }, redirect: "follow" },
      `fetch ${name}`,
    );
    if (res.status === 404) {
      await res.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    const text = await res.text();
    if (res.status !== 200)
      throw new ServerError(
        `cannot fetch ${url}: HTTP ${res.status}`,
        `check --metadata-url (or ${METADATA_URL_ENV}); default is SERVER/metadata`,
        { status: res.status },
      );
    try {
      return JSON.parse(text);
    } catch {
      throw new ServerError(
        `${url} is not JSON`,
        `check --metadata-url (or ${METADATA_URL_ENV}): it must point at the published TUF metadata`,
      );
    }
  }

  async task(taskId: string): Promise<TaskData> {
    const r = await this.get(`/api/v1/task?task_id=${encodeURIComponent(taskId)}`, { what: `read task ${taskId}` });
    const data = isObject(r.body) && isObject(r.body.data) ? r.body.data : undefined;
    if (!data || typeof data.state !== "string")
      throw new ServerError(`GET /api/v1/task answered without data.state`, "is --server a tufbox / RSTUF API?", {
        detail: r.body,
      });
    return { task_id: taskId, state: data.state, result: isObject(data.result) ? (data.result as TaskResult) : null };
  }
}

/** An API client for a command's --server / --token / --metadata-url flags. */
export function apiClient(own: ParsedArgs["own"], term: Terminal, command: string, fetchFn?: typeof fetch): ApiClient {
  return new ApiClient(serverOptions(own, term, command), fetchFn);
}

/** `data.task_id` of a 202 answer. */
export function acceptedTaskId(answer: ApiAnswer, what: string): string {
  const id = isObject(answer.body) && isObject(answer.body.data) ? answer.body.data.task_id : undefined;
  if (typeof id !== "string" || id === "")
    throw new ServerError(
      `the server accepted the request to ${what} but gave no task id`,
      "is --server a tufbox / RSTUF API?",
      { detail: answer.body },
    );
  return id;
}

export interface TaskResult {
  task?: string;
  status?: boolean;
  message?: string;
  error?: string;
  last_update?: string;
  details?: Record<string, unknown> | null;
}

export interface TaskData {
  task_id: string;
  state: string;
  result: TaskResult | null;
}

// ------------------------------------------------------------------ running

/**
 * A `--server` command body: offline-layer errors become UsageErrors (exit
 * 2), ServerErrors stay (exit 1). With --json a ServerError is also written
 * to stdout as `{"error": …}` so scripts always get one document.
 */
export async function serverCommand(
  command: string,
  term: Terminal,
  json: () => boolean,
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } catch (err) {
    let e = err;
    if (err instanceof OfflineError) e = new UsageError(err.message, err.hint);
    else if (err instanceof TufError) e = new UsageError(err.message, `run 'tufbox ${command} --help'`);
    if (json() && (e instanceof UsageError || (e instanceof ServerError && !e.resultPrinted))) {
      const error: Record<string, unknown> = {
        message: e.message,
        hint: e.hint,
        exit_code: e instanceof ServerError ? 1 : 2,
      };
      if (e instanceof ServerError && e.status !== undefined) error.status = e.status;
      if (e instanceof ServerError && e.detail !== undefined) error.detail = e.detail;
      term.out(JSON.stringify({ error }, null, 2));
    }
    throw e;
  }
}

/**
 * For src/main.ts's COMMANDS map: a ServerError is printed as message + hint
 * and the process exits 1 (main.ts reports other errors itself: UsageError
 * → 2). The exit code is set when the process exits on its own, so stdout
 * (a --json document on a pipe) is flushed completely first.
 */
export function withServerErrors(
  command: string,
  run: (argv: string[]) => Promise<void>,
): (argv: string[]) => Promise<void> {
  return async (argv) => {
    try {
      await run(argv);
    } catch (err) {
      if (!(err instanceof ServerError)) throw err;
      process.stderr.write(`tufbox ${command}: ${err.message}\nhint: ${err.hint}\n`);
      process.once("exit", () => {
        process.exitCode = 1;
      });
    }
  };
}
