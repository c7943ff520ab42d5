/**
 * Single-artifact add → visible in the timestamp, at a steady request rate.
 *   bun scripts/bench/latency.ts [--rate 50] [--seconds 20] [--bins 16384] [--existing 100000]
 * "Visible" = the task reports SUCCESS, which the publisher writes in the same
 * transaction as the timestamp that lists the artifact; a sample of requests
 * is also checked against the served timestamp version.
 */
import { rmSync } from "node:fs";
import {
  addAll,
  artifacts,
  bootstrappedServer,
  call,
  flag,
  percentile,
  saveServerLog,
  timestampVersion,
  waitTaskAt,
} from "./lib.ts";

const rate = flag("rate", 50);
const seconds = flag("seconds", 20);
const bins = flag("bins", 16384);
const existing = flag("existing", 100_000);
/** seconds between the preload's last task and the first measured add (0: start at once) */
const settle = flag("settle", 0);

const { server, dataDir } = await bootstrappedServer(bins);
try {
  const preload = await addAll(server.url, "existing", 0, existing, 10_000, 2);
  for (const id of preload) await waitTaskAt(server.url, id, 600_000);
  if (settle > 0) await Bun.sleep(settle * 1000);
  const latencies: number[] = [];
  const clientCpu0 = process.cpuUsage();
  let stale = 0;
  const total = rate * seconds;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    inflight.push(
      (async () => {
        const t0 = performance.now();
        const versionBefore = i % 10 === 0 ? await timestampVersion(server.url) : 0;
        const r = await call(server.url, "POST", "/api/v1/artifacts", { artifacts: artifacts("latency", i, 1) });
        if (r.status !== 202) throw new Error(`refused: ${r.status}`);
        const id = r.body.data.task_id;
        for (;;) {
          const t = await call(server.url, "GET", `/api/v1/task?task_id=${id}`);
          if (t.body.data.state === "SUCCESS") break;
          await Bun.sleep(1);
        }
        latencies.push(performance.now() - t0);
        if (i % 10 === 0 && (await timestampVersion(server.url)) <= versionBefore) stale++;
      })(),
    );
  }
  await Promise.all(inflight);
  const clientCpu = process.cpuUsage(clientCpu0);
  const clientCpuS = (clientCpu.user + clientCpu.system) / 1e6;
  const runS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(
    `${total} single-artifact adds at ${rate}/s into ${bins} bins with ${existing} existing: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms; sampled timestamps not advanced: ${stale}; this client used ${clientCpuS.toFixed(1)} s CPU in ${runS.toFixed(1)} s`,
  );
  console.log(
    JSON.stringify({
      bench: "latency",
      rate,
      requests: total,
      bins,
      existing,
      settle_s: settle,
      p50_ms: +p50.toFixed(1),
      p99_ms: +p99.toFixed(1),
      max_ms: +latencies.at(-1)!.toFixed(1),
      stale_samples: stale,
      client_cpu_s: +clientCpuS.toFixed(1),
    }),
  );
} finally {
  await saveServerLog(server, process.env.TUFBOX_BENCH_SERVER_LOG);
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
