/** Shared benchmark plumbing: a real tufbox server process, bootstrapped from the RSTUF fixture. */
import { readdirSync, readFileSync } from "node:fs";
import { binsPayload } from "../../test/helpers/fixtures.ts";
import { call, spawnServer, waitTaskAt, type ServerProcess } from "../../test/helpers/process.ts";
import { tempDir } from "../../test/helpers/server.ts";

export { call, waitTaskAt };

export function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

export async function bootstrappedServer(
  bins: number,
  env: Record<string, string> = {},
): Promise<{ server: ServerProcess; dataDir: string }> {
  const dataDir = tempDir("tufbox-bench-");
  // TUFBOX_BENCH_LOG_LEVEL=debug: the server logs each publication's phases (see benchLog)
  const level = process.env.TUFBOX_BENCH_LOG_LEVEL ?? "warn";
  const server = await spawnServer(dataDir, { TUFBOX_LOG_LEVEL: level, ...env });
  const r = await call(server.url, "POST", "/api/v1/bootstrap", binsPayload(bins));
  if (r.status !== 202) throw new Error(`bootstrap refused: ${JSON.stringify(r.body)}`);
  await waitTaskAt(server.url, r.body.data.task_id, 120_000);
  return { server, dataDir };
}

export function artifacts(prefix: string, from: number, count: number) {
  const out = [];
  for (let i = from; i < from + count; i++) {
    out.push({
      path: `${prefix}/pkg-${i}/pkg-${i}.tar.gz`,
      info: { length: 1000 + (i % 977), hashes: { sha256: i.toString(16).padStart(8, "0").repeat(8) } },
    });
  }
  return out;
}

export async function timestampVersion(url: string): Promise<number> {
  const r = await fetch(`${url}/metadata/timestamp.json`);
  return ((await r.json()) as any).signed.version;
}

/** Send `total` artifacts in requests of `perRequest`, `concurrency` at a time; returns task ids. */
export async function addAll(
  url: string,
  prefix: string,
  start: number,
  total: number,
  perRequest: number,
  concurrency: number,
): Promise<string[]> {
  const tasks: string[] = [];
  let next = start;
  const end = start + total;
  const worker = async () => {
    while (next < end) {
      const from = next;
      const n = Math.min(perRequest, end - from);
      next += n;
      const r = await call(url, "POST", "/api/v1/artifacts", { artifacts: artifacts(prefix, from, n) });
      if (r.status !== 202) throw new Error(`add refused: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      tasks.push(r.body.data.task_id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tasks;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** User + system CPU (ms) in a /proc `stat` line, of a process or of one thread. */
function statCpuMs(stat: string): number {
  const ticksPerS = 100; // USER_HZ on Linux
  // fields after the parenthesised name: utime and stime are the 14th and 15th overall
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerS;
}

/** CPU time (user + system, all threads) of process `pid` in ms, from /proc; NaN elsewhere. */
export function processCpuMs(pid: number): number {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return Number.NaN;
  }
}

/**
 * Wait until process `pid` is idle: under 5% of a core for two half-second
 * samples in a row (a large import leaves WAL checkpoints and collections
 * running for a while), at most `maxMs`. Returns the ms waited.
 */
export async function waitIdle(pid: number, maxMs: number): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  let last = processCpuMs(pid);
  if (Number.isNaN(last)) return 0;
  while (quiet < 2 && performance.now() - started < maxMs) {
    await Bun.sleep(500);
    const now = processCpuMs(pid);
    quiet = now - last < 25 ? quiet + 1 : 0;
    last = now;
  }
  return Math.round(performance.now() - started);
}

export function rssMiB(pid: number): number {
  try {
    const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Start a server on an existing data directory and time, from just before the
 * process is spawned: the listening socket, the first 200 for timestamp.json,
 * and the first accepted (202) write. The caller stops the returned server.
 */
export async function timeRestart(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ server: ServerProcess; listeningMs: number; timestampMs: number; writeMs: number }> {
  const t0 = performance.now();
  const server = await spawnServer(dataDir, { TUFBOX_LOG_LEVEL: "warn", ...env });
  const listeningMs = performance.now() - t0;
  let timestampMs = Number.NaN;
  for (;;) {
    const r = await fetch(`${server.url}/metadata/timestamp.json`).catch(() => undefined);
    if (r?.status === 200) {
      await r.arrayBuffer();
      timestampMs = performance.now() - t0;
      break;
    }
    if (performance.now() - t0 > 60_000) throw new Error("timestamp.json not served within 60 s of a restart");
    await Bun.sleep(2);
  }
  let writeMs = Number.NaN;
  for (;;) {
    const r = await call(server.url, "POST", "/api/v1/artifacts", { artifacts: artifacts("restart", 0, 1) });
    if (r.status === 202) {
      writeMs = performance.now() - t0;
      break;
    }
    if (performance.now() - t0 > 60_000) throw new Error(`no write accepted within 60 s of a restart (${r.status})`);
    await Bun.sleep(2);
  }
  return { server, listeningMs, timestampMs, writeMs };
}

/** The server's warnings, errors and (with TUFBOX_BENCH_LOG_LEVEL=debug) publication log lines (JSON) go to `file`. */
export async function saveServerLog(server: ServerProcess, file: string | undefined): Promise<void> {
  if (!file) return;
  const lines = server
    .output()
    .split("\n")
    .filter((l) => /"level":"(warn|error)"|"msg":"published"/.test(l));
  await Bun.write(file, `${lines.join("\n")}\n`);
}

/**
 * CPU time (ms) of each thread of this process, by thread id, from
 * /proc/self/task (Linux; empty elsewhere): which core's work a figure is
 * (the main thread, the verification worker, the checkpointer, JIT and GC helpers).
 */
export function threadCpuMs(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      out.set(tid, { name, ms: statCpuMs(stat) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Per-thread CPU since `before` (threadCpuMs), busiest first, threads that used none left out. */
export function threadCpuSince(before: Map<string, { name: string; ms: number }>): { name: string; ms: number }[] {
  return [...threadCpuMs()]
    .map(([tid, t]) => ({ name: t.name, ms: Math.round(t.ms - (before.get(tid)?.ms ?? 0)) }))
    .filter((t) => t.ms > 0)
    .sort((a, b) => b.ms - a.ms);
}
