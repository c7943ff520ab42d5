/**
 * Crash safety: kill -9 the server while artifacts are being added, restart
 * it, and show that every artifact whose request got a 202 is published and
 * verifiable with tuf-js, and that the repository stayed intact.
 */
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { binsPayload } from "../helpers/fixtures.ts";
import { tempDir } from "../helpers/server.ts";
import { call, spawnServer, waitTaskAt } from "../helpers/process.ts";
import { tufClient } from "../helpers/tufjs.ts";

test("every artifact acknowledged with 202 before a kill -9 is published after restart", async () => {
  const dataDir = tempDir("tufbox-crash-");
  const clientDir = tempDir("tufbox-crash-client-");
  let server = await spawnServer(dataDir);
  try {
    const b = await call(server.url, "POST", "/api/v1/bootstrap", binsPayload(16));
    expect(b.status).toBe(202);
    expect((await waitTaskAt(server.url, b.body.data.task_id)).state).toBe("SUCCESS");
    const trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());

    const acknowledged: { path: string; taskId: string }[] = [];
    let sent = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 2000; i++) {
        const paths = [0, 1, 2].map((j) => `crash/w${w}/a${i}-${j}.bin`);
        sent++;
        try {
          const r = await call(server.url, "POST", "/api/v1/artifacts", {
            artifacts: paths.map((path) => ({ path, info: { length: 1, hashes: { sha256: "ab".repeat(32) } } })),
          });
          if (r.status === 202) for (const path of paths) acknowledged.push({ path, taskId: r.body.data.task_id });
        } catch {
          return; // connection reset by the kill: this request was never acknowledged
        }
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    // Let a few hundred requests through, then kill without warning.
    while (acknowledged.length < 600) await Bun.sleep(5);
    server.proc.kill("SIGKILL");
    stop = true;
    await server.proc.exited;
    await Promise.all(workers);
    expect(acknowledged.length).toBeGreaterThanOrEqual(600);

    server = await spawnServer(dataDir);
    for (const taskId of new Set(acknowledged.map((a) => a.taskId))) {
      expect((await waitTaskAt(server.url, taskId)).state).toBe("SUCCESS");
    }
    const client = tufClient(server.url, join(clientDir, "c"), trustedRoot);
    await client.refresh();
    const { Updater } = await import("tuf-js");
    const updater = new Updater({
      metadataBaseUrl: `${server.url}/metadata`,
      metadataDir: join(clientDir, "c", "metadata"),
      targetDir: join(clientDir, "c", "t"),
    });
    await updater.refresh();
    for (const { path } of acknowledged) expect((await updater.getTargetInfo(path))?.path).toBe(path);
    console.log(
      `crash test: ${sent} requests sent, ${acknowledged.length} artifacts acknowledged before kill -9, all published after restart`,
    );
  } finally {
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(clientDir, { recursive: true, force: true });
  }
}, 120_000);
