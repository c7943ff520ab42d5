/**
 * The publisher in this process, for profiling (no HTTP client in the way):
 *   bun --cpu-prof-md --cpu-prof-dir=/tmp/prof scripts/bench/profile-publish.ts [--existing 200000] [--bins 16384] [--measure 50000] [--per-request 1000]
 * Bootstraps, preloads `existing` artifacts, then accepts `measure` more in
 * requests of `per-request` and waits until the publisher is idle. Prints the
 * phases, RSS and the JS heap, and one JSON line.
 */
import { rmSync } from "node:fs";
import { heapStats } from "bun:jsc";
import { binsPayload } from "../../test/helpers/fixtures.ts";
import { startTestServer } from "../../test/helpers/server.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import type { AddArtifactsPayload } from "../../src/repository/payloads.ts";
import { waitForBootstrap } from "../../src/cli/quickstart.ts";
import { artifacts, flag } from "./lib.ts";

const existing = flag("existing", 200_000);
const bins = flag("bins", 16384);
const measure = flag("measure", 50_000);
const perRequest = flag("per-request", 1000);

const addPayload = (list: ReturnType<typeof artifacts>): AddArtifactsPayload => ({
  artifacts: list,
  addTaskIdToCustom: false,
  publish: true,
});
const mib = (n: number) => Math.round(n / 1048576);
const s = await startTestServer({ env: { TUFBOX_LOG_LEVEL: "warn" } });
try {
  const repo = s.app.repo;
  let t = performance.now();
  const { taskId } = await repo.acceptBootstrap(parseBootstrapPayload(binsPayload(bins)));
  await waitForBootstrap(repo, s.app.store, taskId);
  console.log(`bootstrap ${bins} bins: ${(performance.now() - t).toFixed(0)} ms`);

  const add = async (prefix: string, total: number, per: number) => {
    for (let i = 0; i < total; i += per) {
      await repo.acceptAdd(addPayload(artifacts(prefix, i, Math.min(per, total - i))));
    }
    await s.app.publisher.idle();
  };
  t = performance.now();
  await add("existing", existing, 10_000);
  console.log(`preload ${existing}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  Bun.gc(true);
  const batchesBefore = s.app.publisher.batches;
  t = performance.now();
  await add("measured", measure, perRequest);
  const secs = (performance.now() - t) / 1000;
  const rate = Math.round(measure / secs);
  Bun.gc(true);
  const heap = heapStats();
  const rss = process.memoryUsage().rss;
  console.log(
    `measured ${measure} in ${secs.toFixed(2)} s = ${rate}/s, ${s.app.publisher.batches - batchesBefore} batches; RSS ${mib(rss)} MiB, heap ${mib(heap.heapSize)} MiB, extra ${mib(heap.extraMemorySize)} MiB`,
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
      rss_mib: mib(rss),
      heap_mib: mib(heap.heapSize),
    }),
  );
} finally {
  await s.stop();
  rmSync(s.dataDir, { recursive: true, force: true });
}
