/**
 * The README's operator journey works as typed: every `tufbox …` line of its
 * "Keys, ceremony and rotation" block runs, in order, through a shell, with
 * the release's x64 binary on PATH as `tufbox` (what the README's install line
 * puts there), against `tufbox serve` started from that same binary. The only
 * stand-ins are what the README leaves to the reader: a passphrase
 * (TUFBOX_KEY_PASSPHRASE), the server's URL and token, copying the online
 * keys into the server's key directory, and the artifact file (and its bytes
 * in the server's targets directory, where `artifact add` says clients find
 * them). A README edit
 * that breaks a command fails here.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { releaseFile, REPO } from "./helpers/release.ts";
import { tempDir } from "./helpers/temp.ts";
import { tufClient } from "./helpers/tufjs.ts";

const README = readFileSync(join(REPO, "README.md"), "utf8");
const TOKEN = "readme-journey-admin-token-0123456789";

/** The shell commands of the first ```sh block after `heading`, continuation lines joined, comments dropped. */
function commandsUnder(heading: string): string[] {
  const section = README.slice(README.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error(`no sh block under ${heading}`);
  return block
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

const commands = commandsUnder("## Keys, ceremony and rotation with the same binary");

test("the README block has the journey's steps", () => {
  expect(commands.filter((c) => c.startsWith("tufbox ")).length).toBeGreaterThanOrEqual(10);
  expect(README).toContain("sudo install -m 0755 dist/tufbox-linux-x64 /usr/local/bin/tufbox");
});

let work: string;
let bin: string;
let keyDir: string;
let server: Subprocess<"ignore", "pipe", "pipe">;
let url: string;

beforeAll(async () => {
  work = tempDir("tufbox-readme-");
  bin = join(work, ".bin");
  keyDir = join(work, ".server-keys");
  mkdirSync(bin);
  mkdirSync(keyDir);
  symlinkSync(await releaseFile("tufbox-linux-x64"), join(bin, "tufbox"));
  mkdirSync(join(work, "dist"));
  writeFileSync(join(work, "dist/app-1.0.tar.gz"), "app 1.0 bytes");
  server = Bun.spawn(
    [
      join(bin, "tufbox"),
      "serve",
      "--data-dir",
      join(work, ".server-data"),
      "--listen",
      "127.0.0.1:0",
      "--online-key-dir",
      keyDir,
    ],
    { cwd: work, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, TUFBOX_ADMIN_TOKEN: TOKEN } },
  );
  let out = "";
  const reader = server.stdout.getReader();
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`tufbox serve exited:\n${out}${await new Response(server.stderr).text()}`);
    out += new TextDecoder().decode(value);
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
  }
  reader.releaseLock();
}, 300_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await server?.exited;
});

test("every command of the journey, as typed, exits 0; tuf-js then trusts the rotated root", async () => {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${bin}:${process.env.PATH}`,
    TUFBOX_KEY_PASSPHRASE: "correct horse battery staple",
    NO_COLOR: "1",
  };
  for (const command of commands) {
    if (command.startsWith("export ")) {
      // The README's placeholders stand for this test server and its token.
      env.TUFBOX_SERVER = url;
      env.TUFBOX_TOKEN = TOKEN;
      continue;
    }
    const p = Bun.spawn(["sh", "-c", command], { cwd: work, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    if (code !== 0) throw new Error(`README command failed (exit ${code}): ${command}\n${out}${err}`);
    // "copy `online` into the server's online key directory", "copy into the online key directory too".
    for (const name of ["online", "online2"])
      if (command.includes(`--out ${name} `)) copyFileSync(join(work, name), join(keyDir, name));
    if (command.startsWith("tufbox bootstrap")) expect(out + err).toContain("pending signatures");
    if (command.startsWith("tufbox status")) expect(out).toMatch(/bootstrap +finished/);
    if (command.startsWith("tufbox bins advise")) expect(out).toMatch(/^recommended +256 bins: .*\(as now\)$/m);
  }
  const root2 = await fetch(`${url}/metadata/2.root.json`);
  expect(root2.status).toBe(200);
  // The artifact's bytes go where `artifact add` said clients find them (the server's targets directory).
  mkdirSync(join(work, ".server-data/targets/releases"), { recursive: true });
  copyFileSync(join(work, "dist/app-1.0.tar.gz"), join(work, ".server-data/targets/releases/app-1.0.tar.gz"));
  // A client that trusts root v1 walks to v2 (signed by both thresholds) and downloads the artifact.
  const root1 = new Uint8Array(await (await fetch(`${url}/metadata/1.root.json`)).arrayBuffer());
  const client = tufClient(url, tempDir("tufbox-readme-client-"), root1);
  await client.refresh();
  expect(client.version("root")).toBe(2);
  expect(new TextDecoder().decode(await client.download("releases/app-1.0.tar.gz"))).toBe("app 1.0 bytes");
}, 300_000);
