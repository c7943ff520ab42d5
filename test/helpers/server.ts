/**
 * A real tufbox server for tests: real SQLite file in a fresh temp dir, real
 * HTTP on a free 127.0.0.1 port, in this process (for scheduler/publisher
 * access) — or as a child process where a test must kill it.
 */
import { rmSync } from "node:fs";
import { loadConfig } from "../../src/config.ts";
import { createApp, startApp } from "../../src/app.ts";
import type { RunningApp } from "../../src/core.ts";
import { createLogger, silentLogger } from "../../src/log.ts";
import { ONLINE_KEY_DIR } from "./fixtures.ts";
import { tempDir } from "./temp.ts";
import type { Clock } from "../../src/clock.ts";

export const TOKEN = "test-admin-token-0123456789";

export interface TestServer {
  app: RunningApp;
  url: string;
  dataDir: string;
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  waitTask(taskId: string, timeoutMs?: number): Promise<any>;
  stop(): Promise<void>;
}

export { tempDir } from "./temp.ts";

export interface TestServerOptions {
  dataDir?: string;
  flags?: Record<string, string | boolean>;
  env?: Record<string, string>;
  /** when given, every log line (JSON, debug level) is appended here instead of being dropped */
  logLines?: string[];
  /** the App's clock (default: the system clock) */
  clock?: Clock;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const config = loadConfig({
    flags: { "data-dir": dataDir, listen: "127.0.0.1:0", "online-key-dir": ONLINE_KEY_DIR, ...opts.flags },
    env: { TUFBOX_ADMIN_TOKEN: TOKEN, TUFBOX_PUBLISHER_LINGER_MS: "2", ...opts.env },
  });
  const lines = opts.logLines;
  const log = lines
    ? createLogger({ level: "debug", format: "json", write: (line) => void lines.push(line) })
    : process.env.TUFBOX_TEST_LOG
      ? createLogger({ level: "debug", format: "text" })
      : silentLogger();
  const app = await startApp(await createApp(config, log, { clock: opts.clock }));
  const url = app.url;
  const api: TestServer["api"] = async (method, path, body, headers = {}) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  const waitTask = async (taskId: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await api("GET", `/api/v1/task?task_id=${taskId}`);
      const state = r.body?.data?.state;
      if (state === "SUCCESS" || state === "FAILURE" || state === "ERRORED") return r.body.data;
      if (Date.now() > deadline) throw new Error(`task ${taskId} still ${state} after ${timeoutMs} ms`);
      await Bun.sleep(10);
    }
  };
  return {
    app,
    url,
    dataDir,
    api,
    waitTask,
    async stop() {
      await app.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
