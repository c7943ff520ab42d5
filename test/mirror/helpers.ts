/** An upstream tufbox, artifacts with bytes, and a mirror in this process, for the mirror tests. */
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { expect } from "bun:test";
import { createLogger, silentLogger, type Logger } from "../../src/log.ts";
import { Mirror, type MirrorOptions } from "../../src/mirror/mirror.ts";
import { serveMirror, type MirrorServer } from "../../src/mirror/http.ts";
import { readAnchor } from "../../src/mirror/state.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";

export interface Upstream {
  server: TestServer;
  url: string;
  trustedRoot: Uint8Array;
}

export async function startUpstream(bins = 16, dataDir?: string): Promise<Upstream> {
  const server = await startTestServer({
    dataDir,
    flags: { "scheduler-period-seconds": "3600" } as Record<string, string>,
  });
  const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(bins));
  expect(r.status).toBe(202);
  const task = await server.waitTask(r.body.data.task_id, 120_000);
  expect(task.state).toBe("SUCCESS");
  const trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
  return { server, url: server.url, trustedRoot };
}

export interface Artifact {
  path: string;
  bytes: Uint8Array<ArrayBuffer>;
  info: { length: number; hashes: Record<string, string> };
}

/** An artifact listed with sha256 and sha512, or with `algorithms` (e.g. only blake2b-256, as RSTUF's CLI does). */
export function artifact(
  path: string,
  content: string,
  algorithms: Record<string, string> = { sha256: "sha256", sha512: "sha512" },
): Artifact {
  const bytes = new TextEncoder().encode(content);
  const hashes: Record<string, string> = {};
  for (const [name, digest] of Object.entries(algorithms))
    hashes[name] = createHash(digest).update(bytes).digest("hex");
  return { path, bytes, info: { length: bytes.length, hashes } };
}

/** Writes the artifacts' bytes into the upstream's targets directory and publishes them. */
export async function publish(up: Upstream, items: Artifact[]): Promise<void> {
  for (const a of items) {
    const file = join(up.server.app.config.targets.dir, a.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, a.bytes);
  }
  const r = await up.server.api("POST", "/api/v1/artifacts", {
    artifacts: items.map(({ path, info }) => ({ path, info })),
  });
  expect(r.status).toBe(202);
  const task = await up.server.waitTask(r.body.data.task_id);
  expect(task.state).toBe("SUCCESS");
}

export function timestampVersion(bytes: Uint8Array): number {
  return JSON.parse(new TextDecoder().decode(bytes)).signed.version;
}

export interface TestMirror {
  mirror: Mirror;
  server: MirrorServer;
  url: string;
  dataDir: string;
  logs: string[];
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export function testLogger(lines: string[]): Logger {
  return process.env.TUFBOX_TEST_LOG
    ? createLogger({ level: "debug", format: "text" })
    : createLogger({ level: "debug", format: "json", write: (line) => void lines.push(line) });
}

export async function startMirror(
  upstream: string | undefined,
  trustedRoot: Uint8Array,
  opts: Partial<MirrorOptions> & { dataDir?: string; start?: boolean } = {},
): Promise<TestMirror> {
  const dataDir = opts.dataDir ?? tempDir("tufbox-mirror-");
  const logs: string[] = [];
  const mirror = await Mirror.open({
    dataDir,
    anchor: readAnchor(trustedRoot, "trusted root"),
    upstream,
    prefetch: [],
    intervalSeconds: 3600,
    log: opts.log ?? testLogger(logs),
    ...opts,
  });
  const server = serveMirror(mirror, { hostname: "127.0.0.1", port: 0, log: silentLogger() });
  if (opts.start !== false) mirror.start();
  return {
    mirror,
    server,
    url: server.url,
    dataDir,
    logs,
    async stop(o = {}) {
      await server.stop();
      await mirror.stop();
      if (!o.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` holds (polling); fails the test with `what` after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(5);
  }
}
