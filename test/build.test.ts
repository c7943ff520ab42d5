/**
 * The compiled binary, as users get it: the linux-x64 binary of `bun run
 * release` (test/helpers/release.ts builds it once per test run), then the
 * binary itself runs a quickstart (from another working directory, so
 * nothing is read from the source tree), accepts an artifact with the printed
 * token, and tuf-js verifies what it serves, and the dashboard's page and
 * its scripts load. Catches packaging mistakes such as a worker entry point
 * or the static/ bundle missing from the binary: the publication of a
 * thousand artifacts into 512 bins uses the signing and verification
 * workers, and a worker that fails to load fails the publication (it is then
 * retried on the publisher's thread, and the log says why).
 */
import { expect, test } from "bun:test";
import { rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { releaseFile } from "./helpers/release.ts";
import { tempDir } from "./helpers/server.ts";
import { tufClient } from "./helpers/tufjs.ts";

test("the compiled linux-x64 binary serves a quickstart repository that tuf-js verifies", async () => {
  if (process.arch !== "x64") return;
  const binary = await releaseFile("tufbox-linux-x64");
  expect(existsSync(binary)).toBe(true);
  const version = Bun.spawnSync([binary, "version"], { cwd: "/" });
  expect(version.stdout.toString()).toMatch(/^tufbox \d+\.\d+\.\d+ \(/);

  const dataDir = tempDir("tufbox-bin-");
  const clientDir = tempDir("tufbox-bin-client-");
  const proc = Bun.spawn([binary, "quickstart", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--bins", "512"], {
    cwd: "/",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, TUFBOX_LOG_FORMAT: "json" },
  });
  try {
    let out = "";
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const deadline = Date.now() + 30_000;
    while (!/listening on (http:\/\/127\.0\.0\.1:\d+)/.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value);
    }
    // The rest of the log, read as it comes (a pipe nobody reads would stall the server).
    const rest = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        out += decoder.decode(value);
      }
    })();
    const errors = new Response(proc.stderr as ReadableStream<Uint8Array>).text();
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    const token = /\n\s+(tufbox_[A-Za-z0-9_-]+)\n/.exec(out)?.[1];
    expect(url).toBeDefined();
    expect(token).toBeDefined();
    const r = await fetch(`${url}/api/v1/artifacts`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        artifacts: [
          { path: "bin/app.tar.gz", info: { length: 3, hashes: { sha256: "ab".repeat(32) } } },
          ...Array.from({ length: 1000 }, (_, i) => ({
            path: `bin/more-${i}.tar.gz`,
            info: { length: i, hashes: { sha256: i.toString(16).padStart(64, "0") } },
          })),
        ],
      }),
    });
    expect(r.status).toBe(202);
    const taskId = ((await r.json()) as any).data.task_id;
    for (let i = 0; i < 500; i++) {
      const t: any = await (
        await fetch(`${url}/api/v1/task?task_id=${taskId}`, { headers: { authorization: `Bearer ${token}` } })
      ).json();
      if (t.data.state === "SUCCESS") break;
      await Bun.sleep(20);
    }
    const root = new Uint8Array(await (await fetch(`${url}/metadata/1.root.json`)).arrayBuffer());
    const client = tufClient(url!, clientDir, root);
    await client.refresh();
    const { Updater } = await import("tuf-js");
    const u = new Updater({
      metadataBaseUrl: `${url}/metadata`,
      metadataDir: join(clientDir, "metadata"),
      targetDir: join(clientDir, "t"),
    });
    await u.refresh();
    expect((await u.getTargetInfo("bin/app.tar.gz"))?.length).toBe(3);

    // The dashboard and the docs page are bundled into the binary (no static/ next to it: cwd is /).
    const page = await fetch(`${url}/`, { headers: { "accept-encoding": "gzip" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="\.?(\/[\w.-]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const a = await fetch(`${url}${asset}`);
      expect(a.status).toBe(200);
      expect((await a.text()).length).toBeGreaterThan(100);
    }
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    proc.kill("SIGTERM");
    await proc.exited;
    await rest;
    // Published at the first attempt: no worker failed to load.
    expect(`${out}${await errors}`).not.toContain("publish failed");
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(clientDir, { recursive: true, force: true });
  }
}, 120_000);
