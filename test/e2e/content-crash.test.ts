/**
 * kill -9 while artifact bytes are arriving — by upload and through the drop
 * directory — then restart: everything acknowledged (a 202; a drop directory
 * removed) is published, served and verifies with tuf-js; no partial file
 * is left (staging empty, every stored file's sha256 is its name); every
 * drop directory ends up added, exactly once.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binsPayload } from "../helpers/fixtures.ts";
import { tempDir, TOKEN } from "../helpers/server.ts";
import { call, spawnServer, waitTaskAt, type ServerProcess } from "../helpers/process.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { localFiles, sha256 } from "../helpers/upload.ts";

function bytesFor(w: number, i: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.fill((w * 31 + i) & 0xff);
  new DataView(b.buffer).setUint32(0, w * 100_000 + i);
  return b;
}

async function kill(server: ServerProcess): Promise<void> {
  server.proc.kill("SIGKILL");
  await server.proc.exited;
}

/** No partial content: staging is empty and every object's bytes hash to its name. */
function expectNoPartialFiles(contentDir: string): number {
  const { objects, staging } = localFiles(contentDir);
  expect(staging).toEqual([]);
  for (const name of objects) {
    const bytes = readFileSync(join(contentDir, "objects", "sha256", name.slice(0, 2), name));
    expect(sha256(bytes)).toBe(name);
  }
  return objects.length;
}

test("kill -9 during uploads and drop-directory batches loses nothing acknowledged and leaves no partial file", async () => {
  const dataDir = tempDir("tufbox-content-crash-");
  const drop = join(dataDir, "drop");
  const clientDir = tempDir("tufbox-content-crash-client-");
  const env = { TUFBOX_DROP_DIR: drop, TUFBOX_DROP_DIR_SCAN_SECONDS: "1" };
  let server = await spawnServer(dataDir, env);
  try {
    const b = await call(server.url, "POST", "/api/v1/bootstrap", binsPayload(16));
    expect((await waitTaskAt(server.url, b.body.data.task_id)).state).toBe("SUCCESS");
    const trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());

    // Drop-directory batches, written now, made ready while uploads run; the kill lands mid-batch.
    const batches = 12;
    for (let d = 0; d < batches; d++) {
      const tmp = join(drop, `tuf_tmp_b${d}`);
      mkdirSync(join(tmp, `b${d}`), { recursive: true });
      for (let f = 0; f < 16; f++) writeFileSync(join(tmp, `b${d}`, `f${f}.bin`), bytesFor(1000 + d, f, 512 * 1024));
    }

    // Uploads: several at once, some large enough to be in flight at the kill.
    const acknowledged: { path: string; bytes: Uint8Array; taskId: string }[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 500; i++) {
        const bytes = bytesFor(w, i, i % 5 === 4 ? 4 * 1024 * 1024 : 20_000);
        const path = `up/w${w}/a${i}.bin`;
        try {
          const res = await fetch(`${server.url}/api/v1/artifacts/content/${path}`, {
            method: "PUT",
            headers: { authorization: `Bearer ${TOKEN}` },
            body: bytes,
          });
          const body = (await res.json()) as any;
          if (res.status === 202) acknowledged.push({ path, bytes, taskId: body.data.task_id });
        } catch {
          return; // reset by the kill: never acknowledged
        }
      }
    };
    const workers = [0, 1, 2].map(worker);
    while (acknowledged.length < 20) await Bun.sleep(5);
    for (let d = 0; d < batches; d++) renameSync(join(drop, `tuf_tmp_b${d}`), join(drop, `tuf_ready_b${d}`));
    // Kill once the drop directory is being worked on (claimed or already finished for some).
    while (readdirSync(drop).every((n) => n.startsWith("tuf_ready_"))) await Bun.sleep(2);
    await Bun.sleep(30);
    await kill(server);
    stop = true;
    await Promise.all(workers);
    const left = readdirSync(drop).sort();

    server = await spawnServer(dataDir, env);
    for (const taskId of new Set(acknowledged.map((a) => a.taskId)))
      expect((await waitTaskAt(server.url, taskId)).state).toBe("SUCCESS");
    const deadline = Date.now() + 60_000;
    while (readdirSync(drop).length > 0) {
      if (Date.now() > deadline) throw new Error(`drop directory not drained: ${readdirSync(drop).join(", ")}`);
      await Bun.sleep(50);
    }
    // Every acknowledged upload and every drop-directory file, verified by tuf-js.
    const dropped: { path: string; bytes: Uint8Array }[] = [];
    for (let d = 0; d < batches; d++)
      for (let f = 0; f < 16; f++) dropped.push({ path: `b${d}/f${f}.bin`, bytes: bytesFor(1000 + d, f, 512 * 1024) });
    const client = tufClient(server.url, join(clientDir, "c"), trustedRoot);
    const last = dropped[dropped.length - 1]!.path;
    const waitUntil = Date.now() + 60_000;
    for (;;) {
      // The last drop batches may still be publishing.
      await client.refresh();
      if ((await client.download(last)) || Date.now() > waitUntil) break;
      await Bun.sleep(200);
    }
    for (const a of acknowledged) {
      const got = await client.download(a.path);
      expect(got && sha256(got)).toBe(sha256(a.bytes));
    }
    for (const x of dropped) {
      const got = await client.download(x.path);
      expect(got && sha256(got)).toBe(sha256(x.bytes));
    }
    // Every drop batch was added (its claim cleared), none failed.
    expect(readdirSync(drop).filter((n) => n.startsWith("tuf_failed_"))).toEqual([]);
    await kill(server);
    const objects = expectNoPartialFiles(join(dataDir, "content"));
    expect(objects).toBeGreaterThanOrEqual(acknowledged.length);
    console.log(
      `content crash test: ${acknowledged.length} uploads acknowledged before kill -9; drop directory at the kill: ${left.join(" ") || "(empty)"}; ${objects} content files intact after restart`,
    );
    expect(existsSync(join(dataDir, "content", "staging"))).toBe(true);
  } finally {
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(clientDir, { recursive: true, force: true });
  }
}, 240_000);
