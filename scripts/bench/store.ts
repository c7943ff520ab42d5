/**
 * Store micro-benchmark at PyPI-like scale (DESIGN.md "Performance notes"):
 * accept throughput, one big publication, and per-role artifact reads over
 * 1M artifacts in 16384 bins. Runs on a real file with synchronous=FULL, the
 * same settings a 202 relies on; or, with --postgres, on a fresh schema in
 * that PostgreSQL database (dropped afterwards unless --keep), with the
 * server's own durability settings.
 *
 *   bun scripts/bench/store.ts [--keep] [--postgres postgres://…]
 *
 * Last line of output is one JSON object with the figures.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SQL } from "bun";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { ArtifactRecord, DocumentRecord, NewChange, Store } from "../../src/store/store.ts";

const BINS = 16384;
const ARTIFACTS = 1_000_000;
const ACCEPT_CALLS = 10;
const CHANGES_PER_ACCEPT = 10_000;
const DOCS_PER_PUBLICATION = 7_500;
const DOC_SIZE = 12 * 1024;
const UPSERTS_PER_PUBLICATION = 10_000;
const LIST_SECONDS = 3;

const pgFlag = process.argv.indexOf("--postgres");
const pgUrl = pgFlag >= 0 ? process.argv[pgFlag + 1] : undefined;
if (pgFlag >= 0 && !pgUrl?.match(/^postgres(ql)?:\/\//)) throw new Error("--postgres needs a postgres:// URL");
const keep = process.argv.includes("--keep");

/** Where the data lives, how big it got, and how to clean up. */
interface Backend {
  store: Store;
  where: string;
  /** after store.close(): SQLite's file only holds everything once the WAL is checkpointed */
  bytes(): Promise<number>;
  finish(keep: boolean): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = fs.mkdtempSync(os.tmpdir() + "/tufbox-bench-");
  const file = path.join(dir, "bench.db");
  return {
    store: new SqliteStore(file),
    where: file,
    bytes: async () => fs.statSync(file).size,
    finish: async (keep) => {
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(url: string): Promise<Backend> {
  const admin = new SQL(url, { max: 1 });
  const schema = `tufbox_bench_${Date.now().toString(36)}`;
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  const u = new URL(url);
  u.searchParams.set("search_path", schema);
  return {
    store: new PostgresStore(u.toString()),
    where: `schema ${schema} of ${new URL(url).pathname.slice(1)}`,
    // Tables with their indexes and TOAST: what the schema costs on disk.
    bytes: async () =>
      Number(
        (
          await admin`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${schema} AND c.relkind = 'r'`
        )[0].n,
      ),
    finish: async (keep) => {
      if (!keep) await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
    },
  };
}

const backend = pgUrl ? await postgresBackend(pgUrl) : await sqliteBackend();
const store = backend.store;
await store.open();
console.log(`backend: ${store.kind} (${backend.where})`);

const binName = (i: number) => `bins-${i.toString(16).padStart(4, "0")}`;
// Cheap stand-in for the succinct-hash-bin choice (sha256 prefix): spreads
// paths evenly and deterministically without hashing a million strings.
const binOf = (i: number) => binName(Math.imul(i, 2654435761) >>> 18);
const hex64 = (i: number) => (i.toString(16).padStart(8, "0") + "ab").repeat(7).slice(0, 64);
const pathOf = (i: number) => `packages/pkg-${i}/pkg-${i}-1.0.0-py3-none-any.whl`;
const fragmentOf = (i: number, gen = 0) => `{"hashes":{"sha256":"${hex64(i + gen)}"},"length":${10_000 + i}}`;
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

// 1. accept: the API's durable write before answering 202.
let changeCount = 0;
const acceptTimes: number[] = [];
for (let call = 0; call < ACCEPT_CALLS; call++) {
  const changes: NewChange[] = [];
  for (let j = 0; j < CHANGES_PER_ACCEPT; j++) {
    const i = ARTIFACTS + changeCount++;
    changes.push({ kind: "add", path: pathOf(i), role: binOf(i), fragment: fragmentOf(i) });
  }
  const t0 = performance.now();
  await store.accept({ id: `accept-${call}`, name: "add_artifacts", state: "PENDING" }, changes, false);
  acceptTimes.push(seconds(t0));
}
const acceptSeconds = acceptTimes.reduce((a, b) => a + b, 0);
const acceptPerSecond = changeCount / acceptSeconds;
console.log(
  `accept: ${changeCount} changes in ${ACCEPT_CALLS} calls, ${round(acceptSeconds, 3)} s → ${Math.round(acceptPerSecond)} changes/s`,
);

// 2. build the published state: 1M artifacts over 16384 bins. Inserting in
// (role, path) order appends to the clustered table instead of splitting
// random pages, which keeps set-up well under the time budget.
let t0 = performance.now();
const BUILD_BATCH = 100_000;
const all: ArtifactRecord[] = Array.from({ length: ARTIFACTS }, (_, i) => ({
  path: pathOf(i),
  role: binOf(i),
  fragment: fragmentOf(i),
}));
all.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : a.path < b.path ? -1 : 1));
for (let start = 0; start < ARTIFACTS; start += BUILD_BATCH) {
  const upsert = all.slice(start, start + BUILD_BATCH);
  await store.commitPublication({ expectedHeads: {}, documents: [], artifacts: { upsert, remove: [] } });
}
all.length = 0;
const buildSeconds = seconds(t0);
console.log(`build: ${await store.countArtifacts()} artifacts in ${round(buildSeconds)} s`);

// 3. a publisher batch: 7,500 bins × 12 KB + snapshot + timestamp, 10k artifact
// upserts (half new, half changed), the 10k changes it consumed, one task.
function documents(version: number): DocumentRecord[] {
  const docs: DocumentRecord[] = [];
  const roles = Array.from({ length: DOCS_PER_PUBLICATION }, (_, k) => binName((k * 2) % BINS));
  for (const role of [...roles, "snapshot", "timestamp"]) {
    const bytes = new Uint8Array(DOC_SIZE);
    crypto.getRandomValues(bytes);
    const sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    docs.push({ role, version, bytes, expires: "2030-01-01T00:00:00Z", sha256 });
  }
  return docs;
}
const publicationTimes: number[] = [];
for (let version = 1; version <= 2; version++) {
  const docs = documents(version);
  const upsert: ArtifactRecord[] = [];
  for (let k = 0; k < UPSERTS_PER_PUBLICATION; k++) {
    const i = k % 2 === 0 ? k * 97 : ARTIFACTS + version * UPSERTS_PER_PUBLICATION + k;
    upsert.push({ path: pathOf(i), role: binOf(i), fragment: fragmentOf(i, version) });
  }
  const consumed = (await store.pendingChanges(UPSERTS_PER_PUBLICATION)).map((c) => c.id);
  const expectedHeads = Object.fromEntries(docs.map((d) => [d.role, version - 1]));
  t0 = performance.now();
  await store.commitPublication({
    expectedHeads,
    documents: docs,
    artifacts: { upsert, remove: [] },
    consumedChanges: consumed,
    tasks: [{ id: `accept-${version - 1}`, state: "SUCCESS", result: null }],
  });
  publicationTimes.push(seconds(t0));
  console.log(
    `commitPublication #${version}: ${docs.length} documents × ${DOC_SIZE} B + ${upsert.length} upserts + ${consumed.length} consumed changes in ${round(publicationTimes.at(-1)!, 3)} s`,
  );
}

// 4. the publisher's read side: whole bins, one call per touched role. First
// one batch's worth (7,500 distinct bins, as a publisher reads them), then
// random bins for a steady rate.
t0 = performance.now();
for (let k = 0; k < DOCS_PER_PUBLICATION; k++) await store.listArtifactsInRole(binName((k * 2 + 1) % BINS));
const batchReadSeconds = seconds(t0);
console.log(
  `listArtifactsInRole: ${DOCS_PER_PUBLICATION} distinct roles (one batch) in ${round(batchReadSeconds, 3)} s`,
);
let calls = 0;
let rows = 0;
t0 = performance.now();
for (let k = 0; seconds(t0) < LIST_SECONDS; k++) {
  rows += (await store.listArtifactsInRole(binName((Math.imul(k, 40503) >>> 0) % BINS))).length;
  calls++;
}
const listSeconds = seconds(t0);
const listPerSecond = calls / listSeconds;
console.log(
  `listArtifactsInRole: ${calls} calls (${round(rows / calls, 1)} artifacts each) in ${round(listSeconds)} s → ${Math.round(listPerSecond)} calls/s`,
);

t0 = performance.now();
const heads = await store.getHeads();
const headsSeconds = seconds(t0);
console.log(`getHeads: ${heads.length} roles in ${round(headsSeconds * 1000, 1)} ms`);

await store.close();
const dbBytes = await backend.bytes();
console.log(`database size: ${round(dbBytes / 1e6, 1)} MB (${backend.where})`);
await backend.finish(keep);

console.log(
  JSON.stringify({
    backend: store.kind,
    acceptChangesPerSecond: Math.round(acceptPerSecond),
    acceptSecondsPer10k: round(acceptSeconds / ACCEPT_CALLS, 4),
    commitPublicationSeconds: round(Math.max(...publicationTimes), 3),
    commitPublicationSecondsEach: publicationTimes.map((t) => round(t, 3)),
    listArtifactsInRoleCallsPerSecond: Math.round(listPerSecond),
    listArtifactsInRole7500RolesSeconds: round(batchReadSeconds, 3),
    artifactsPerRole: round(rows / calls, 1),
    build1MArtifactsSeconds: round(buildSeconds),
    getHeadsMs: round(headsSeconds * 1000, 1),
    databaseMB: round(dbBytes / 1e6, 1),
  }),
);
