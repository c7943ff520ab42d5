/** tufbox as a child process (`bun src/main.ts …`), for tests that must kill it. */
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import { ONLINE_KEY_DIR } from "./fixtures.ts";
import { TOKEN } from "./server.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

export interface ServerProcess {
  proc: Subprocess;
  url: string;
  output(): string;
}

export async function spawnServer(
  dataDir: string,
  extraEnv: Record<string, string> = {},
  command = "serve",
  extraArgs: string[] = [],
): Promise<ServerProcess> {
  const proc = Bun.spawn(
    [
      "bun",
      MAIN,
      command,
      "--data-dir",
      dataDir,
      "--listen",
      "127.0.0.1:0",
      "--online-key-dir",
      ONLINE_KEY_DIR,
      ...extraArgs,
    ],
    {
      env: { ...process.env, TUFBOX_ADMIN_TOKEN: TOKEN, TUFBOX_LOG_FORMAT: "json", ...extraEnv },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let out = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out += decoder.decode(chunk);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) return { proc, url: m[1]!, output: () => out };
    if (proc.exitCode !== null) throw new Error(`tufbox exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`tufbox did not start in time:\n${out}`);
    }
    await Bun.sleep(20);
  }
}

export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

export async function waitTaskAt(url: string, taskId: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(url, "GET", `/api/v1/task?task_id=${taskId}`);
    const state = r.body?.data?.state;
    if (state === "SUCCESS" || state === "FAILURE" || state === "ERRORED") return r.body.data;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${state}`);
    await Bun.sleep(20);
  }
}
