/**
 * Re-binning online at scale: a repository of N artifacts in B bins resized
 * to T bins over POST /api/v1/bins, while a writer keeps adding artifacts
 * (one request of 100 every 200 ms) — how long the resize takes, what the
 * server's RSS reaches, and whether every add during it was published.
 *   bun scripts/bench/resize.ts [--existing 1000000] [--bins 256] [--to 16384] [--keep-adding 1]
 *
 * The repository is built quickly: artifacts accepted with
 * publish_artifacts: false (no publication per request), then one publish
 * request (batches of publisher.max_batch).
 */
import { rmSync } from "node:fs";
import { artifacts, bootstrappedServer, call, flag, percentile, rssMiB, timestampVersion, waitTaskAt } from "./lib.ts";

const existing = flag("existing", 1_000_000);
const bins = flag("bins", 256);
const to = flag("to", 16384);
const keepAdding = flag("keep-adding", 1) === 1;

const { server, dataDir } = await bootstrappedServer(bins);
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, rssMiB(server.proc.pid));
}, 250);
try {
  let t = performance.now();
  const perRequest = 10_000;
  let next = 0;
  const holder = async () => {
    while (next < existing) {
      const from = next;
      const n = Math.min(perRequest, existing - from);
      next += n;
      const r = await call(server.url, "POST", "/api/v1/artifacts", {
        artifacts: artifacts("existing", from, n),
        publish_artifacts: false,
      });
      if (r.status !== 202) throw new Error(`add refused: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
  };
  await Promise.all([holder(), holder()]);
  const publish = await call(server.url, "POST", "/api/v1/artifacts/publish");
  await waitTaskAt(server.url, publish.body.data.task_id, 3_600_000);
  const buildS = (performance.now() - t) / 1000;
  console.log(`built ${existing} artifacts in ${bins} bins in ${buildS.toFixed(1)} s`);
  const rssBefore = rssMiB(server.proc.pid);
  peakRss = rssBefore;
  const tsBefore = await timestampVersion(server.url);

  // A writer that keeps adding while the resize runs.
  let writing = keepAdding;
  const during: string[] = [];
  const acceptMs: number[] = [];
  let added = 0;
  const writer = (async () => {
    let i = 0;
    while (writing) {
      const t0 = performance.now();
      const r = await call(server.url, "POST", "/api/v1/artifacts", { artifacts: artifacts("during", i, 100) });
      acceptMs.push(performance.now() - t0);
      if (r.status !== 202) throw new Error(`add during the resize refused: ${r.status}`);
      during.push(r.body.data.task_id);
      i += 100;
      added += 100;
      await Bun.sleep(200);
    }
  })();

  t = performance.now();
  const r = await call(server.url, "POST", "/api/v1/bins", { number_of_delegated_bins: to });
  if (r.status !== 202) throw new Error(`resize refused: ${r.status} ${JSON.stringify(r.body)}`);
  const task = await waitTaskAt(server.url, r.body.data.task_id, 3_600_000);
  const resizeS = (performance.now() - t) / 1000;
  if (task.state !== "SUCCESS") throw new Error(`resize ${task.state}: ${JSON.stringify(task.result)}`);
  writing = false;
  await writer;
  let failed = 0;
  for (const id of during) if ((await waitTaskAt(server.url, id, 600_000)).state !== "SUCCESS") failed++;
  const tsAfter = await timestampVersion(server.url);
  const d = task.result.details;
  const ts = (await (await fetch(`${server.url}/metadata/timestamp.json`)).json()) as any;
  const snapshotBytes = ts.signed.meta["snapshot.json"].length;
  const bin = await fetch(`${server.url}/metadata/1.bins-0000.json`);
  const binBytes = (await bin.arrayBuffer()).byteLength;
  console.log(
    `resized ${bins} → ${to} bins with ${existing} artifacts in ${resizeS.toFixed(1)} s (task ${d.ms} ms; ${d.moved_artifacts} moved, ${d.documents} documents in one publication)`,
  );
  console.log(
    `while resizing: ${added} artifacts added in ${during.length} requests, ${failed} failed; timestamp ${tsBefore} → ${tsAfter}`,
  );
  acceptMs.sort((a, b) => a - b);
  const p50 = percentile(acceptMs, 50);
  const maxAccept = acceptMs.at(-1) ?? NaN;
  console.log(
    `an add of 100 during the resize was answered 202 in p50 ${p50.toFixed(0)} ms, max ${maxAccept.toFixed(0)} ms (SQLite commits hold the event loop)`,
  );
  console.log(
    `phases: reading the old bins ${d.read_ms} ms, building, signing and committing the publication ${d.published_ms - d.read_ms} ms (visible to clients at ${d.published_ms} ms), moving the artifact rows ${d.ms - d.published_ms} ms`,
  );
  console.log(
    `server RSS ${rssBefore} MiB before, peak ${peakRss} MiB; snapshot ${snapshotBytes} bytes, bins-0000 ${binBytes} bytes`,
  );
  console.log(
    JSON.stringify({
      bench: "resize",
      existing,
      from: bins,
      to,
      resize_s: Number(resizeS.toFixed(2)),
      task_ms: d.ms,
      moved: d.moved_artifacts,
      documents: d.documents,
      added_during: added,
      failed_during: failed,
      accept_p50_ms: Math.round(p50),
      accept_max_ms: Math.round(maxAccept),
      read_ms: d.read_ms,
      published_ms: d.published_ms,
      build_s: Number(buildS.toFixed(1)),
      rss_before_mib: rssBefore,
      rss_peak_mib: peakRss,
      snapshot_bytes: snapshotBytes,
      bin_bytes: binBytes,
    }),
  );
} finally {
  clearInterval(sampler);
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
