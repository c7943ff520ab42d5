/**
 * The container image, built and run here: scripts/image.sh builds the
 * Dockerfile's runtime stage (FROM scratch: the release's x64 binary and its
 * glibc files) with buildah, in a private storage folder; the test checks the
 * image's configuration against what the Dockerfile declares, then runs it
 * with `buildah run` (it shares the host's network) and fetches /healthz and
 * timestamp.json, and runs the image's own HEALTHCHECK command inside it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { releaseFile, REPO } from "../helpers/release.ts";
import { tempDir } from "../helpers/temp.ts";
import { onPath, withTools } from "../helpers/tools.ts";

withTools("test/release/image.test.ts", [onPath("buildah", "apt-get install buildah")], () => {
  const tag = `localhost/tufbox-test-${process.pid}:latest`;
  const container = `tufbox-test-${process.pid}`;
  let env: Record<string, string>;
  let buildOutput = "";

  const buildah = (args: string[], opts: { stdin?: "ignore" } = {}) =>
    Bun.spawn(["buildah", ...args], { env, stdout: "pipe", stderr: "pipe", ...opts });
  async function buildahText(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const p = buildah(args);
    const [out, err, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    return { code, out, err };
  }

  beforeAll(async () => {
    // A storage of our own: nothing is added to (or collides with) the machine's images.
    const store = tempDir("tufbox-image-store-");
    writeFileSync(
      join(store, "storage.conf"),
      `[storage]\ndriver = "vfs"\ngraphroot = "${store}/graph"\nrunroot = "${store}/run"\n`,
    );
    env = { ...(process.env as Record<string, string>), CONTAINERS_STORAGE_CONF: join(store, "storage.conf") };
    const binary = await releaseFile("tufbox-linux-x64");
    const p = Bun.spawn([join(REPO, "scripts/image.sh"), "--binary", binary, "--tag", tag], {
      cwd: REPO,
      env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    buildOutput = out + err;
    if (code !== 0) throw new Error(`scripts/image.sh failed (exit ${code}):\n${buildOutput}`);
  }, 600_000);

  afterAll(async () => {
    await buildahText(["rm", container]);
    await buildahText(["rmi", "--force", tag]);
  }, 120_000);

  test("scripts/image.sh reports the image and its size", () => {
    const line = /image\.sh: built (\S+) \(linux\/amd64, ([\d.]+ [kMG]B)\)/.exec(buildOutput);
    expect(line?.[1]).toBe(tag);
    console.log(`image ${tag}: ${line?.[2]}`);
  });

  test("the image is configured as the Dockerfile says: scratch, uid 10001, /data volume, healthcheck", async () => {
    const r = await buildahText(["inspect", "--type", "image", tag]);
    expect(r.code).toBe(0);
    const image = JSON.parse(r.out);
    const config = image.Docker.config;
    expect(config.User).toBe("10001:10001");
    expect(Object.keys(config.Volumes)).toEqual(["/data"]);
    expect(Object.keys(config.ExposedPorts)).toEqual(["8080/tcp"]);
    expect(config.Entrypoint).toEqual(["/usr/local/bin/tufbox"]);
    expect(config.Cmd).toEqual(["quickstart"]);
    expect(config.Env).toContain("TUFBOX_LISTEN=0.0.0.0:8080");
    expect(config.Env).toContain("TUFBOX_DATA_DIR=/data");
    expect(config.Healthcheck.Test).toEqual(["CMD", "/usr/local/bin/tufbox", "healthcheck"]);
    // FROM scratch: buildah commits the build as one layer, and there is no base image's layer under it.
    expect(image.Docker.rootfs.diff_ids).toHaveLength(1);
    // The Dockerfile declares the same (it is the file image.sh builds).
    const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(runtime).toStartWith("\nFROM scratch\n");
    expect(runtime).toContain("USER 10001:10001");
    expect(runtime).toContain("VOLUME /data");
    expect(runtime).toContain('CMD ["/usr/local/bin/tufbox", "healthcheck"]');
  });

  test("buildah run: a quickstart answers /healthz and serves timestamp.json; the image's healthcheck passes", async () => {
    expect((await buildahText(["from", "--name", container, tag])).code).toBe(0);
    // A free port for TUFBOX_LISTEN, so the HEALTHCHECK command runs as configured (no flags).
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const listen = `127.0.0.1:${probe.port}`;
    probe.stop(true);
    const run = (args: string[]): Subprocess<"ignore", "pipe", "pipe"> =>
      buildah(["run", "--isolation", "chroot", "--env", `TUFBOX_LISTEN=${listen}`, container, "--", ...args], {
        stdin: "ignore",
      }) as Subprocess<"ignore", "pipe", "pipe">;
    const healthcheck = async () => {
      const p = run(["/usr/local/bin/tufbox", "healthcheck"]);
      const [out, err, code] = await Promise.all([
        new Response(p.stdout).text(),
        new Response(p.stderr).text(),
        p.exited,
      ]);
      return { code, text: out + err };
    };
    const server = run(["/usr/local/bin/tufbox", "quickstart", "--bins", "16"]);
    let out = "";
    void (async () => {
      for await (const chunk of server.stderr) out += new TextDecoder().decode(chunk);
    })();
    try {
      const reader = server.stdout.getReader();
      while (!out.includes(`listening on http://${listen}`)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the container exited (${await server.exited}):\n${out}`);
        out += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const health = await fetch(`http://${listen}/healthz`);
      expect(health.status).toBe(200);
      const ts = await fetch(`http://${listen}/metadata/timestamp.json`);
      expect(ts.status).toBe(200);
      expect(((await ts.json()) as any).signed._type).toBe("timestamp");
      // The HEALTHCHECK command, inside the container, as the image runs it.
      const ok = await healthcheck();
      expect(ok.text).toContain(`http://${listen}/healthz: ok`);
      expect(ok.code).toBe(0);
    } finally {
      server.kill("SIGTERM");
      await server.exited;
    }
    // With the service gone the same check fails.
    const down = await healthcheck();
    expect(down.code).not.toBe(0);
    expect(down.text).toContain("cannot connect");
  }, 300_000);
});
