/**
 * The arm64 release binary runs: under qemu user-mode emulation with the
 * arm64 glibc from Debian's libc6-arm64-cross, it prints its version, then
 * runs a quickstart with 16 bins and serves timestamp.json. Emulation is
 * slow (tens of seconds to start), hence the generous limits.
 */
import { expect, test } from "bun:test";
import { releaseFile } from "../helpers/release.ts";
import { tempDir } from "../helpers/temp.ts";
import { fileExists, onPath, withTools } from "../helpers/tools.ts";

const SYSROOT = "/usr/aarch64-linux-gnu";

withTools(
  "test/release/arm64.test.ts",
  [
    onPath("qemu-aarch64-static", "apt-get install qemu-user-static"),
    fileExists(`${SYSROOT}/lib/ld-linux-aarch64.so.1`, "apt-get install libc6-arm64-cross"),
  ],
  () => {
    const emulated = (binary: string, args: string[]) => ["qemu-aarch64-static", "-L", SYSROOT, binary, ...args];

    test("tufbox-linux-arm64 version", async () => {
      const binary = await releaseFile("tufbox-linux-arm64");
      const proc = Bun.spawn(emulated(binary, ["version"]), { cwd: "/", stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(out).toMatch(/^tufbox \d+\.\d+\.\d+ \([^)]+\) bun [\d.]+ linux-arm64\n$/);
    }, 300_000);

    test("tufbox-linux-arm64 quickstart --bins 16 serves a signed timestamp.json", async () => {
      const binary = await releaseFile("tufbox-linux-arm64");
      const dataDir = tempDir("tufbox-arm64-");
      const proc = Bun.spawn(
        emulated(binary, ["quickstart", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--bins", "16"]),
        { cwd: "/", stdout: "pipe", stderr: "pipe", env: { ...process.env, TUFBOX_LOG_FORMAT: "json" } },
      );
      let out = "";
      void (async () => {
        for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) out += new TextDecoder().decode(chunk);
      })();
      try {
        const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
        let url: string | undefined;
        while (url === undefined) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`quickstart under qemu exited (${await proc.exited}):\n${out}`);
          out += new TextDecoder().decode(value);
          url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
        }
        reader.releaseLock();
        const res = await fetch(`${url}/metadata/timestamp.json`);
        expect(res.status).toBe(200);
        const ts = (await res.json()) as any;
        expect(ts.signed._type).toBe("timestamp");
        expect(ts.signatures.length).toBe(1);
        const bin = await fetch(`${url}/metadata/1.bins-f.json`);
        expect(bin.status).toBe(200);
        expect(((await bin.json()) as any).signed._type).toBe("targets");
      } finally {
        proc.kill("SIGTERM");
        await proc.exited;
      }
    }, 300_000);
  },
);
