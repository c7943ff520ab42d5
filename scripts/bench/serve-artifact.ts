/**
 * Serving one large artifact (default 100 MiB): tufbox (uploaded through the
 * API, served from local content storage with Bun.file / sendfile under
 * /targets/<dir>/<sha256>.<name>) against nginx serving the same file from
 * disk, wrk on the same machine, same run.
 *   bun scripts/bench/serve-artifact.ts [--mib 100] [--seconds 5] [--connections 4] [--rounds 3]
 * Needs nginx and wrk (apt-get install -y nginx-light wrk). Prints figures and one JSON line.
 */
import { chmodSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { TOKEN, tempDir } from "../../test/helpers/server.ts";
import { bootstrappedServer, flag, waitTaskAt } from "./lib.ts";

const mib = flag("mib", 100);
const seconds = flag("seconds", 5);
const connections = flag("connections", 4);
const rounds = flag("rounds", 3);

function findTool(name: string): string | undefined {
  return Bun.which(name) ?? [`/usr/sbin/${name}`, `/usr/bin/${name}`].find((p) => existsSync(p));
}

function freePort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

async function wrk(path: string, url: string): Promise<{ rps: number; mibps: number }> {
  const proc = Bun.spawn([path, "-t2", `-c${connections}`, `-d${seconds}s`, url], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  if (/Non-2xx or 3xx/.test(out)) throw new Error(`non-2xx from ${url}:\n${out}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const t = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const unit = { B: 1 / 1024 ** 2, KB: 1 / 1024, MB: 1, GB: 1024 }[t?.[2] ?? "MB"] ?? 1;
  return { rps, mibps: Number(t?.[1]) * unit };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const wrkPath = findTool("wrk");
const nginxPath = findTool("nginx");
if (!wrkPath || !nginxPath) {
  console.error("missing nginx or wrk: apt-get install -y nginx-light wrk");
  process.exit(2);
}
const work = tempDir("tufbox-bench-serve-");
chmodSync(work, 0o755);
const { server, dataDir } = await bootstrappedServer(256);
let nginx: Bun.Subprocess | undefined;
try {
  const www = join(work, "www", "targets", "bench");
  mkdirSync(www, { recursive: true });
  mkdirSync(join(work, "tmp"), { recursive: true });
  const file = join(www, "artifact.bin");
  const fd = openSync(file, "w");
  const block = new Uint8Array(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    block[0] = i & 0xff;
    writeSync(fd, block);
  }
  closeSync(fd);
  const res = await fetch(`${server.url}/api/v1/artifacts/content/bench/artifact.bin`, {
    method: "PUT",
    headers: { authorization: `Bearer ${TOKEN}` },
    body: Bun.file(file),
  });
  const body = (await res.json()) as any;
  await waitTaskAt(server.url, body.data.task_id);
  const sha = body.data.hashes.sha256 as string;
  // nginx serves the same bytes under the same hashed name.
  writeFileSync(join(www, `${sha}.artifact.bin`), await Bun.file(file).bytes());
  const port = freePort();
  writeFileSync(
    join(work, "nginx.conf"),
    `worker_processes auto; daemon off; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log warn;
events { worker_connections 1024; }
http { access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path ${work}/tmp; proxy_temp_path ${work}/tmp; fastcgi_temp_path ${work}/tmp; uwsgi_temp_path ${work}/tmp; scgi_temp_path ${work}/tmp;
  server { listen 127.0.0.1:${port}; root ${work}/www; } }
`,
  );
  nginx = Bun.spawn([nginxPath, "-p", work, "-c", join(work, "nginx.conf")], { stdout: "ignore", stderr: "inherit" });
  const path = `/targets/bench/${sha}.artifact.bin`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}${path}`, { method: "HEAD" })).ok) break;
    } catch {}
    await Bun.sleep(50);
  }
  const urls = { tufbox: `${server.url}${path}`, nginx: `http://127.0.0.1:${port}${path}` };
  for (const u of Object.values(urls)) {
    const got = await fetch(u);
    const bytes = new Uint8Array(await got.arrayBuffer());
    if (got.status !== 200 || bytes.length !== mib * 1024 * 1024) throw new Error(`${u} does not serve the artifact`);
  }
  const results: Record<string, { rps: number; mibps: number }[]> = { tufbox: [], nginx: [] };
  for (let r = 0; r < rounds; r++)
    for (const [name, u] of Object.entries(urls)) results[name]!.push(await wrk(wrkPath, u));
  const t = { rps: median(results.tufbox!.map((x) => x.rps)), mibps: median(results.tufbox!.map((x) => x.mibps)) };
  const n = { rps: median(results.nginx!.map((x) => x.rps)), mibps: median(results.nginx!.map((x) => x.mibps)) };
  console.log(`${mib} MiB artifact, wrk -t2 -c${connections} -d${seconds}s, median of ${rounds}:`);
  console.log(`  tufbox ${t.rps.toFixed(1)} req/s, ${t.mibps.toFixed(0)} MiB/s`);
  console.log(`  nginx  ${n.rps.toFixed(1)} req/s, ${n.mibps.toFixed(0)} MiB/s`);
  console.log(`  ratio tufbox/nginx ${(t.mibps / n.mibps).toFixed(2)}`);
  console.log(
    JSON.stringify({
      bench: "serve-artifact",
      mib,
      connections,
      tufbox_req_per_s: +t.rps.toFixed(1),
      tufbox_mib_per_s: Math.round(t.mibps),
      nginx_req_per_s: +n.rps.toFixed(1),
      nginx_mib_per_s: Math.round(n.mibps),
      ratio: +(t.mibps / n.mibps).toFixed(2),
    }),
  );
} finally {
  nginx?.kill("SIGTERM");
  await nginx?.exited;
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
