/**
 * The dashboard's artifact search at 1M artifacts: keyset pages by path
 * prefix must cost the same on page 1 and page 10,000 (an index seek, then
 * LIMIT rows), never a scan. Fills a real SQLite file (or, with --postgres
 * URL, a fresh schema there) with 1,000,000 artifacts under 1,000
 * directories, then times: the first page, a page deep in the table, a
 * prefix's first page, a prefix page after a cursor, and a walk through all
 * pages of one prefix.
 *
 *   bun scripts/bench/artifact-pages.ts [--count 1000000] [--postgres postgres://…]
 *
 * Noisy on a shared 2-core machine: medians of 200 runs each. Last line: JSON.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SQL } from "bun";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { Store } from "../../src/store/store.ts";
import { flag, percentile } from "./lib.ts";

const COUNT = flag("count", 1_000_000);
const PAGE = 50;
const RUNS = 200;
const pgIndex = process.argv.indexOf("--postgres");
const pgUrl = pgIndex > 0 ? process.argv[pgIndex + 1] : undefined;

const pathOf = (i: number) => `pkg${String(i % 1000).padStart(3, "0")}/release-${String(i).padStart(7, "0")}.tar.gz`;
const fragment = (i: number) => `{"hashes":{"sha256":"${i.toString(16).padStart(64, "0")}"},"length":${i}}`;

async function open(): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  if (pgUrl) {
    const schema = `bench_pages_${process.pid}`;
    const admin = new SQL(pgUrl);
    await admin.unsafe(`CREATE SCHEMA ${schema}`);
    const u = new URL(pgUrl);
    u.searchParams.set("options", `-c search_path=${schema}`);
    const store = new PostgresStore(u.toString());
    await store.open();
    return {
      store,
      cleanup: async () => {
        await store.close();
        await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
        await admin.close();
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tufbox-pages-"));
  const store = new SqliteStore(path.join(dir, "tufbox.db"), { synchronous: "NORMAL" });
  await store.open();
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function time(fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: +percentile(ms, 50).toFixed(3), p99: +percentile(ms, 99).toFixed(3) };
}

const { store, cleanup } = await open();
try {
  const t0 = performance.now();
  const BATCH = 50_000;
  for (let from = 0; from < COUNT; from += BATCH) {
    const upsert = [];
    for (let i = from; i < Math.min(COUNT, from + BATCH); i++)
      upsert.push({ path: pathOf(i), role: `bins-${(i % 16384).toString(16)}`, fragment: fragment(i) });
    await store.commitPublication({ expectedHeads: {}, documents: [], artifacts: { upsert, remove: [] } });
    if (process.stderr.isTTY) process.stderr.write(`\rfilled ${Math.min(COUNT, from + BATCH)} / ${COUNT}`);
  }
  if (process.stderr.isTTY) process.stderr.write("\n");
  const fillSeconds = (performance.now() - t0) / 1000;
  const count = await store.countArtifacts();
  const deep = pathOf(Math.floor(COUNT * 0.9));
  const prefix = "pkg777/";
  // Halfway through the prefix's artifacts (one in 1,000 of them).
  const midPrefix = (await store.listArtifacts({ prefix, limit: Math.max(1, Math.floor(COUNT / 2000)) })).at(-1)!.path;
  const results = {
    backend: pgUrl ? "postgres" : "sqlite",
    artifacts: count,
    fill_seconds: +fillSeconds.toFixed(1),
    first_page_ms: await time(() => store.listArtifacts({ limit: PAGE + 1 })),
    deep_page_ms: await time(() => store.listArtifacts({ after: deep, limit: PAGE + 1 })),
    prefix_first_page_ms: await time(() => store.listArtifacts({ prefix, limit: PAGE + 1 })),
    prefix_after_cursor_ms: await time(() => store.listArtifacts({ prefix, after: midPrefix, limit: PAGE + 1 })),
    // Every page of one prefix, start to end (20 pages at 1M).
    walk_prefix_ms: await time(async () => {
      let after: string | undefined;
      for (;;) {
        const page = await store.listArtifacts({ prefix, after, limit: PAGE });
        if (page.length < PAGE) break;
        after = page.at(-1)!.path;
      }
    }),
  };
  console.log(JSON.stringify(results));
} finally {
  await cleanup();
}
