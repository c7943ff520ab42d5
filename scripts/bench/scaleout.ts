/**
 * Scale-out benchmark: the same load against
 *   - one server on SQLite (the default),
 *   - one replica on PostgreSQL + Redis,
 *   - three replicas on PostgreSQL + Redis (requests spread round-robin),
 *   - three replicas on PostgreSQL without Redis (LISTEN/NOTIFY),
 * each bootstrapped with the same bins, measuring
 *   1. publish throughput: `--artifacts` added in requests of `--per-request`,
 *      `--concurrency` requests in flight in total, until every task is
 *      published and every replica serves the same timestamp (artifacts/s);
 *   2. add → visible latency at a steady `--rate` of single-artifact adds for
 *      `--seconds` (after a 3 s pause, on top of what phase 1 added): from sending the request until the timestamp that lists
 *      the artifact is served by the replica that took it ("local") and by
 *      every replica ("all"). Watchers poll each replica's timestamp.json
 *      every 2 ms; which timestamp version first lists an artifact is read back
 *      from the store afterwards (bin version → snapshot → timestamp).
 *
 *   bun scripts/bench/scaleout.ts [--bins 1024] [--artifacts 50000] [--per-request 100]
 *     [--concurrency 6] [--rate 50] [--seconds 10] [--only sqlite,pg1,pg3,pg3-notify]
 *
 * PostgreSQL and Redis: TUFBOX_TEST_POSTGRES_URL / TUFBOX_TEST_REDIS_URL when
 * set (each setup gets its own database, dropped afterwards), otherwise
 * throwaway servers from scripts/test-services.sh, stopped at the end.
 * Everything on 127.0.0.1. Last line of output: one JSON object.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { openStore } from "../../src/store/index.ts";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import { binsPayload } from "../../test/helpers/fixtures.ts";
import { call, spawnServer, waitTaskAt, type ServerProcess } from "../../test/helpers/process.ts";
import { tempDir } from "../../test/helpers/server.ts";
import { artifacts, flag, percentile } from "./lib.ts";

const bins = flag("bins", 1024);
const total = flag("artifacts", 50_000);
const perRequest = flag("per-request", 100);
const concurrency = flag("concurrency", 6);
const rate = flag("rate", 50);
const seconds = flag("seconds", 10);
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1]!.split(",") : ["sqlite", "pg1", "pg3", "pg3-notify"];

interface Setup {
  name: string;
  replicas: number;
  postgres: boolean;
  redis: boolean;
}
const SETUPS: Setup[] = [
  { name: "sqlite", replicas: 1, postgres: false, redis: false },
  { name: "pg1", replicas: 1, postgres: true, redis: true },
  { name: "pg3", replicas: 3, postgres: true, redis: true },
  { name: "pg3-notify", replicas: 3, postgres: true, redis: false },
].filter((s) => only.includes(s.name));

// ---------------------------------------------------------------- services

const SERVICES = join(import.meta.dir, "..", "test-services.sh");
let servicesEnv: string | null = null;
let pgUrl = process.env.TUFBOX_TEST_POSTGRES_URL ?? "";
let redisUrl = process.env.TUFBOX_TEST_REDIS_URL ?? "";
if (SETUPS.some((s) => s.postgres) && (!pgUrl || !redisUrl)) {
  const r = Bun.spawnSync(["bash", SERVICES, "start"], { stderr: "inherit" });
  if (r.exitCode !== 0)
    throw new Error("scripts/test-services.sh start failed (apt-get install -y postgresql redis-server?)");
  servicesEnv = r.stdout.toString().trim();
  const env = await Bun.file(servicesEnv).text();
  pgUrl = /TUFBOX_TEST_POSTGRES_URL=(\S+)/.exec(env)![1]!;
  redisUrl = /TUFBOX_TEST_REDIS_URL=(\S+)/.exec(env)![1]!;
  console.log(`started throwaway PostgreSQL and Redis (${pgUrl}, ${redisUrl})`);
}

// ---------------------------------------------------------------- one setup

interface Running {
  servers: ServerProcess[];
  dirs: string[];
  storeUrl: string;
  cleanup: () => Promise<void>;
}

async function start(setup: Setup): Promise<Running> {
  const dirs = Array.from({ length: setup.replicas }, () => tempDir("tufbox-bench-scaleout-"));
  const env = { TUFBOX_LOG_LEVEL: "warn" };
  if (!setup.postgres) {
    const server = await spawnServer(dirs[0]!, env);
    return {
      servers: [server],
      dirs,
      storeUrl: `sqlite:${join(dirs[0]!, "tufbox.db")}`,
      cleanup: async () => {
        server.proc.kill("SIGTERM");
        await server.proc.exited;
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      },
    };
  }
  const name = `tufbox_bench_${setup.name.replace(/\W/g, "_")}_${process.pid}`;
  const admin = new SQL(pgUrl, { max: 1 });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  const storeUrl = u.toString();
  const args = ["--database", storeUrl, ...(setup.redis ? ["--redis", redisUrl] : [])];
  const servers: ServerProcess[] = [];
  for (const d of dirs) servers.push(await spawnServer(d, env, "serve", args));
  return {
    servers,
    dirs,
    storeUrl,
    cleanup: async () => {
      for (const s of servers) s.proc.kill("SIGTERM");
      await Promise.all(servers.map((s) => s.proc.exited));
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

async function timestampBytes(url: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(`${url}/metadata/timestamp.json`)).arrayBuffer());
}

async function allServeSame(urls: string[]): Promise<boolean> {
  const all = await Promise.all(urls.map(timestampBytes));
  return all.every((b) => Buffer.compare(b, all[0]!) === 0);
}

/** Polls each replica's timestamp.json; remembers when each version was first seen there. */
function watch(urls: string[]): { seen: Map<number, number>[]; stop: () => Promise<void> } {
  const seen = urls.map(() => new Map<number, number>());
  let running = true;
  const loops = urls.map(async (url, i) => {
    let last = 0;
    while (running) {
      try {
        const v = ((await (await fetch(`${url}/metadata/timestamp.json`)).json()) as any).signed.version as number;
        if (v > last) {
          const now = performance.now();
          for (let k = last + 1; k <= v; k++) if (!seen[i]!.has(k)) seen[i]!.set(k, now);
          last = v;
        }
      } catch {
        // a replica restarting; not here
      }
      await Bun.sleep(2);
    }
  });
  return {
    seen,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Until every task is SUCCESS (published, in the same transaction as its timestamp). */
async function allPublished(tasks: { url: string; id: string }[]): Promise<void> {
  let open = tasks;
  while (open.length > 0) {
    const states = await Promise.all(
      open.map(async (t) => (await call(t.url, "GET", `/api/v1/task?task_id=${t.id}`)).body?.data?.state),
    );
    open = open.filter((_, i) => states[i] !== "SUCCESS");
    if (open.length > 0) await Bun.sleep(5);
  }
}

async function throughput(
  r: Running,
  urls: string[],
): Promise<{ artifacts_per_s: number; accept_per_s: number; publishes: number }> {
  const before = ((await (await fetch(`${urls[0]}/metadata/timestamp.json`)).json()) as any).signed.version as number;
  const t0 = performance.now();
  const tasks: { url: string; id: string }[] = [];
  let next = 0;
  let turn = 0;
  const worker = async () => {
    while (next < total) {
      const from = next;
      const n = Math.min(perRequest, total - from);
      next += n;
      const url = urls[turn++ % urls.length]!;
      const res = await call(url, "POST", "/api/v1/artifacts", { artifacts: artifacts("tput", from, n) });
      if (res.status !== 202) throw new Error(`add refused: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      tasks.push({ url, id: res.body.data.task_id });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const acceptedS = (performance.now() - t0) / 1000;
  await allPublished(tasks);
  while (!(await allServeSame(urls))) await Bun.sleep(2);
  const visibleS = (performance.now() - t0) / 1000;
  const after = ((await (await fetch(`${urls[0]}/metadata/timestamp.json`)).json()) as any).signed.version as number;
  void r;
  return {
    artifacts_per_s: Math.round(total / visibleS),
    accept_per_s: Math.round(total / acceptedS),
    publishes: after - before,
  };
}

async function latency(r: Running, urls: string[]) {
  const watcher = watch(urls);
  const sent: { i: number; at: number; replica: number; path: string; id: string }[] = [];
  const count = rate * seconds;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const replica = i % urls.length;
    const [a] = artifacts("lat", i, 1);
    const at = performance.now();
    inflight.push(
      call(urls[replica]!, "POST", "/api/v1/artifacts", { artifacts: [a] }).then((res) => {
        if (res.status !== 202) throw new Error(`add refused: ${res.status}`);
        sent.push({ i, at, replica, path: a!.path, id: res.body.data.task_id });
      }),
    );
  }
  await Promise.all(inflight);
  await allPublished(sent.map((s) => ({ url: urls[s.replica]!, id: s.id })));
  // Until every replica serves the newest timestamp (which lists all of them).
  for (;;) {
    if (await allServeSame(urls)) {
      const v = ((await (await fetch(`${urls[0]}/metadata/timestamp.json`)).json()) as any).signed.version as number;
      if (urls.every((_, k) => watcher.seen[k]!.has(v))) break;
    }
    await Bun.sleep(5);
  }
  await watcher.stop();

  // Which timestamp version first lists each artifact: from the store.
  const store = await openStore(r.storeUrl);
  const docs = await store.listDocuments();
  const decode = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)).signed;
  const versionsOf = (role: string) =>
    docs
      .filter((d) => d.role === role)
      .map((d) => d.version)
      .sort((x, y) => x - y);
  const succinct = new SuccinctBins(Math.log2(bins), "bins");
  const binVersionOf = new Map<string, number>(); // path → first bin version listing it
  const byBin = new Map<string, string[]>();
  for (const s of sent) {
    const bin = succinct.binForPath(s.path);
    byBin.set(bin, [...(byBin.get(bin) ?? []), s.path]);
  }
  for (const [bin, paths] of byBin) {
    const want = new Set(paths);
    for (const v of versionsOf(bin)) {
      const targets = decode((await store.getDocument(bin, v))!.bytes).targets as Record<string, unknown>;
      for (const p of want) {
        if (!(p in targets)) continue;
        binVersionOf.set(p, v);
        want.delete(p);
      }
      if (want.size === 0) break;
    }
  }
  // snapshot version → bin versions it lists; timestamp version → snapshot version
  const snapshots = versionsOf("snapshot");
  const snapshotMeta = new Map<number, Record<string, { version: number }>>();
  for (const v of snapshots) snapshotMeta.set(v, decode((await store.getDocument("snapshot", v))!.bytes).meta);
  const timestamps = versionsOf("timestamp");
  const timestampSnapshot = new Map<number, number>();
  for (const v of timestamps)
    timestampSnapshot.set(v, decode((await store.getDocument("timestamp", v))!.bytes).meta["snapshot.json"].version);
  await store.close();

  const local: number[] = [];
  const everywhere: number[] = [];
  for (const s of sent) {
    const bin = succinct.binForPath(s.path);
    const bv = binVersionOf.get(s.path);
    if (bv === undefined) throw new Error(`${s.path} is in no published ${bin}`);
    const sv = snapshots.find((v) => (snapshotMeta.get(v)![`${bin}.json`]?.version ?? 0) >= bv);
    const tv = timestamps.find((v) => timestampSnapshot.get(v)! >= sv!);
    if (tv === undefined) throw new Error(`${s.path}: no timestamp lists it`);
    const times = watcher.seen.map((m) => m.get(tv));
    if (times.some((t) => t === undefined)) throw new Error(`timestamp v${tv} never seen on some replica`);
    local.push(times[s.replica]! - s.at);
    everywhere.push(Math.max(...(times as number[])) - s.at);
  }
  local.sort((x, y) => x - y);
  everywhere.sort((x, y) => x - y);
  const ms = (x: number) => +Math.max(0, x).toFixed(1);
  return {
    requests: sent.length,
    local_p50_ms: ms(percentile(local, 50)),
    local_p99_ms: ms(percentile(local, 99)),
    all_p50_ms: ms(percentile(everywhere, 50)),
    all_p99_ms: ms(percentile(everywhere, 99)),
    all_max_ms: ms(everywhere.at(-1)!),
  };
}

// ---------------------------------------------------------------- main

const results: Record<string, unknown> = {};
try {
  for (const setup of SETUPS) {
    const label = setup.postgres
      ? `${setup.replicas} replica(s) on PostgreSQL${setup.redis ? " + Redis" : " (LISTEN/NOTIFY, no Redis)"}`
      : "1 server on SQLite";
    const r = await start(setup);
    try {
      const urls = r.servers.map((s) => s.url);
      const b = await call(urls[0]!, "POST", "/api/v1/bootstrap", binsPayload(bins));
      if (b.status !== 202) throw new Error(`bootstrap refused: ${JSON.stringify(b.body)}`);
      await waitTaskAt(urls[0]!, b.body.data.task_id, 120_000);
      // Every replica has loaded the bootstrap (/readyz) and serves its timestamp.
      for (const url of urls) while ((await fetch(`${url}/readyz`)).status !== 200) await Bun.sleep(10);
      while (!(await allServeSame(urls))) await Bun.sleep(10);
      const tput = await throughput(r, urls);
      console.log(
        `${label}: ${total} artifacts in requests of ${perRequest}, ${concurrency} in flight → ${tput.artifacts_per_s}/s visible in every replica's timestamp (accepted at ${tput.accept_per_s}/s, ${tput.publishes} publishes)`,
      );
      // Let the burst settle (PostgreSQL's autovacuum, the servers' GC): the
      // latency phase measures a steady state, not the tail of the burst.
      await Bun.sleep(3000);
      const lat = await latency(r, urls);
      console.log(
        `${label}: ${lat.requests} single adds at ${rate}/s → visible on the replica that took it p50 ${lat.local_p50_ms} ms, p99 ${lat.local_p99_ms} ms; on every replica p50 ${lat.all_p50_ms} ms, p99 ${lat.all_p99_ms} ms (max ${lat.all_max_ms} ms)`,
      );
      results[setup.name] = {
        replicas: setup.replicas,
        store: setup.postgres ? "postgres" : "sqlite",
        redis: setup.redis,
        ...tput,
        ...lat,
      };
    } finally {
      await r.cleanup();
    }
  }
} finally {
  if (servicesEnv) Bun.spawnSync(["bash", SERVICES, "stop", servicesEnv]);
}
console.log(
  JSON.stringify({
    bench: "scaleout",
    bins,
    artifacts: total,
    per_request: perRequest,
    concurrency,
    rate,
    seconds,
    setups: results,
  }),
);
