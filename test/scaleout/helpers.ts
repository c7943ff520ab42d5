/**
 * Shared plumbing for the scale-out tests: real PostgreSQL and Redis servers
 * (scripts/test-services.sh), one fresh database per test file, tufbox
 * replicas as child processes, and outages of the servers themselves.
 *
 * Without TUFBOX_TEST_POSTGRES_URL / TUFBOX_TEST_REDIS_URL (and, for the
 * outage tests, TUFBOX_TEST_SERVICES_ENV) a file FAILS under CI and skips
 * with a message otherwise, so CI can never go green without running them.
 */
import type { SQL } from "bun";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { binsPayload } from "../helpers/fixtures.ts";
import { call, spawnServer, waitTaskAt, type ServerProcess } from "../helpers/process.ts";
import { tempDir } from "../helpers/server.ts";
import { prng } from "../helpers/random.ts";
import { SERVICES_ENV, namedUrl } from "../helpers/services.ts";

export { prng };
export {
  POSTGRES_URL,
  REDIS_URL,
  SERVICES_ENV,
  createDatabase,
  eventually,
  namedUrl,
  withServices,
} from "../helpers/services.ts";

const SERVICES_SCRIPT = fileURLToPath(new URL("../../scripts/test-services.sh", import.meta.url));

/** stop-postgres | start-postgres | stop-redis | start-redis (scripts/test-services.sh). */
export function services(command: "stop-postgres" | "start-postgres" | "stop-redis" | "start-redis"): void {
  const r = Bun.spawnSync(["bash", SERVICES_SCRIPT, command, SERVICES_ENV], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0)
    throw new Error(`test-services.sh ${command} failed (${r.exitCode}): ${r.stderr.toString()}${r.stdout.toString()}`);
}

export interface Replica {
  name: string;
  dataDir: string;
  server: ServerProcess;
  readonly url: string;
  /** kill -9, and wait until the process is gone */
  kill(): Promise<void>;
  /** start it again (same database, data dir and flags; a new port) */
  restart(): Promise<void>;
  /** SIGTERM, wait, remove the data dir */
  stop(): Promise<void>;
}

/**
 * A tufbox replica (`serve`, child process) on `database` (+ `redis`), with
 * the fixtures' online key dir. Its PostgreSQL sessions carry its name.
 */
export async function startReplica(
  name: string,
  database: string,
  opts: { redis?: string; env?: Record<string, string> } = {},
): Promise<Replica> {
  const dataDir = tempDir(`tufbox-${name}-`);
  const args = ["--database", namedUrl(database, name), ...(opts.redis ? ["--redis", opts.redis] : [])];
  const env = {
    TUFBOX_LOG_LEVEL: process.env.TUFBOX_TEST_LOG ? "debug" : "info",
    TUFBOX_SCHEDULER_PERIOD_SECONDS: "5",
    ...opts.env,
  };
  const spawn = () => spawnServer(dataDir, env, "serve", args);
  const replica: Replica = {
    name,
    dataDir,
    server: await spawn(),
    get url() {
      return replica.server.url;
    },
    async kill() {
      replica.server.proc.kill("SIGKILL");
      await replica.server.proc.exited;
    },
    async restart() {
      replica.server = await spawn();
    },
    async stop() {
      if (replica.server.proc.exitCode === null) {
        replica.server.proc.kill("SIGTERM");
        const exited = await Promise.race([
          replica.server.proc.exited.then(() => true),
          Bun.sleep(10_000).then(() => false),
        ]);
        if (!exited) {
          replica.server.proc.kill("SIGKILL");
          await replica.server.proc.exited;
        }
      }
      if (process.env.TUFBOX_TEST_LOG)
        console.log(`--- ${name} output (last run):\n${replica.server.output().slice(-20_000)}`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return replica;
}

/** Bootstrap with `bins` hash bins through `url`; resolves when published. */
export async function bootstrap(url: string, bins: number): Promise<void> {
  const r = await call(url, "POST", "/api/v1/bootstrap", binsPayload(bins));
  if (r.status !== 202) throw new Error(`bootstrap refused: ${r.status} ${JSON.stringify(r.body)}`);
  const task = await waitTaskAt(url, r.body.data.task_id, 60_000);
  if (task.state !== "SUCCESS") throw new Error(`bootstrap failed: ${JSON.stringify(task)}`);
}

export async function readyz(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: await res.json() };
}

export async function bytesOf(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function timestampOf(url: string): Promise<{ bytes: Uint8Array; version: number }> {
  const bytes = await bytesOf(`${url}/metadata/timestamp.json`);
  return { bytes, version: JSON.parse(new TextDecoder().decode(bytes)).signed.version };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/** Target info for artifact `i` (the hash encodes the index, so each is checkable). */
export function artifact(prefix: string, i: number) {
  return {
    path: `${prefix}/pkg-${i}/pkg-${i}.tar.gz`,
    info: { length: 1000 + (i % 977), hashes: { sha256: i.toString(16).padStart(8, "0").repeat(8) } },
  };
}

/**
 * The invariants of the documents table: one row per (role, version), the
 * versions of each role contiguous from 1, and each role's head row at its
 * highest version. Returns the number of documents.
 */
export async function checkDocuments(sql: SQL): Promise<{ documents: number; roles: number }> {
  const dup =
    await sql`SELECT role, version, count(*)::int AS n FROM documents GROUP BY role, version HAVING count(*) > 1`;
  if (dup.length > 0)
    throw new Error(`(role, version) pairs with several rows: ${JSON.stringify([...dup].slice(0, 5))}`);
  const gaps = await sql`
    SELECT d.role, count(*)::int AS n, min(d.version)::int AS lo, max(d.version)::int AS hi, h.version::int AS head
    FROM documents d LEFT JOIN heads h ON h.role = d.role
    GROUP BY d.role, h.version
    HAVING min(d.version) <> 1 OR max(d.version) <> count(*) OR h.version IS NULL OR h.version <> max(d.version)`;
  if (gaps.length > 0)
    throw new Error(`roles whose versions are not 1..head: ${JSON.stringify([...gaps].slice(0, 5))}`);
  const [row] = await sql`SELECT count(*)::int AS documents, count(DISTINCT role)::int AS roles FROM documents`;
  return row;
}

export { call, waitTaskAt };
