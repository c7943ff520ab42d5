/**
 * Idle RSS of a fresh quickstart (issue #15 target: ≤ 60 MiB).
 *   bun scripts/bench/idle.ts [--idle-seconds 10] [--runs 1] [--binary dist/tufbox-linux-x64]
 * Starts `tufbox quickstart` (from source, or the compiled --binary) in a
 * temporary data directory on 127.0.0.1, waits until it serves
 * timestamp.json, leaves it idle, then prints VmRSS and RssAnon from
 * /proc/PID/status and one JSON line. Stops only the process it started.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { flag } from "./lib.ts";

const idleSeconds = flag("idle-seconds", 10);
const runs = flag("runs", 1);
const i = process.argv.indexOf("--binary");
// Resolved here: the process runs in its temporary data directory.
const binary = i >= 0 ? resolve(process.argv[i + 1]!) : undefined;
const ROOT = join(import.meta.dir, "..", "..");

function statusKiB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`${field} missing from /proc/${pid}/status`);
  return Number(m[1]);
}

async function freePort(): Promise<number> {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
const results: { rss: number; anon: number; file: number }[] = [];
for (let r = 0; r < runs; r++) {
  const dataDir = mkdtempSync(join(tmpdir(), "tufbox-idle-"));
  const port = await freePort();
  const args = ["quickstart", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`];
  const cmd = binary ? [binary, ...args] : [process.execPath, join(ROOT, "src/main.ts"), ...args];
  const proc = Bun.spawn(cmd, { cwd: dataDir, stdout: "ignore", stderr: "ignore", env: { ...process.env } });
  try {
    const deadline = performance.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`quickstart exited with ${proc.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/metadata/timestamp.json`)
        .then((res) => res.status === 200)
        .catch(() => false);
      if (ok) break;
      if (performance.now() > deadline) throw new Error("quickstart did not serve timestamp.json within 60 s");
      await Bun.sleep(100);
    }
    await Bun.sleep(idleSeconds * 1000);
    const rss = statusKiB(proc.pid, "VmRSS");
    const anon = statusKiB(proc.pid, "RssAnon");
    const file = statusKiB(proc.pid, "RssFile");
    results.push({ rss, anon, file });
    console.log(
      `idle RSS of a fresh quickstart (${binary ? `binary ${binary}` : "bun src/main.ts"}, ${idleSeconds} s idle): VmRSS ${mib(rss)} MiB (RssAnon ${mib(anon)}, RssFile ${mib(file)}; target ≤ 60 MiB)`,
    );
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}
results.sort((a, b) => a.rss - b.rss);
const median = results[Math.floor(results.length / 2)]!;
console.log(
  JSON.stringify({
    bench: "idle",
    of: binary ? `binary ${binary}` : "bun src/main.ts",
    idle_seconds: idleSeconds,
    runs,
    vm_rss_mib: mib(median.rss),
    rss_anon_mib: mib(median.anon),
    rss_file_mib: mib(median.file),
    target_mib: 60,
  }),
);
