/**
 * The Raspberry Pi case: the linux-arm64 binary (bun run build -- --target
 * linux-arm64) runs `tufbox mirror` under qemu-aarch64-static, syncs from a
 * real tufbox, serves it, and tuf-js downloads a target through it (fetched,
 * verified and stored by the arm64 mirror on first request).
 *
 * Needs Debian's qemu-user-static and libc6-arm64-cross. Outside CI the test
 * is skipped with one line when they are missing; under CI=true it fails.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tufClient } from "../helpers/tufjs.ts";
import { tempDir } from "../helpers/server.ts";
import { artifact, publish, startUpstream, type Upstream } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const QEMU = "/usr/bin/qemu-aarch64-static";
const SYSROOT = "/usr/aarch64-linux-gnu";
const available = existsSync(QEMU) && existsSync(join(SYSROOT, "lib", "ld-linux-aarch64.so.1"));
const inCI = process.env.CI === "true";

if (!available && !inCI)
  console.log(
    `skipping the arm64 mirror test: ${QEMU} or ${SYSROOT} missing (apt-get install qemu-user-static libc6-arm64-cross)`,
  );

let up: Upstream;
const work = tempDir("tufbox-arm64-");

beforeAll(async () => {
  if (!available) return;
  up = await startUpstream(16);
}, 60_000);

afterAll(async () => {
  await up?.server.stop();
  rmSync(work, { recursive: true, force: true });
});

test.if(available || inCI)(
  "the linux-arm64 binary runs a mirror under qemu: sync, serve, one client download",
  async () => {
    expect(available).toBe(true);
    const build = Bun.spawnSync(["bun", "run", "build", "--", "--target", "linux-arm64"], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(build.exitCode).toBe(0);
    const binary = join(ROOT, "dist", "tufbox-linux-arm64");
    const a = artifact("firmware/pi-1.0.img", "firmware for an arm64 board");
    await publish(up, [a]);
    const rootFile = join(work, "1.root.json");
    writeFileSync(rootFile, up.trustedRoot);
    const proc = Bun.spawn(
      [
        QEMU,
        "-L",
        SYSROOT,
        binary,
        "mirror",
        "--upstream",
        up.url,
        "--root",
        rootFile,
        "--data-dir",
        join(work, "mirror"),
        "--listen",
        "127.0.0.1:0",
      ],
      { cwd: "/", stdout: "pipe", stderr: "pipe", env: { ...process.env, TUFBOX_LOG_FORMAT: "json" } },
    );
    let out = "";
    const collect = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) out += new TextDecoder().decode(chunk);
    };
    void collect(proc.stdout as ReadableStream<Uint8Array>);
    void collect(proc.stderr as ReadableStream<Uint8Array>);
    try {
      let url: string | undefined;
      // Emulated start-up is slow (about 10 s here); the first sync follows.
      for (let i = 0; i < 1200 && !url; i++) {
        url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
        if (proc.exitCode !== null) throw new Error(`the arm64 mirror exited (${proc.exitCode}):\n${out}`);
        await Bun.sleep(100);
      }
      expect(url, out).toBeDefined();
      for (let i = 0; i < 1200; i++) {
        if (/"msg":"synced"/.test(out)) break;
        await Bun.sleep(100);
      }
      expect(out).toContain('"msg":"synced"');
      const ready = (await (await fetch(`${url}/readyz`)).json()) as any;
      expect(ready.status).toBe("ready");
      const client = tufClient(url!, join(work, "client"), up.trustedRoot);
      await client.refresh();
      expect(await client.download(a.path)).toEqual(a.bytes);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  },
  300_000,
);
