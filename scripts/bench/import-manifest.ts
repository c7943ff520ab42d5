/**
 * `tufbox import --manifest` of many artifact entries (default 1,000,000)
 * into a repository with 16384 hash bins, end to end: from the start of the
 * command until every task is done (published in the timestamp). RSTUF
 * documents ~55 minutes for the same count; the target here is <= 60 s.
 *   bun scripts/bench/import-manifest.ts [--count 1000000] [--bins 16384] [--batch 10000] [--jobs 4] [--one-publication 1]
 * Prints figures and one JSON line. Noisy on a shared 2-core machine.
 */
import { rmSync, openSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { importCommand } from "../../src/cli/import.ts";
import type { ServerTerminal } from "../../src/cli/output.ts";
import { TOKEN, tempDir } from "../../test/helpers/server.ts";
import { bootstrappedServer, flag, rssMiB, timestampVersion } from "./lib.ts";

const count = flag("count", 1_000_000);
const bins = flag("bins", 16384);
const batch = flag("batch", 10_000);
const jobs = flag("jobs", 4);
// --one-publication 1: hold every entry, publish at the end (the publisher still takes
// publisher.max_batch per publication: one batch of 1M holds SQLite's writer, and with it
// the event loop, for minutes on a 2-core machine).
const onePublication = flag("one-publication", 0) === 1;

const work = tempDir("tufbox-bench-manifest-");
const manifest = join(work, "artifacts.jsonl");
const fd = openSync(manifest, "w");
let chunk = "";
for (let i = 0; i < count; i++) {
  chunk += `{"path":"pkgs/p${i % 5000}/pkg-${i}.tar.gz","length":${1000 + (i % 977)},"hashes":{"sha256":"${i.toString(16).padStart(8, "0").repeat(8)}"}}\n`;
  if (chunk.length > 1 << 20) {
    writeSync(fd, chunk);
    chunk = "";
  }
}
writeSync(fd, chunk);
closeSync(fd);

const { server, dataDir } = await bootstrappedServer(bins, {
  TUFBOX_MAX_BODY_BYTES: "64MiB",
  TUFBOX_MAX_ARTIFACTS_PER_REQUEST: String(Math.max(batch, 10_000)),
});
try {
  const before = await timestampVersion(server.url);
  const out: string[] = [];
  const info: string[] = [];
  const term: ServerTerminal = {
    interactive: false,
    env: { TUFBOX_SERVER: server.url, TUFBOX_TOKEN: TOKEN },
    out: (t) => void out.push(t),
    info: (t) => void info.push(t),
    ask: async () => "",
    askSecret: async () => "",
  };
  const t = performance.now();
  await importCommand(
    [
      "--manifest",
      manifest,
      "--batch",
      String(batch),
      "--jobs",
      String(jobs),
      "--state",
      join(work, "j.jsonl"),
      "--json",
      ...(onePublication ? ["--one-publication"] : []),
    ],
    term,
  );
  const s = (performance.now() - t) / 1000;
  const summary = JSON.parse(out.join("\n"));
  const after = await timestampVersion(server.url);
  for (const line of info) console.log(`  ${line}`);
  console.log(
    `import --manifest: ${count} artifacts into ${bins} bins published end to end in ${s.toFixed(1)} s (${Math.round(count / s)}/s; target <= 60 s); ${summary.tasks} requests; timestamp ${before} -> ${after}; server RSS ${rssMiB(server.proc.pid)} MiB`,
  );
  console.log(
    JSON.stringify({
      bench: "import-manifest",
      count,
      bins,
      batch,
      jobs,
      one_publication: onePublication,
      seconds: +s.toFixed(1),
      artifacts_per_s: Math.round(count / s),
      publishes: after - before,
      rss_mib: rssMiB(server.proc.pid),
    }),
  );
} finally {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
