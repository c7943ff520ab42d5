/**
 * Bootstrap time with 16384 bins (sign + verify + commit 16388 documents),
 * in process, from an accepted payload to a published timestamp.
 *   bun scripts/bench/bootstrap.ts [--bins 16384] [--runs 3]
 */
import { rmSync } from "node:fs";
import { binsPayload } from "../../test/helpers/fixtures.ts";
import { startTestServer } from "../../test/helpers/server.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import { waitForBootstrap } from "../../src/cli/quickstart.ts";
import { flag } from "./lib.ts";

const bins = flag("bins", 16384);
const runs = flag("runs", 3);
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const s = await startTestServer();
  try {
    const payload = parseBootstrapPayload(binsPayload(bins));
    const t = performance.now();
    const { taskId } = await s.app.repo.acceptBootstrap(payload);
    await waitForBootstrap(s.app.repo, s.app.store, taskId);
    times.push(performance.now() - t);
    const ts = await fetch(`${s.url}/metadata/timestamp.json`);
    if (ts.status !== 200) throw new Error("timestamp not served after bootstrap");
  } finally {
    await s.stop();
    rmSync(s.dataDir, { recursive: true, force: true });
  }
}
times.sort((a, b) => a - b);
console.log(
  `bootstrap of ${bins} bins: ${times.map((t) => `${t.toFixed(0)} ms`).join(", ")} (best ${times[0]!.toFixed(0)} ms)`,
);
console.log(
  JSON.stringify({
    bench: "bootstrap",
    bins,
    runs,
    best_ms: Math.round(times[0]!),
    median_ms: Math.round(times[Math.floor(times.length / 2)]!),
  }),
);
