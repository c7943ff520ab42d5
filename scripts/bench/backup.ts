/**
 * Backup size and time of a large repository: --count artifacts (metadata
 * entries, default 1,000,000) in 16384 hash bins plus --content artifacts
 * whose bytes tufbox stores (uploaded, 16 KiB each), published; then
 * `tufbox backup --data-dir` and `tufbox backup --server` (the API route,
 * streamed) while the server runs, and `tufbox restore` of the result.
 *   bun scripts/bench/backup.ts [--count 1000000] [--bins 16384] [--content 1000]
 * Prints figures and one JSON line. Noisy on a shared 2-core machine.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { backupCommand, restoreCommand } from "../../src/cli/backup.ts";
import type { ServerTerminal } from "../../src/cli/output.ts";
import { TOKEN, tempDir } from "../../test/helpers/server.ts";
import { addAll, bootstrappedServer, flag, rssMiB, waitTaskAt } from "./lib.ts";

const count = flag("count", 1_000_000);
const bins = flag("bins", 16384);
const contentCount = flag("content", 1000);

const { server, dataDir } = await bootstrappedServer(bins, {
  TUFBOX_MAX_BODY_BYTES: "64MiB",
  TUFBOX_MAX_ARTIFACTS_PER_REQUEST: "10000",
});
const work = tempDir("tufbox-bench-backup-");
const term = (out: string[]): ServerTerminal => ({
  interactive: false,
  env: { TUFBOX_TOKEN: TOKEN },
  out: (t) => void out.push(t),
  info: () => {},
  ask: async () => "",
  askSecret: async () => "",
});
try {
  let t = performance.now();
  const tasks = await addAll(server.url, "pkgs", 0, count, 10_000, 2);
  for (const id of tasks) await waitTaskAt(server.url, id, 1_800_000);
  const block = new Uint8Array(16 * 1024);
  for (let i = 0; i < contentCount; i++) {
    block[0] = i & 0xff;
    block[1] = (i >> 8) & 0xff;
    block[2] = (i >> 16) & 0xff;
    const r = await fetch(`${server.url}/api/v1/artifacts/content/content/file-${i}.bin?publish=false`, {
      method: "PUT",
      body: block,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    if (r.status !== 202) throw new Error(`upload refused: ${r.status} ${await r.text()}`);
  }
  const fill = (performance.now() - t) / 1000;
  console.log(`filled: ${count} artifacts + ${contentCount} stored contents in ${fill.toFixed(0)} s`);

  const backup = async (args: string[], out: string) => {
    const lines: string[] = [];
    const start = performance.now();
    await backupCommand([...args, "--out", out, "--json"], term(lines));
    return { seconds: (performance.now() - start) / 1000, summary: JSON.parse(lines.join("\n")) };
  };
  const dirOut = join(work, "dir.tar");
  const apiOut = join(work, "api.tar");
  const fromDir = await backup(["--data-dir", dataDir], dirOut);
  const fromApi = await backup(["--server", server.url], apiOut);
  const rss = rssMiB(server.proc.pid);
  t = performance.now();
  const restoreLines: string[] = [];
  await restoreCommand([apiOut, "--data-dir", join(work, "restored"), "--json"], term(restoreLines));
  const restoreSeconds = (performance.now() - t) / 1000;
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const tables = fromDir.summary.store.tables;
  console.log(
    `backup --data-dir: ${mib(fromDir.summary.bytes)} MiB in ${fromDir.seconds.toFixed(1)} s (${tables.artifacts} artifacts, ${tables.documents} documents, ${fromDir.summary.content.objects} contents)`,
  );
  console.log(
    `backup --server (POST /api/v1/backup, streamed): ${mib(fromApi.summary.bytes)} MiB in ${fromApi.seconds.toFixed(1)} s; server RSS after ${rss} MiB`,
  );
  console.log(`restore: ${restoreSeconds.toFixed(1)} s`);
  console.log(
    JSON.stringify({
      bench: "backup",
      artifacts: count,
      bins,
      contents: contentCount,
      documents: tables.documents,
      data_dir_backup_bytes: fromDir.summary.bytes,
      data_dir_backup_seconds: +fromDir.seconds.toFixed(1),
      api_backup_bytes: fromApi.summary.bytes,
      api_backup_seconds: +fromApi.seconds.toFixed(1),
      restore_seconds: +restoreSeconds.toFixed(1),
      server_rss_mib: rss,
    }),
  );
} finally {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
