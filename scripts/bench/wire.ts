/**
 * Bytes on the wire for a fresh client's refresh (root, timestamp, snapshot,
 * targets, and the one bin it looks an artifact up in), without and with
 * compressed metadata. The real tuf-js client, through a counting proxy.
 *   bun scripts/bench/wire.ts [--bins 16384] [--existing 20000]
 */
import { rmSync } from "node:fs";
import { binsPayload } from "../../test/helpers/fixtures.ts";
import { startTestServer, tempDir } from "../../test/helpers/server.ts";
import { tufClient } from "../../test/helpers/tufjs.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import type { AddArtifactsPayload } from "../../src/repository/payloads.ts";
import { waitForBootstrap } from "../../src/cli/quickstart.ts";
import { artifacts, flag } from "./lib.ts";
import { Updater } from "tuf-js";

const bins = flag("bins", 16384);
const addPayload = (list: ReturnType<typeof artifacts>): AddArtifactsPayload => ({
  artifacts: list,
  addTaskIdToCustom: false,
  publish: true,
});
const existing = flag("existing", 20_000);

const s = await startTestServer({ env: { TUFBOX_LOG_LEVEL: "warn" } });
const dirs: string[] = [];
try {
  const repo = s.app.repo;
  const { taskId } = await repo.acceptBootstrap(parseBootstrapPayload(binsPayload(bins)));
  await waitForBootstrap(repo, s.app.store, taskId);
  for (let i = 0; i < existing; i += 10_000)
    await repo.acceptAdd(addPayload(artifacts("existing", i, Math.min(10_000, existing - i))));
  await s.app.publisher.idle();
  await Bun.sleep(200); // top-level variants are compressed right after publication

  const root = new Uint8Array(await (await fetch(`${s.url}/metadata/1.root.json`)).arrayBuffer());
  const lookup = artifacts("existing", 7, 1)[0]!.path;

  const refresh = async (acceptEncoding: string | null) => {
    const files: { path: string; bytes: number; encoding: string }[] = [];
    const proxy = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (req) => {
        const path = new URL(req.url).pathname;
        const ae = acceptEncoding ?? req.headers.get("accept-encoding");
        const res = await fetch(s.url + path, {
          headers: ae ? { "Accept-Encoding": ae } : {},
          decompress: false,
        } as RequestInit);
        const body = new Uint8Array(await res.arrayBuffer());
        files.push({ path, bytes: body.length, encoding: res.headers.get("content-encoding") ?? "identity" });
        return new Response(body, { status: res.status, headers: new Headers(res.headers) });
      },
    });
    try {
      const dir = tempDir("tufbox-wire-");
      dirs.push(dir);
      // A fresh client: only the trusted root on disk.
      tufClient(`http://127.0.0.1:${proxy.port}`, dir, root);
      const updater = new Updater({
        metadataBaseUrl: `http://127.0.0.1:${proxy.port}/metadata`,
        targetBaseUrl: `http://127.0.0.1:${proxy.port}/targets`,
        metadataDir: `${dir}/metadata`,
        targetDir: `${dir}/targets`,
      });
      await updater.refresh();
      const info = await updater.getTargetInfo(lookup);
      if (!info) throw new Error(`${lookup} not found by the client`);
    } finally {
      proxy.stop(true);
    }
    return files;
  };

  const before = await refresh("identity");
  const gzip = await refresh("gzip, deflate, br"); // what Node's fetch offers
  const after = await refresh(null); // what tuf-js under Bun offers (zstd too)
  const total = (f: { bytes: number }[]) => f.reduce((n, x) => n + x.bytes, 0);
  for (const [label, files] of [
    ["uncompressed", before],
    ["gzip (Node's fetch)", gzip],
    ["zstd (Bun's fetch)", after],
  ] as const) {
    console.log(`${label}: ${total(files)} bytes`);
    for (const f of files) console.log(`  ${f.path} ${f.bytes} (${f.encoding})`);
  }
  console.log(
    JSON.stringify({
      bench: "wire",
      bins,
      existing,
      fresh_refresh_bytes_identity: total(before),
      fresh_refresh_bytes_gzip: total(gzip),
      fresh_refresh_bytes_compressed: total(after),
      ratio: +(total(before) / total(after)).toFixed(2),
    }),
  );
} finally {
  await s.stop();
  rmSync(s.dataDir, { recursive: true, force: true });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
