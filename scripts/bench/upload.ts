/**
 * Artifact upload benchmarks against a real tufbox server process (SQLite,
 * local content storage on the same disk):
 *  - one large file (default 1 GiB) by PUT: MiB/s until the 202 (bytes
 *    fsync'd, change committed), and until published;
 *  - many small files (default 10,000 x 1 KiB) with `tufbox import DIR`
 *    (multipart forms, parallel requests): files/s until every task is done;
 *  - server RSS while a 2 GiB upload streams in (target: <= 64 MiB above idle).
 *   bun scripts/bench/upload.ts [--large-mib 1024] [--small 10000] [--small-bytes 1024] [--rss-mib 2048]
 * Prints figures and one JSON line. Noisy on a shared 2-core machine.
 */
import { mkdirSync, openSync, rmSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { importCommand } from "../../src/cli/import.ts";
import type { ServerTerminal } from "../../src/cli/output.ts";
import { TOKEN, tempDir } from "../../test/helpers/server.ts";
import { bootstrappedServer, flag, rssMiB, waitTaskAt } from "./lib.ts";

const largeMiB = flag("large-mib", 1024);
const small = flag("small", 10_000);
const smallBytes = flag("small-bytes", 1024);
const rssTestMiB = flag("rss-mib", 2048);

function writeFile(path: string, mib: number): void {
  const fd = openSync(path, "w");
  const block = new Uint8Array(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    block[0] = i & 0xff;
    block[1] = (i >> 8) & 0xff;
    writeSync(fd, block);
  }
  closeSync(fd);
}

async function putFile(url: string, path: string, file: string): Promise<{ status: number; taskId: string }> {
  const res = await fetch(`${url}/api/v1/artifacts/content/${path}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${TOKEN}` },
    body: Bun.file(file),
  });
  const body = (await res.json()) as any;
  if (res.status !== 202) throw new Error(`upload refused: ${res.status} ${JSON.stringify(body)}`);
  return { status: res.status, taskId: body.data.task_id };
}

const work = tempDir("tufbox-bench-upload-");
const { server, dataDir } = await bootstrappedServer(256, { TUFBOX_MAX_UPLOAD_BYTES: "8GiB" });
const result: Record<string, unknown> = { bench: "upload" };
try {
  // 1. one large file
  const large = join(work, "large.bin");
  writeFile(large, largeMiB);
  let t = performance.now();
  const up = await putFile(server.url, "bench/large.bin", large);
  const acceptedS = (performance.now() - t) / 1000;
  await waitTaskAt(server.url, up.taskId, 600_000);
  const publishedS = (performance.now() - t) / 1000;
  const mibps = largeMiB / acceptedS;
  console.log(
    `one ${largeMiB} MiB file by PUT: 202 after ${acceptedS.toFixed(2)} s (${mibps.toFixed(0)} MiB/s, bytes fsync'd), published after ${publishedS.toFixed(2)} s`,
  );
  rmSync(large);
  Object.assign(result, {
    large_mib: largeMiB,
    large_mib_per_s: Math.round(mibps),
    large_published_s: +publishedS.toFixed(2),
  });

  // 2. many small files
  const dir = join(work, "small");
  for (let i = 0; i < small; i++) {
    const sub = join(dir, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
    const bytes = new Uint8Array(smallBytes);
    new DataView(bytes.buffer).setUint32(0, i);
    await Bun.write(join(sub, `f${i}.bin`), bytes);
  }
  const out: string[] = [];
  const term = { term: benchTerminal(server.url, out), out };
  t = performance.now();
  await importCommand([dir, "--prefix", "small/", "--state", join(work, "journal.jsonl"), "--json"], term.term);
  const smallS = (performance.now() - t) / 1000;
  const summary = JSON.parse(term.out.join("\n"));
  if (summary.uploaded !== small || summary.failed_tasks.length > 0)
    throw new Error(`import failed: ${term.out.join("\n")}`);
  console.log(
    `${small} files of ${smallBytes} B with tufbox import (hash, multipart upload, published): ${smallS.toFixed(2)} s, ${Math.round(small / smallS)} files/s, ${summary.tasks} tasks`,
  );
  Object.assign(result, {
    small_files: small,
    small_bytes: smallBytes,
    small_files_per_s: Math.round(small / smallS),
    small_s: +smallS.toFixed(2),
  });
  rmSync(dir, { recursive: true, force: true });

  // 3. RSS during a 2 GiB upload
  const big = join(work, "rss.bin");
  writeFile(big, rssTestMiB);
  await Bun.sleep(500);
  Bun.gc(true);
  const idle = rssMiB(server.proc.pid);
  let peak = idle;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rssMiB(server.proc.pid));
      await Bun.sleep(20);
    }
  })();
  t = performance.now();
  await putFile(server.url, "bench/rss.bin", big);
  const rssS = (performance.now() - t) / 1000;
  sampling = false;
  await sampler;
  console.log(
    `server RSS during a ${rssTestMiB} MiB upload: idle ${idle} MiB, peak ${peak} MiB, +${peak - idle} MiB (target <= 64 MiB); ${(rssTestMiB / rssS).toFixed(0)} MiB/s`,
  );
  Object.assign(result, {
    rss_upload_mib: rssTestMiB,
    rss_idle_mib: idle,
    rss_peak_mib: peak,
    rss_above_idle_mib: peak - idle,
  });
  rmSync(big);
  console.log(JSON.stringify(result));
} finally {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

function benchTerminal(url: string, out: string[]): ServerTerminal {
  return {
    interactive: false,
    env: { TUFBOX_SERVER: url, TUFBOX_TOKEN: TOKEN },
    out: (t) => void out.push(t),
    info: () => {},
    ask: async () => "",
    askSecret: async () => "",
  };
}
