/**
 * Serving benchmark: tufbox's Bun.serve against nginx, same machine, same run,
 * same files (DESIGN.md "Performance notes": the target is >= 2x nginx).
 *
 *   bun scripts/bench/serve.ts [--duration 10] [--connections 50] [--threads 2] [--rounds 3]
 *   bun scripts/bench/serve.ts --reload-cost [--routes 16384]
 *
 * The first form writes a ~1 KB timestamp.json and a ~12 KB bin file, starts
 * nginx (minimal config, default `worker_processes auto`, access_log off) and
 * tufbox (in its own `bun` process, so wrk and the server under test do not
 * share an event loop), runs wrk against each file on each server, and prints
 * a table and one JSON line. Cases are interleaved over `--rounds` rounds and
 * the median is reported: on a 2-core machine shared by wrk and the server,
 * one 10 s run varies by up to ±20%. It also measures an older bin version, which
 * tufbox serves through `fetch` (LRU) rather than a static route: that is
 * what most bins get in a repository with more bins than the static budget.
 *
 * The second form measures `server.reload()` with N static routes in-process.
 *
 * Needs `nginx` and `wrk` (Debian: apt-get install -y nginx-light wrk); it
 * installs nothing itself. Every load stays on 127.0.0.1 and is bounded in time.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpServer } from "../../src/server/http.ts";
import { PublishedMetadata } from "../../src/server/published.ts";
import { silentLogger } from "../../src/log.ts";

const TIMESTAMP = "timestamp.json";
const BIN = "3.bins-0a3.json";
const OLD_BIN = "2.bins-0a3.json";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer, got ${process.argv[i + 1]}`);
  return n;
}

// ------------------------------------------------------------------ content

/** Deterministic hex, so every run serves the same bytes. */
function hex(seed: string, chars: number): string {
  let out = "";
  for (let i = 0; out.length < chars; i++) out += new Bun.CryptoHasher("sha256").update(`${seed}/${i}`).digest("hex");
  return out.slice(0, chars);
}

function signatures(seed: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({ keyid: hex(`${seed}-key${i}`, 64), sig: hex(`${seed}-sig${i}`, 128) }));
}

/** A timestamp as python-tuf writes it (indented, sorted keys): ~1 KB with three signatures. */
function timestampJson(version: number): Uint8Array {
  const doc = {
    signatures: signatures("timestamp", 3),
    signed: {
      _type: "timestamp",
      expires: "2030-01-02T03:04:05Z",
      meta: { "snapshot.json": { hashes: { sha256: hex(`snapshot${version}`, 64) }, length: 612_345, version } },
      spec_version: "1.0.31",
      version,
    },
  };
  return new TextEncoder().encode(JSON.stringify(doc, null, 1));
}

/** A hash bin of a large repository: ~60 targets, ~12 KB of canonical JSON. */
function binJson(version: number): Uint8Array {
  const targets: Record<string, unknown> = {};
  for (let i = 0; i < 60; i++) {
    // PyPI-style paths (PEP 458): blake2b-derived directories, then the file name.
    const h = hex(`path${i}`, 60);
    const name = `project-${hex(`name${i}`, 6)}`;
    targets[
      `packages/${h.slice(0, 2)}/${h.slice(2, 4)}/${h.slice(4)}/${name}-${1 + (i % 7)}.${i % 13}.${i % 5}.tar.gz`
    ] = {
      hashes: { sha256: hex(`target${i}`, 64) },
      length: 10_000 + i * 7919,
    };
  }
  const doc = {
    signatures: signatures("bins", 1),
    signed: { _type: "targets", expires: "2030-01-02T03:04:05Z", spec_version: "1.0.31", targets, version },
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

function writeFiles(dir: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>([
    [OLD_BIN, binJson(2)],
    [BIN, binJson(3)],
    ["3.snapshot.json", new TextEncoder().encode('{"signed":{"_type":"snapshot","version":3}}')],
    [TIMESTAMP, timestampJson(3)],
  ]);
  mkdirSync(join(dir, "www", "metadata"), { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, "www", "metadata", name), bytes);
  return files;
}

// ------------------------------------------------------------------ child: tufbox under test

async function runChild(dir: string): Promise<void> {
  const names = [OLD_BIN, BIN, "3.snapshot.json", TIMESTAMP];
  const files = await Promise.all(
    names.map(async (name) => ({ name, bytes: await Bun.file(join(dir, "www", "metadata", name)).bytes() })),
  );
  const metadata = new PublishedMetadata({ loader: async (name) => files.find((f) => f.name === name)?.bytes });
  metadata.publish(files);
  const http = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    metadata,
    api: () => new Response("not found", { status: 404 }),
  });
  await http.routesSettled();
  process.stdout.write(`${JSON.stringify({ url: http.url, static: http.staticRoutes().names })}\n`);
  const stop = () => void http.stop(true).then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// ------------------------------------------------------------------ parent

function findTool(name: string): string | undefined {
  // nginx lives in /usr/sbin, which is not on every user's PATH.
  return Bun.which(name) ?? [`/usr/sbin/${name}`, `/usr/bin/${name}`].find((p) => existsSync(p));
}

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/**
 * nginx's own defaults otherwise. No `sendfile on`: measured here it made
 * nginx slower for these sizes (1 KB: ~115k vs ~135k req/s; 12 KB: ~113k vs
 * ~122k), and the baseline should be the stronger nginx.
 */
function nginxConfig(dir: string, port: number): string {
  return `worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
  }
}
`;
}

async function waitUntilServing(url: string, proc: Bun.Subprocess, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode} before serving`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not answer ${url} within 10 s`);
}

