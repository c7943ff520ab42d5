/**
 * Restart with a large repository: from process start to timestamp.json
 * served (target ≤ 1 s) and to the first accepted write (≤ 5 s).
 *   bun scripts/bench/restart.ts [--existing 1000000] [--bins 16384] [--runs 3]
 *   bun scripts/bench/restart.ts --from DIR   (a copy of a data directory, e.g. one saved by profile-publish.ts --save)
 */
import { cpSync, rmSync } from "node:fs";
import { tempDir } from "../../test/helpers/server.ts";
import { addAll, bootstrappedServer, flag, rssMiB, timeRestart, waitTaskAt } from "./lib.ts";

const existing = flag("existing", 1_000_000);
const bins = flag("bins", 16384);
const runs = flag("runs", 3);
const fromAt = process.argv.indexOf("--from");
const from = fromAt >= 0 ? process.argv[fromAt + 1] : undefined;

let dataDir: string;
if (from) {
  dataDir = tempDir("tufbox-bench-");
  cpSync(from, dataDir, { recursive: true });
} else {
  const b = await bootstrappedServer(bins);
  dataDir = b.dataDir;
  const preload = await addAll(b.server.url, "existing", 0, existing, 10_000, 2);
  for (const id of preload) await waitTaskAt(b.server.url, id, 600_000);
  b.server.proc.kill("SIGTERM");
  await b.server.proc.exited;
}
try {
  const results: { listeningMs: number; timestampMs: number; writeMs: number; rss: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await timeRestart(dataDir);
    results.push({ ...r, rss: rssMiB(r.server.proc.pid) });
    r.server.proc.kill("SIGTERM");
    await r.server.proc.exited;
    console.log(
      `restart ${i + 1}: listening after ${r.listeningMs.toFixed(0)} ms, timestamp.json served after ${r.timestampMs.toFixed(0)} ms, first write accepted after ${r.writeMs.toFixed(0)} ms (from process start); RSS ${results.at(-1)!.rss} MiB`,
    );
  }
  const median = (k: "timestampMs" | "writeMs" | "listeningMs") =>
    Math.round(results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)]!);
  console.log(
    JSON.stringify({
      bench: "restart",
      from: from ?? null,
      existing: from ? null : existing,
      bins: from ? null : bins,
      runs,
      listening_ms: median("listeningMs"),
      timestamp_ms: median("timestampMs"),
      write_ms: median("writeMs"),
      rss_mib: results.at(-1)!.rss,
    }),
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
