/**
 * The edge mirror (`tufbox mirror`), three figures:
 *
 * 1. propagation delay: an artifact is published upstream → the mirror serves
 *    the timestamp that lists it. T0 = the first moment the upstream serves
 *    the new timestamp.json, T1 = the first moment the mirror does (both
 *    polled every millisecond). The mirror learns of it through the upstream's
 *    change feed (its interval is an hour here).
 * 2. first sync of a 16384-bin repository with `--artifacts-big` artifacts:
 *    a new mirror, in this process, from nothing to a verified state
 *    (16388 documents downloaded and verified).
 * 3. idle RSS of a mirror process (`tufbox mirror` from source, or --binary)
 *    following a 256-bin repository with `--artifacts-small` artifacts,
 *    measured `--idle-seconds` after its first sync.
 *
 *   bun scripts/bench/mirror.ts [--rounds 30] [--artifacts-big 50000] [--artifacts-small 10000]
 *                               [--idle-seconds 10] [--binary dist/tufbox-linux-x64] [--only small|big]
 *
 * Upstreams are real tufbox processes (scripts/bench/lib.ts). Everything runs
 * on the same machine: the figures include loopback HTTP and CPU shared with
 * the upstream.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Mirror } from "../../src/mirror/mirror.ts";
import { readAnchor } from "../../src/mirror/state.ts";
import { silentLogger } from "../../src/log.ts";
import { tempDir } from "../../test/helpers/server.ts";
import { addAll, bootstrappedServer, call, flag, percentile, rssMiB, waitTaskAt, artifacts } from "./lib.ts";

const rounds = flag("rounds", 30);
const artifactsBig = flag("artifacts-big", 50_000);
const artifactsSmall = flag("artifacts-small", 10_000);
const idleSeconds = flag("idle-seconds", 10);
const binaryAt = process.argv.indexOf("--binary");
const binary = binaryAt >= 0 ? process.argv[binaryAt + 1] : undefined;
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

async function timestampOf(url: string): Promise<number> {
  const r = await fetch(`${url}/metadata/timestamp.json`);
  return ((await r.json()) as any).signed.version;
}

async function pollUntil(url: string, version: number): Promise<number> {
  for (;;) {
    if ((await timestampOf(url)) >= version) return performance.now();
    await Bun.sleep(1);
  }
}

async function spawnMirror(upstream: string, rootFile: string, dataDir: string) {
  const cmd = binary ? [binary] : ["bun", MAIN];
  const proc = Bun.spawn(
    [
      ...cmd,
      "mirror",
      "--upstream",
      upstream,
      "--root",
      rootFile,
      "--data-dir",
      dataDir,
      "--listen",
      "127.0.0.1:0",
      "--interval",
      "3600",
    ],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, TUFBOX_LOG_FORMAT: "json", TUFBOX_LOG_LEVEL: "info" } },
  );
  let out = "";
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += new TextDecoder().decode(chunk);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m && out.includes('"msg":"synced"')) return { proc, url: m[1]!, output: () => out };
    if (proc.exitCode !== null) throw new Error(`mirror exited:\n${out}`);
    await Bun.sleep(20);
  }
}

async function trustedRootFile(url: string, dir: string): Promise<{ file: string; bytes: Uint8Array }> {
  const bytes = new Uint8Array(await (await fetch(`${url}/metadata/1.root.json`)).arrayBuffer());
  const file = join(dir, "1.root.json");
  writeFileSync(file, bytes);
  return { file, bytes };
}

async function preload(url: string, count: number): Promise<void> {
  const ids = await addAll(url, "existing", 0, count, 10_000, 2);
  for (const id of ids) await waitTaskAt(url, id, 600_000);
}

const result: Record<string, unknown> = { bench: "mirror" };
const work = tempDir("tufbox-bench-mirror-");

// ---------------------------------------------------------------- 1 + 3: 256 bins
if (only !== "big") {
  const { server, dataDir } = await bootstrappedServer(256);
  try {
    await preload(server.url, artifactsSmall);
    const root = await trustedRootFile(server.url, work);
    const mirror = await spawnMirror(server.url, root.file, join(work, "small"));
    try {
      const delays: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const next = (await timestampOf(server.url)) + 1;
        const upstreamSeen = pollUntil(server.url, next);
        const mirrorSeen = pollUntil(mirror.url, next);
        const r = await call(server.url, "POST", "/api/v1/artifacts", { artifacts: artifacts("propagation", i, 1) });
        if (r.status !== 202) throw new Error(`refused: ${r.status}`);
        const [t0, t1] = await Promise.all([upstreamSeen, mirrorSeen]);
        delays.push(Math.max(0, t1 - t0));
        await Bun.sleep(50);
      }
      delays.sort((a, b) => a - b);
      result.propagation_ms = {
        p50: +percentile(delays, 50).toFixed(1),
        p99: +percentile(delays, 99).toFixed(1),
        max: +delays[delays.length - 1]!.toFixed(1),
        rounds,
      };
      console.log(
        `propagation (publish → served by the mirror, 256 bins, ${artifactsSmall} artifacts, ${rounds} rounds): p50 ${result.propagation_ms && (result.propagation_ms as any).p50} ms, p99 ${(result.propagation_ms as any).p99} ms, max ${(result.propagation_ms as any).max} ms`,
      );

      await Bun.sleep(idleSeconds * 1000);
      const rss = rssMiB(mirror.proc.pid);
      result.idle_rss_mib = rss;
      result.idle_rss_target_mib = 60;
      result.idle_rss_of = binary ? `binary ${binary}` : "bun src/main.ts";
      console.log(
        `idle RSS of the mirror process (256 bins, ${artifactsSmall + rounds} artifacts, ${idleSeconds} s after sync, ${result.idle_rss_of}): ${rss} MiB (target ≤ 60 MiB)`,
      );
    } finally {
      mirror.proc.kill("SIGTERM");
      await mirror.proc.exited;
    }
  } finally {
    server.proc.kill("SIGTERM");
    await server.proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- 2: 16384 bins, first sync
if (only !== "small") {
  const { server, dataDir } = await bootstrappedServer(16384);
  try {
    await preload(server.url, artifactsBig);
    const root = await trustedRootFile(server.url, work);
    const mirror = await Mirror.open({
      dataDir: join(work, "big"),
      anchor: readAnchor(root.bytes, "1.root.json"),
      upstream: server.url,
      prefetch: [],
      intervalSeconds: 3600,
      log: silentLogger(),
    });
    const t0 = performance.now();
    await mirror.syncNow();
    const seconds = (performance.now() - t0) / 1000;
    const s = mirror.status();
    if (s.last_failure) throw new Error(`first sync failed: ${s.last_failure.message}`);
    result.first_sync_16384_bins_s = +seconds.toFixed(2);
    result.first_sync_documents = s.roles + 3;
    console.log(
      `first sync of a 16384-bin repository (${artifactsBig} artifacts, ${s.roles + 3} documents downloaded and verified): ${seconds.toFixed(2)} s`,
    );
    await mirror.stop();
  } finally {
    server.proc.kill("SIGTERM");
    await server.proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify(result));
