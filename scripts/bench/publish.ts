/**
 * Publish throughput, end to end: artifacts accepted over HTTP → visible in
 * the served timestamp. With N existing artifacts and B bins.
 *   bun scripts/bench/publish.ts [--existing 1000000] [--bins 16384] [--measure 200000] [--per-request 1000] [--concurrency 4] [--phases] [--no-settle]
 * The measurement starts once the server holding the preloaded artifacts is
 * idle (its WAL checkpoints and collections after the import done, at most
 * 60 s); --no-settle starts it right after the preload's last task.
 * --phases: the server logs at debug level and each measured publication's
 * phases (read, build + sign, verify wait, commit, serve, CPU of all threads)
 * are printed and put into the JSON line: where the time went.
 */
import { rmSync } from "node:fs";
import {
  addAll,
  bootstrappedServer,
  flag,
  rssMiB,
  saveServerLog,
  timestampVersion,
  waitIdle,
  waitTaskAt,
} from "./lib.ts";

const existing = flag("existing", 1_000_000);
const bins = flag("bins", 16384);
const measure = flag("measure", 200_000);
const perRequest = flag("per-request", 1000);
const concurrency = flag("concurrency", 4);
const phases = process.argv.includes("--phases");
const settle = !process.argv.includes("--no-settle");

interface PublicationPhases {
  timestamp: number;
  changes: number;
  documents: number;
  read_ms: number;
  build_sign_ms: number;
  verify_wait_ms: number;
  commit_ms: number;
  serve_ms: number;
  cpu_ms: number;
}

/** The server's "published" debug lines for timestamps after `after`. */
function publicationsAfter(output: string, after: number): PublicationPhases[] {
  const found: PublicationPhases[] = [];
  for (const line of output.split("\n")) {
    if (!line.includes('"msg":"published"')) continue;
    const r = JSON.parse(line);
    if (r.timestamp > after) {
      const { timestamp, changes, documents, read_ms, build_sign_ms, verify_wait_ms, commit_ms, serve_ms, cpu_ms } = r;
      found.push({
        timestamp,
        changes,
        documents,
        read_ms,
        build_sign_ms,
        verify_wait_ms,
        commit_ms,
        serve_ms,
        cpu_ms,
      });
    }
  }
  return found;
}

/**
 * When the server gathered, took and published the measured changes, in ms
 * after the last request was accepted (server log times, same clock): what
 * the end-to-end figure spends besides acceptance and the publication itself.
 */
function timeline(output: string, startedAt: number, acceptedAt: number, visibleAt: number): string {
  const events: string[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    const r = JSON.parse(line);
    const at = Date.parse(r.time);
    if (at < startedAt || !["burst gathered", "batch taken", "published"].includes(r.msg)) continue;
    const detail =
      r.msg === "published" ? ` (${r.changes} changes)` : r.msg === "batch taken" ? ` (${r.take_ms} ms)` : "";
    events.push(`${r.msg}${detail} ${at - acceptedAt} ms`);
  }
  return `after the last accept: ${[...events, `seen by the client ${visibleAt - acceptedAt} ms`].join(", ")}`;
}

const { server, dataDir } = await bootstrappedServer(bins, phases ? { TUFBOX_LOG_LEVEL: "debug" } : {});
try {
  let t = performance.now();
  const preload = await addAll(server.url, "existing", 0, existing, 10_000, 2);
  for (const id of preload) await waitTaskAt(server.url, id, 600_000);
  const preloadS = (performance.now() - t) / 1000;
  console.log(
    `preloaded ${existing} artifacts into ${bins} bins in ${preloadS.toFixed(1)} s (${Math.round(existing / preloadS)}/s)`,
  );
  const settledMs = settle ? await waitIdle(server.proc.pid, 60_000) : 0;
  if (settle) console.log(`server idle ${(settledMs / 1000).toFixed(1)} s after the preload's last task`);

  const before = await timestampVersion(server.url);
  // The server's largest RSS from the first measured request until 5 s after the publication.
  let rssPeak = 0;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssMiB(server.proc.pid) || 0);
  }, 100);
  t = performance.now();
  const startedAt = Date.now();
  const tasks = await addAll(server.url, "measured", 0, measure, perRequest, concurrency);
  const acceptedS = (performance.now() - t) / 1000;
  const acceptedAt = Date.now();
  // The newest task first (the queue publishes oldest first), then every
  // other one at once: 200 polls one after another added ~0.2-0.4 s of
  // client round trips to a figure that is about the server.
  await waitTaskAt(server.url, tasks[tasks.length - 1]!, 600_000);
  await Promise.all(tasks.map((id) => waitTaskAt(server.url, id, 600_000)));
  const visibleS = (performance.now() - t) / 1000;
  const visibleAt = Date.now();
  const after = await timestampVersion(server.url);
  const rate = Math.round(measure / visibleS);
  console.log(
    `accepted ${measure} artifacts in ${acceptedS.toFixed(2)} s (${Math.round(measure / acceptedS)}/s over HTTP, ${perRequest} per request, ${concurrency} concurrent)`,
  );
  console.log(
    `all visible in the timestamp after ${visibleS.toFixed(2)} s: ${rate} artifacts/s end to end; timestamp ${before} → ${after} (${after - before} publishes)`,
  );
  const rssNow = rssMiB(server.proc.pid);
  // The server collects after a large publication; what it keeps once idle is the figure that lasts.
  await Bun.sleep(5000);
  const rssIdle = rssMiB(server.proc.pid);
  clearInterval(sampler);
  console.log(
    `server RSS ${rssNow} MiB right after, ${rssIdle} MiB 5 s later, at most ${rssPeak} MiB (sampled every 100 ms)`,
  );
  const publications = phases ? publicationsAfter(server.output(), before) : undefined;
  if (phases) console.log(timeline(server.output(), startedAt, acceptedAt, visibleAt));
  for (const p of publications ?? []) {
    console.log(
      `publication ${p.timestamp}: ${p.changes} changes, ${p.documents} documents; read ${p.read_ms} ms, build + sign ${p.build_sign_ms} ms, verify wait ${p.verify_wait_ms} ms, commit ${p.commit_ms} ms, serve ${p.serve_ms} ms; CPU ${p.cpu_ms} ms (all threads)`,
    );
  }
  console.log(
    JSON.stringify({
      bench: "publish",
      existing,
      bins,
      measured: measure,
      per_request: perRequest,
      concurrency,
      artifacts_per_s: rate,
      accept_per_s: Math.round(measure / acceptedS),
      publishes: after - before,
      preload_per_s: Math.round(existing / preloadS),
      settled_ms: settle ? settledMs : null,
      rss_mib: rssNow,
      rss_idle_mib: rssIdle,
      rss_peak_mib: rssPeak,
      ...(publications ? { publications } : {}),
    }),
  );
} finally {
  // TUFBOX_BENCH_LOG_LEVEL=debug TUFBOX_BENCH_SERVER_LOG=FILE: each publication's phases
  await saveServerLog(server, process.env.TUFBOX_BENCH_SERVER_LOG);
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
