/**
 * Disk under a steady load: single-artifact adds at a fixed rate for N
 * minutes, store size reported over time. Retention deletes superseded
 * metadata versions once every snapshot/timestamp that could point to them
 * expired plus retention.grace_hours; so that this shows in minutes, the
 * retention clock runs `--speedup` times faster than real time (1440: a day
 * per minute), and the grace is short. Expect the size to grow for about
 * (snapshot expiry + grace) / speedup, then stay flat.
 *   bun scripts/bench/soak.ts [--minutes 4] [--rate 50] [--bins 256] [--speedup 1440] [--grace-hours 2.4]
 */
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { binsPayload } from "../../test/helpers/fixtures.ts";
import { startTestServer } from "../../test/helpers/server.ts";
import { artifacts, call, flag } from "./lib.ts";
import { type Clock, SystemClock } from "../../src/clock.ts";

const minutes = flag("minutes", 4);
const rate = flag("rate", 50);
const bins = flag("bins", 256);
const speedup = flag("speedup", 1440);
const graceHours = flag("grace-hours", 2.4);

const started = Date.now();
/** Wall time running `speedup` times faster; timers in real time. */
class FastClock implements Clock {
  readonly #system = new SystemClock();
  now(): number {
    return started + (Date.now() - started) * speedup;
  }
  setTimer(ms: number, fn: () => void) {
    return this.#system.setTimer(ms, fn);
  }
  onJump(listener: (deltaMs: number) => void) {
    return this.#system.onJump(listener);
  }
}
const s = await startTestServer({
  env: { TUFBOX_LOG_LEVEL: "warn", TUFBOX_RETENTION_GRACE_HOURS: String(graceHours) },
  clock: new FastClock(),
});
const fileBytes = () => {
  let n = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      n += statSync(join(s.dataDir, `tufbox.db${suffix}`)).size;
    } catch {}
  }
  return n;
};
try {
  const boot = await call(s.url, "POST", "/api/v1/bootstrap", binsPayload(bins));
  await s.waitTask(boot.body.data.task_id, 120_000);
  const samples: { s: number; artifacts: number; versions: number; stored_bytes: number; file_bytes: number }[] = [];
  const total = Math.round(rate * minutes * 60);
  const t0 = performance.now();
  let sent = 0;
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  let nextSample = 0;
  while (sent < total) {
    const due = t0 + (sent * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const i = sent++;
    const p = call(s.url, "POST", "/api/v1/artifacts", { artifacts: artifacts("soak", i, 1) }).then((r) => {
      if (r.status !== 202) failed++;
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    const elapsed = (performance.now() - t0) / 1000;
    if (elapsed >= nextSample) {
      nextSample += 10;
      await s.app.scheduler.runNow("prune-metadata");
      const stats = await s.app.store.documentStats();
      const sample = {
        s: Math.round(elapsed),
        artifacts: await s.app.store.countArtifacts(),
        versions: stats.documents,
        stored_bytes: stats.bytes,
        file_bytes: fileBytes(),
      };
      samples.push(sample);
      console.log(
        `${String(sample.s).padStart(4)} s  artifacts ${sample.artifacts}  versions ${sample.versions}  stored ${(sample.stored_bytes / 1048576).toFixed(1)} MiB  files ${(sample.file_bytes / 1048576).toFixed(1)} MiB  (retention clock +${(((Date.now() - started) * speedup) / 3_600_000) | 0} h)`,
      );
    }
  }
  await Promise.all(inflight);
  // Flat = the last third of the run stays within 15% of its own mean.
  const tail = samples.slice(Math.floor((samples.length * 2) / 3));
  const mean = tail.reduce((n, x) => n + x.stored_bytes, 0) / tail.length;
  const spread = Math.max(...tail.map((x) => Math.abs(x.stored_bytes - mean) / mean));
  console.log(
    `${total} adds at ${rate}/s into ${bins} bins over ${minutes} min (${failed} refused); pruned ${s.app.scheduler.pruned.versions} versions (${(s.app.scheduler.pruned.bytes / 1048576).toFixed(1)} MiB); last third within ±${(spread * 100).toFixed(1)}% of its mean`,
  );
  console.log(
    JSON.stringify({
      bench: "soak",
      minutes,
      rate,
      bins,
      speedup,
      grace_hours: graceHours,
      pruned_versions: s.app.scheduler.pruned.versions,
      flat: spread <= 0.15,
      tail_spread: +spread.toFixed(3),
      samples,
    }),
  );
} finally {
  await s.stop();
  rmSync(s.dataDir, { recursive: true, force: true });
}
