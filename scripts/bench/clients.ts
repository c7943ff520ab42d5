/**
 * What the number of hash bins costs TUF clients (issue 17, "Choose the bin
 * count for the clients"): a fresh client's first refresh against a real
 * tufbox server, by bin count, with the real tuf-js client (and python-tuf's
 * ngclient when `python3 -c 'import tuf'` works on this machine).
 *
 *   bun scripts/bench/clients.ts [--bins 256,1024,4096,16384] [--runs 3] [--artifacts 10000]
 *                                [--timeout 300] [--slow 20] [--skip-16384] [--clients tuf-js,python-tuf]
 *
 * For each bin count: one server process (SQLite, bootstrapped from the RSTUF
 * fixture ceremony: consistent snapshots, online key, like quickstart) with
 * `--artifacts` artifacts (`bench/pkg-N/pkg-N.tar.gz`, sha256 + length).
 * Each run is a new client process with an empty cache that trusts
 * 1.root.json and measures:
 *   refresh   Updater.refresh(): timestamp, snapshot, targets downloaded and verified
 *   lookup    getTargetInfo(one artifact): its bin downloaded and verified
 *   again     a second Updater on the same cache, refresh(): nothing new to
 *             download, but the cached snapshot is loaded and verified again
 *   bytes     metadata bytes the client downloaded (refresh + lookup)
 * Every run is its own process, killed after `--timeout` seconds (tuf-js's
 * snapshot parsing is synchronous CPU: only a separate process can be cut
 * short). When a bin count's first run takes more than `--slow` seconds, its
 * other runs are skipped: one 90-second sample says enough.
 *
 * It also reports the published documents: snapshot bytes, the mean and
 * largest bin, the empty bin, and the mean bytes one target entry adds to a
 * bin (what src/tuf/bin-advice.ts estimates bins with).
 *
 * Everything runs on this machine (server and client share the cores), so the
 * figures include loopback HTTP and contention; medians are printed.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addAll, bootstrappedServer, waitTaskAt } from "./lib.ts";
import { tempDir } from "../../test/helpers/server.ts";

interface RunResult {
  refresh_s: number;
  lookup_s: number;
  again_s: number;
  bytes: number;
  documents: number;
}

type ClientName = "tuf-js" | "python-tuf";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ---- child mode: one client run, one JSON line on stdout --------------------

async function tufjsRun(url: string, dir: string, target: string): Promise<RunResult> {
  let bytes = 0;
  let documents = 0;
  const realFetch = globalThis.fetch;
  // tuf-js downloads with the global fetch: count what reaches the client.
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await realFetch(input, init);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.ok) {
      bytes += body.byteLength;
      documents++;
    }
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }) as typeof fetch;
  const { Updater } = await import("tuf-js");
  const make = () =>
    new Updater({
      metadataBaseUrl: `${url}/metadata`,
      targetBaseUrl: `${url}/targets`,
      metadataDir: join(dir, "metadata"),
      targetDir: join(dir, "targets"),
      config: { fetchRetries: 0 },
    });
  const t0 = performance.now();
  const updater = make();
  await updater.refresh();
  const t1 = performance.now();
  const info = await updater.getTargetInfo(target);
  const t2 = performance.now();
  if (!info) throw new Error(`tuf-js found no ${target}`);
  const counted = { bytes, documents };
  const again = make();
  await again.refresh();
  const t3 = performance.now();
  return {
    refresh_s: (t1 - t0) / 1000,
    lookup_s: (t2 - t1) / 1000,
    again_s: (t3 - t2) / 1000,
    ...counted,
  };
}

// python-tuf's ngclient writes every document it accepts into the metadata
// directory; its bytes there are what it downloaded (root v1 was given).
const PYTHON_RUN = `
import json, os, sys, time
from tuf.ngclient import Updater
url, d, target = sys.argv[1], sys.argv[2], sys.argv[3]
md, td = os.path.join(d, "metadata"), os.path.join(d, "targets")
def make():
    return Updater(metadata_dir=md, metadata_base_url=url + "/metadata/", target_dir=td, target_base_url=url + "/targets/")
def size():
    return sum(os.path.getsize(os.path.join(md, f)) for f in os.listdir(md))
before = size()
t0 = time.perf_counter(); u = make(); u.refresh(); t1 = time.perf_counter()
info = u.get_targetinfo(target); t2 = time.perf_counter()
if info is None: raise SystemExit("python-tuf found no " + target)
docs = len(os.listdir(md)) - 1; got = size() - before
a = make(); a.refresh(); t3 = time.perf_counter()
print(json.dumps({"refresh_s": t1 - t0, "lookup_s": t2 - t1, "again_s": t3 - t2, "bytes": got, "documents": docs}))
`;

if (arg("child") !== undefined) {
  const [url, dir, target] = [arg("url")!, arg("dir")!, arg("target")!];
  console.log(JSON.stringify(await tufjsRun(url, dir, target)));
  process.exit(0);
}

// ---- parent -----------------------------------------------------------------

function pythonTufVersion(): string | null {
  const r = Bun.spawnSync(["python3", "-c", "import tuf; print(tuf.__version__)"], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : null;
}

async function tufjsVersion(): Promise<string> {
  return ((await import("tuf-js/package.json", { with: { type: "json" } })) as { default: { version: string } }).default
    .version;
}

/** One client run in its own process; null when it was killed at the timeout. */
async function clientRun(
  client: ClientName,
  url: string,
  root: Uint8Array,
  target: string,
  timeoutS: number,
): Promise<RunResult | null> {
  const dir = tempDir("tufbox-bench-client-");
  mkdirSync(join(dir, "metadata"), { recursive: true });
  mkdirSync(join(dir, "targets"), { recursive: true });
  writeFileSync(join(dir, "metadata", "root.json"), root);
  const cmd =
    client === "tuf-js"
      ? ["bun", import.meta.path, "--child", "tuf-js", "--url", url, "--dir", dir, "--target", target]
      : ["python3", "-c", PYTHON_RUN, url, dir, target];
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutS * 1000);
  try {
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    if (proc.signalCode === "SIGKILL") return null;
    if (code !== 0) throw new Error(`${client} run failed (${code}): ${err.slice(-2000)}`);
    return JSON.parse(out.trim().split("\n").pop()!) as RunResult;
  } finally {
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Documents {
  snapshot_bytes: number;
  bin_bytes_mean: number;
  bin_bytes_max: number;
  empty_bin_bytes: number | null;
  entry_bytes_mean: number | null;
}

/** Sizes of what the server publishes: the snapshot and every bin it lists. */
async function documentSizes(url: string): Promise<Documents> {
  const ts = (await (await fetch(`${url}/metadata/timestamp.json`)).json()) as any;
  const snapVersion = ts.signed.meta["snapshot.json"].version;
  const snapBytes = new Uint8Array(await (await fetch(`${url}/metadata/${snapVersion}.snapshot.json`)).arrayBuffer());
  const meta = JSON.parse(new TextDecoder().decode(snapBytes)).signed.meta as Record<string, { version: number }>;
  const bins = Object.entries(meta).filter(([name]) => name.startsWith("bins-"));
  const sizes: { bytes: number; entries: number }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < bins.length) {
      const [name, { version }] = bins[next++]!;
      const res = await fetch(`${url}/metadata/${version}.${name}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const doc = JSON.parse(new TextDecoder().decode(bytes));
      sizes.push({ bytes: bytes.byteLength, entries: Object.keys(doc.signed.targets).length });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const total = sizes.reduce((s, b) => s + b.bytes, 0);
  const empties = sizes.filter((b) => b.entries === 0).map((b) => b.bytes);
  const empty = empties.length > 0 ? empties.reduce((s, b) => s + b, 0) / empties.length : null;
  // Bins differ by their version's digits only, so the empty ones stand for the envelope of all.
  const entries = sizes.reduce((s, b) => s + b.entries, 0);
  return {
    snapshot_bytes: snapBytes.byteLength,
    bin_bytes_mean: Math.round(total / sizes.length),
    bin_bytes_max: Math.max(...sizes.map((b) => b.bytes)),
    empty_bin_bytes: empty === null ? null : Math.round(empty),
    entry_bytes_mean:
      empty === null || entries === 0 ? null : Math.round(((total - empty * sizes.length) / entries) * 10) / 10,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

const binCounts = (arg("bins") ?? "256,1024,4096,16384")
  .split(",")
  .map((s) => Number(s.trim()))
  .filter((n) => !(process.argv.includes("--skip-16384") && n === 16384));
for (const n of binCounts)
  if (!Number.isInteger(n) || n < 2 || n > 16384 || (n & (n - 1)) !== 0)
    throw new Error(`--bins: ${n} is not a power of two in 2..16384`);
const runs = Number(arg("runs") ?? 3);
const artifactCount = Number(arg("artifacts") ?? 10_000);
const timeoutS = Number(arg("timeout") ?? 300);
const slowS = Number(arg("slow") ?? 20);
const python = pythonTufVersion();
const wanted = (arg("clients") ?? "tuf-js,python-tuf").split(",") as ClientName[];
const clients = wanted.filter((c) => c === "tuf-js" || (c === "python-tuf" && python !== null));
const versions: Record<string, string | null> = { "tuf-js": await tufjsVersion(), "python-tuf": python };
if (wanted.includes("python-tuf") && python === null)
  console.log("python-tuf: not installed here (python3 -c 'import tuf' fails): measuring tuf-js only");

interface Row {
  bins: number;
  client: ClientName;
  version: string | null;
  runs: number;
  timed_out: number;
  refresh_s: number | null;
  lookup_s: number | null;
  again_s: number | null;
  bytes: number | null;
  documents: number | null;
}
const rows: Row[] = [];
const docs: Record<number, Documents> = {};

for (const bins of binCounts) {
  const started = performance.now();
  const { server, dataDir } = await bootstrappedServer(bins);
  try {
    if (artifactCount > 0) {
      const tasks = await addAll(server.url, "bench", 0, artifactCount, 1000, 2);
      for (const t of tasks) {
        const r = await waitTaskAt(server.url, t, 300_000);
        if (r.state !== "SUCCESS") throw new Error(`adding artifacts failed: ${JSON.stringify(r).slice(0, 500)}`);
      }
    }
    const root = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    const target = artifactCount > 0 ? `bench/pkg-${artifactCount - 1}/pkg-${artifactCount - 1}.tar.gz` : "none";
    docs[bins] = await documentSizes(server.url);
    console.log(
      `${bins} bins: server ready with ${artifactCount} artifacts in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `snapshot ${docs[bins]!.snapshot_bytes} B, bins mean ${docs[bins]!.bin_bytes_mean} B, max ${docs[bins]!.bin_bytes_max} B`,
    );
    for (const client of clients) {
      const results: RunResult[] = [];
      let timedOut = 0;
      for (let i = 0; i < runs; i++) {
        const r = await clientRun(client, server.url, root, target, timeoutS);
        if (r === null) {
          timedOut++;
          console.log(`  ${client} run ${i + 1}: killed after ${timeoutS} s`);
          break;
        }
        results.push(r);
        console.log(
          `  ${client} run ${i + 1}: refresh ${r.refresh_s.toFixed(3)} s, lookup ${r.lookup_s.toFixed(3)} s, again ${r.again_s.toFixed(3)} s, ${r.bytes} B in ${r.documents} documents`,
        );
        if (r.refresh_s + r.lookup_s + r.again_s > slowS) break;
      }
      const m = (f: (r: RunResult) => number) => (results.length ? median(results.map(f)) : null);
      rows.push({
        bins,
        client,
        version: versions[client] ?? null,
        runs: results.length,
        timed_out: timedOut,
        refresh_s: m((r) => r.refresh_s),
        lookup_s: m((r) => r.lookup_s),
        again_s: m((r) => r.again_s),
        bytes: m((r) => r.bytes),
        documents: m((r) => r.documents),
      });
    }
  } finally {
    server.proc.kill("SIGTERM");
    await server.proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const fmt = (x: number | null, d = 3) => (x === null ? "timeout" : x.toFixed(d));
console.log("");
console.log(
  `${"bins".padStart(6)}  ${"client".padEnd(16)} ${"refresh s".padStart(10)} ${"lookup s".padStart(9)} ${"again s".padStart(9)} ${"bytes".padStart(9)} ${"snapshot B".padStart(11)} ${"bin B (mean/max)".padStart(17)}  runs`,
);
for (const r of rows) {
  const d = docs[r.bins]!;
  console.log(
    `${String(r.bins).padStart(6)}  ${`${r.client} ${r.version ?? ""}`.padEnd(16)} ${fmt(r.refresh_s).padStart(10)} ${fmt(r.lookup_s).padStart(9)} ${fmt(r.again_s).padStart(9)} ${(r.bytes === null ? "-" : String(r.bytes)).padStart(9)} ${String(d.snapshot_bytes).padStart(11)} ${`${d.bin_bytes_mean}/${d.bin_bytes_max}`.padStart(17)}  ${r.runs}${r.timed_out ? ` (+${r.timed_out} killed)` : ""}`,
  );
}
const entry = Object.values(docs).find((d) => d.entry_bytes_mean !== null);
if (entry)
  console.log(`target entry: ${entry.entry_bytes_mean} B on average; an empty bin: ${entry.empty_bin_bytes} B`);
console.log(
  JSON.stringify({
    bench: "clients",
    artifacts: artifactCount,
    python_tuf: python,
    rows,
    documents: docs,
    load_average: (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).map(Number),
  }),
);
