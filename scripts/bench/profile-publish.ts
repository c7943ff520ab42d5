/**
 * The publisher in this process, for profiling (no HTTP client in the way):
 *   bun --cpu-prof-md --cpu-prof-dir=/tmp/prof scripts/bench/profile-publish.ts [--existing 200000] [--bins 16384] [--measure 50000] [--per-request 1000]
 * Bootstraps, preloads `existing` artifacts, then accepts `measure` more in
 * requests of `per-request` and waits until the publisher is idle. Prints the
 * phases, RSS, CPU time and the JS heap, and one JSON line.
 *
 * Preloading 1M artifacts takes minutes on a busy machine: `--save DIR`
 * keeps a copy of the preloaded data directory, `--from DIR` starts the
 * measurement from a copy of one (bootstrap and preload skipped).
 */
import { cpSync, rmSync } from "node:fs";
import { heapStats } from "bun:jsc";
import { binsPayload } from "../../test/helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../../test/helpers/server.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import type { AddArtifactsPayload } from "../../src/repository/payloads.ts";
import { waitForBootstrap } from "../../src/cli/quickstart.ts";
import { artifacts, flag, threadCpuMs, threadCpuSince } from "./lib.ts";

const existing = flag("existing", 200_000);
const bins = flag("bins", 16384);
const measure = flag("measure", 50_000);
const perRequest = flag("per-request", 1000);
const textFlag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const saveTo = textFlag("save");
const from = textFlag("from");

const addPayload = (list: ReturnType<typeof artifacts>): AddArtifactsPayload => ({
  artifacts: list,
  addTaskIdToCustom: false,
  publish: true,
});
const mib = (n: number) => Math.round(n / 1048576);
const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

const dataDir = tempDir();
if (from) cpSync(from, dataDir, { recursive: true });
let s: TestServer = await startTestServer({ dataDir, env: { TUFBOX_LOG_LEVEL: "warn" } });
try {
  const add = async (prefix: string, total: number, per: number) => {
    for (let i = 0; i < total; i += per) {
      await s.app.repo.acceptAdd(addPayload(artifacts(prefix, i, Math.min(per, total - i))));
    }
    await s.app.publisher.idle();
  };
  if (!from) {
    let t = performance.now();
    const { taskId } = await s.app.repo.acceptBootstrap(parseBootstrapPayload(binsPayload(bins)));
    await waitForBootstrap(s.app.repo, s.app.store, taskId);
    console.log(`bootstrap ${bins} bins: ${(performance.now() - t).toFixed(0)} ms`);
    t = performance.now();
    await add("existing", existing, 10_000);
    console.log(`preload ${existing}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if (saveTo) {
      await s.stop();
      rmSync(saveTo, { recursive: true, force: true });
      cpSync(dataDir, saveTo, { recursive: true });
      console.log(`preloaded data directory saved in ${saveTo}`);
      s = await startTestServer({ dataDir, env: { TUFBOX_LOG_LEVEL: "warn" } });
    }
  }
  Bun.gc(true);
  const threads0 = threadCpuMs();
  const batchesBefore = s.app.publisher.batches;
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await add("measured", measure, perRequest);
  const secs = (performance.now() - t) / 1000;
  const cpu = cpuS(process.cpuUsage(cpu0));
  const threads = threadCpuSince(threads0);
  const rate = Math.round(measure / secs);
  // Which thread the CPU went to: the main thread (accepting, building, signing, the SQLite
  // commit), the verification worker, the WAL checkpointer ("Worker"), JIT and GC helpers.
  console.log(`CPU by thread: ${threads.map((t) => `${t.name} ${(t.ms / 1000).toFixed(2)} s`).join(", ")}`);
  const peakRss = process.memoryUsage().rss;
  Bun.gc(true);
  const heap = heapStats();
  const rss = process.memoryUsage().rss;
  console.log(
    `measured ${measure} in ${secs.toFixed(2)} s = ${rate}/s, ${s.app.publisher.batches - batchesBefore} batches; CPU ${cpu.toFixed(1)} s (${Math.round(measure / cpu)} artifacts per CPU-second, all threads)`,
  );
  console.log(
    `RSS ${mib(peakRss)} MiB before GC, ${mib(rss)} MiB after; heap ${mib(heap.heapSize)} MiB, extra ${mib(heap.extraMemorySize)} MiB`,
  );
  const top = Object.entries(heap.objectTypeCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12);
  console.log(`heap objects: ${top.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log(
    JSON.stringify({
      bench: "profile-publish",
      existing,
      bins,
      measured: measure,
      artifacts_per_s: rate,
      cpu_s: Math.round(cpu * 10) / 10,
      artifacts_per_cpu_s: Math.round(measure / cpu),
      rss_mib: mib(rss),
      heap_mib: mib(heap.heapSize),
      thread_cpu_ms: threads,
    }),
  );
} finally {
  await s.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
