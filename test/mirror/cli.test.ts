/**
 * `tufbox mirror` as an operator runs it: configured through TUFBOX_MIRROR_*
 * environment variables (and a config file), a process that syncs, serves,
 * and stops on SIGTERM; usage errors with a hint and exit code 2.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tufClient } from "../helpers/tufjs.ts";
import { tempDir } from "../helpers/server.ts";
import { runCli } from "../cli/helpers.ts";
import { artifact, publish, startUpstream, type Upstream } from "./helpers.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
const work = tempDir("tufbox-mirror-cli-");
let up: Upstream;
let rootFile: string;
const a = artifact("apps/tool-3.2.tgz", "tool");

beforeAll(async () => {
  up = await startUpstream(4);
  await publish(up, [a]);
  rootFile = join(work, "1.root.json");
  writeFileSync(rootFile, up.trustedRoot);
}, 60_000);

afterAll(async () => {
  await up?.server.stop();
  rmSync(work, { recursive: true, force: true });
});

test("configured by environment and config file, the mirror process syncs, prefetches, serves and stops", async () => {
  const config = join(work, "mirror.yaml");
  writeFileSync(config, `mirror:\n  prefetch: ["apps/**"]\n  interval_seconds: 3600\n`);
  const proc = Bun.spawn(["bun", MAIN, "mirror", "--config", config, "--listen", "127.0.0.1:0"], {
    env: {
      ...process.env,
      TUFBOX_MIRROR_UPSTREAM: up.url,
      TUFBOX_MIRROR_ROOT: rootFile,
      TUFBOX_DATA_DIR: join(work, "data"),
      TUFBOX_LOG_FORMAT: "json",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += new TextDecoder().decode(chunk);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  try {
    const listening = /mirror listening on (http:\/\/127\.0\.0\.1:\d+)/;
    while (!listening.test(out)) {
      if (proc.exitCode !== null) throw new Error(out);
      await Bun.sleep(20);
    }
    const url = listening.exec(out)![1]!;
    let status: any;
    for (;;) {
      status = ((await (await fetch(`${url}/api/v1/mirror`)).json()) as any).data;
      if ((status.targets.fetched > 0 && status.events_connected) || proc.exitCode !== null) break;
      await Bun.sleep(20);
    }
    expect(status).toMatchObject({
      upstream: up.url,
      interval_seconds: 3600,
      prefetch: ["apps/**"],
      stale_since: null,
    });
    expect(status.targets.fetched).toBe(1);
    const client = tufClient(url, join(work, "client"), up.trustedRoot);
    await client.refresh();
    expect(await client.download(a.path)).toEqual(a.bytes);
    // The upstream pushed its version over the change feed.
    expect(status.events_connected).toBe(true);
  } finally {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  }
  expect(out).toContain('"msg":"stopping"');
}, 60_000);

test("usage errors say what is wrong and exit 2", async () => {
  const noRoot = await runCli(["mirror", "--upstream", up.url, "--data-dir", join(work, "x")], { cwd: work });
  expect(noRoot.code).toBe(2);
  expect(noRoot.stderr).toContain("--root is required");
  expect(noRoot.stderr).toContain("hint:");
  const notARoot = join(work, "not-a-root.json");
  writeFileSync(notARoot, JSON.stringify({ signed: {}, signatures: [] }));
  const bad = await runCli(["mirror", "--root", notARoot, "--upstream", up.url], { cwd: work });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("cannot be trusted");
  const badEnv = await runCli(["mirror", "--root", rootFile], {
    cwd: work,
    env: { TUFBOX_MIRROR_INTERVAL_SECONDS: "0" },
  });
  expect(badEnv.code).toBe(2);
  expect(badEnv.stderr).toContain("mirror.interval_seconds");
  const help = await runCli(["mirror", "--help"], { cwd: work });
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("--prefetch GLOB");
  const exportHelp = await runCli(["export", "--help"], { cwd: work });
  expect(exportHelp.stdout).toContain("--all-versions");
}, 60_000);