async function readFirstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
  }
  throw new Error("tufbox child exited without reporting its URL");
}

interface WrkResult {
  rps: number;
  latency: string;
}

async function wrk(
  wrkPath: string,
  url: string,
  opts: { threads: number; connections: number; seconds: number },
): Promise<WrkResult> {
  const proc = Bun.spawn([wrkPath, `-t${opts.threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, url], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => proc.kill(), (opts.seconds + 20) * 1000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(killer);
  if (proc.exitCode !== 0) throw new Error(`wrk failed for ${url}: ${err || out}`);
  // An error page served fast would look like a win: refuse it.
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`wrk saw non-2xx responses from ${url}:\n${out}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`cannot read wrk output:\n${out}`);
  const latency = /Latency\s+(\S+)/.exec(out)?.[1] ?? "?";
  return { rps: Number(rps[1]), latency };
}

async function sameBytes(url: string, expected: Uint8Array): Promise<void> {
  const res = await fetch(url);
  const got = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200 || !Buffer.from(got).equals(expected))
    throw new Error(`${url} does not serve the benchmark file (status ${res.status})`);
}

async function runBenchmark(): Promise<number> {
  const wrkPath = findTool("wrk");
  const nginxPath = findTool("nginx");
  if (!wrkPath || !nginxPath) {
    console.error(
      `missing ${[!nginxPath && "nginx", !wrkPath && "wrk"].filter(Boolean).join(" and ")}: install with\n  apt-get install -y nginx-light wrk`,
    );
    return 1;
  }
  const seconds = flag("duration", 10);
  const rounds = flag("rounds", 3);
  const load = { threads: flag("threads", 2), connections: flag("connections", 50), seconds };

  const dir = mkdtempSync(join(tmpdir(), "tufbox-bench-serve-"));
  const children: Bun.Subprocess[] = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    // nginx started as root serves as an unprivileged worker user: mkdtemp's 0700 would be a 403.
    chmodSync(dir, 0o755);
    const files = writeFiles(dir);
    for (const t of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, "tmp", t), { recursive: true });
    const nginxPort = freePort();
    writeFileSync(join(dir, "nginx.conf"), nginxConfig(dir, nginxPort));
    const nginx = Bun.spawn([nginxPath, "-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "nginx-error.log")], {
      stdout: "ignore",
      stderr: "inherit",
    });
    children.push(nginx);
    const nginxUrl = `http://127.0.0.1:${nginxPort}`;
    await waitUntilServing(`${nginxUrl}/metadata/${TIMESTAMP}`, nginx, "nginx");

    const tufbox = Bun.spawn([process.execPath, import.meta.path, "--child", dir], {
      stdout: "pipe",
      stderr: "inherit",
      env: { ...process.env, NODE_ENV: "production" },
    });
    children.push(tufbox);
    const { url: tufboxUrl, static: staticNames } = JSON.parse(await readFirstLine(tufbox.stdout)) as {
      url: string;
      static: string[];
    };
    await waitUntilServing(`${tufboxUrl}/metadata/${TIMESTAMP}`, tufbox, "tufbox");
    if (!staticNames.includes(TIMESTAMP) || !staticNames.includes(BIN) || staticNames.includes(OLD_BIN)) {
      throw new Error(`unexpected static route set: ${staticNames.join(", ")}`);
    }

    for (const base of [nginxUrl, tufboxUrl])
      for (const name of [TIMESTAMP, BIN, OLD_BIN]) await sameBytes(`${base}/metadata/${name}`, files.get(name)!);

    console.log(
      `files: ${TIMESTAMP} ${files.get(TIMESTAMP)!.byteLength} B, ${BIN} ${files.get(BIN)!.byteLength} B; ${cpus().length} CPUs; wrk -t${load.threads} -c${load.connections} -d${seconds}s, median of ${rounds}`,
    );
    const cases: { key: string; server: string; url: string }[] = [
      { key: "nginx_timestamp", server: "nginx", url: `${nginxUrl}/metadata/${TIMESTAMP}` },
      { key: "tufbox_timestamp", server: "tufbox (static route)", url: `${tufboxUrl}/metadata/${TIMESTAMP}` },
      { key: "nginx_bin", server: "nginx", url: `${nginxUrl}/metadata/${BIN}` },
      { key: "tufbox_bin", server: "tufbox (static route)", url: `${tufboxUrl}/metadata/${BIN}` },
      { key: "tufbox_bin_fetch", server: "tufbox (fetch, LRU)", url: `${tufboxUrl}/metadata/${OLD_BIN}` },
    ];
    // A short warm-up per server so neither pays for cold caches or JIT in the measured run.
    for (const c of cases) await wrk(wrkPath, c.url, { ...load, seconds: 2 });
    const runs: Record<string, WrkResult[]> = {};
    for (let round = 1; round <= rounds; round++) {
      for (const c of cases) {
        const result = await wrk(wrkPath, c.url, load);
        (runs[c.key] ??= []).push(result);
        console.log(`  round ${round}/${rounds} ${c.key}: ${Math.round(result.rps)} req/s`);
      }
    }
    const results: Record<string, WrkResult> = {};
    for (const [key, list] of Object.entries(runs))
      results[key] = [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)]!;

    const r = (k: string) => Math.round(results[k]!.rps);
    const ratio = (a: string, b: string) => Math.round((results[a]!.rps / results[b]!.rps) * 100) / 100;
    console.log("");
    console.log("| file | server | req/s | avg latency | vs nginx |");
    console.log("| --- | --- | ---: | ---: | ---: |");
    for (const c of cases) {
      const file = c.url.slice(c.url.lastIndexOf("/") + 1);
      const nginxKey = c.key.includes("timestamp") ? "nginx_timestamp" : "nginx_bin";
      console.log(
        `| ${file} | ${c.server} | ${r(c.key)} | ${results[c.key]!.latency} | ${c.key.startsWith("nginx") ? "1.00" : ratio(c.key, nginxKey).toFixed(2)} |`,
      );
    }
    console.log("");
    console.log(
      JSON.stringify({
        bench: "serve",
        tufbox_timestamp_rps: r("tufbox_timestamp"),
        nginx_timestamp_rps: r("nginx_timestamp"),
        ratio_timestamp: ratio("tufbox_timestamp", "nginx_timestamp"),
        tufbox_bin_rps: r("tufbox_bin"),
        nginx_bin_rps: r("nginx_bin"),
        ratio_bin: ratio("tufbox_bin", "nginx_bin"),
        tufbox_bin_fetch_rps: r("tufbox_bin_fetch"),
        ratio_bin_fetch: ratio("tufbox_bin_fetch", "nginx_bin"),
        rounds,
        cpus: cpus().length,
      }),
    );
    return 0;
  } finally {
    cleanup();
    await Promise.all(children.map((c) => c.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ reload cost

async function runReloadCost(): Promise<number> {
  const largest = flag("routes", 16384);
  const counts = [256, 1024, 2048, 4096, largest].filter((n, i, all) => n <= largest && all.indexOf(n) === i);
  const bin = binJson(1);
  const rows: Record<string, number> = {};
  for (const n of counts) {
    const metadata = new PublishedMetadata();
    const batch = (v: number) => [
      ...Array.from({ length: n }, (_, i) => ({
        name: `${v}.bins-${i.toString(16).padStart(4, "0")}.json`,
        bytes: bin,
      })),
      { name: "timestamp.json", bytes: timestampJson(v) },
    ];
    metadata.publish(batch(1));
    const http = startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      metadata,
      api: () => new Response(null, { status: 404 }),
      maxStaticRoutes: n + 1,
      log: silentLogger(),
    });
    metadata.publish(batch(2));
    await http.routesSettled();
    const { buildMs, reloadMs, names } = http.staticRoutes();
    rows[`reload_ms_${names.length}`] = Math.round(reloadMs * 10) / 10;
    console.log(
      `${names.length} static routes: build ${buildMs.toFixed(1)} ms, server.reload() ${reloadMs.toFixed(1)} ms`,
    );
    await http.stop(true);
  }
  // What a 16384-bin repository costs with the default budget.
  const metadata = new PublishedMetadata();
  metadata.publish(
    Array.from({ length: largest }, (_, i) => ({ name: `1.bins-${i.toString(16).padStart(4, "0")}.json`, bytes: bin })),
  );
  const http = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    metadata,
    api: () => new Response(null, { status: 404 }),
  });
  metadata.publish([{ name: "timestamp.json", bytes: timestampJson(1) }]);
  await http.routesSettled();
  const { buildMs, reloadMs, names } = http.staticRoutes();
  console.log(
    `${largest} bins with the default budget (${names.length} static): build ${buildMs.toFixed(1)} ms, server.reload() ${reloadMs.toFixed(1)} ms`,
  );
  await http.stop(true);
  console.log(
    JSON.stringify({
      bench: "reload",
      ...rows,
      default_budget_routes: names.length,
      default_budget_build_ms: Math.round(buildMs * 10) / 10,
      default_budget_reload_ms: Math.round(reloadMs * 10) / 10,
    }),
  );
  return 0;
}

if (process.argv[2] === "--child") {
  await runChild(process.argv[3]!);
} else if (process.argv.includes("--reload-cost")) {
  process.exit(await runReloadCost());
} else {
  process.exit(await runBenchmark());
}
