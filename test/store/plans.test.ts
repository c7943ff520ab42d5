/**
 * "1M artifacts must stay fast": the dashboard's listings must be index seeks
 * that stop after one page, never a scan of the table or a sort of it. This
 * asks SQLite itself (EXPLAIN QUERY PLAN) about the exact statements the store
 * ran, with the values they ran with.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { tempDir } from "../helpers/server.ts";
import { withDocuments } from "./documents.ts";

const dir = tempDir("tufbox-plans-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function planOf(db: Database, statement: unknown): string[] {
  // After a run, a bun:sqlite Statement prints its SQL with the values it was bound to.
  const sql = String(statement);
  expect(sql).not.toContain("NULL");
  return db
    .query(`EXPLAIN QUERY PLAN ${sql}`)
    .all()
    .map((r: any) => r.detail as string);
}

function expectSeek(plan: string[], table: string, index: string) {
  const joined = plan.join(" | ");
  expect(joined).toMatch(new RegExp(`SEARCH ${table} USING (COVERING )?(INDEX )?(${index})`));
  expect(joined).not.toMatch(new RegExp(`SCAN ${table}(?! USING)`));
  expect(joined).not.toContain("TEMP B-TREE");
}

test("artifact pages, task pages, role versions and publications are index seeks", async () => {
  const file = join(dir, "tufbox.db");
  const store = new SqliteStore(file, { synchronous: "NORMAL" });
  await store.open();
  const upsert = Array.from({ length: 3000 }, (_, i) => ({
    path: `pkg/${String.fromCharCode(97 + (i % 26))}/${i}.tar.gz`,
    role: `bins-${i % 16}`,
    fragment: `{"length":${i}}`,
  }));
  await store.commitPublication(
    await withDocuments(store, {
      expectedHeads: { timestamp: 0 },
      documents: [
        {
          role: "timestamp",
          version: 1,
          bytes: new Uint8Array([123, 125]),
          expires: "2030-01-01T00:00:00Z",
          sha256: "00",
          publishedAt: "2030-01-01T00:00:00.000Z",
        },
      ],
      artifacts: { upsert, remove: [] },
    }),
  );
  for (let i = 0; i < 50; i++) await store.createTask({ id: `t${i}`, name: "add_artifacts", state: "SUCCESS" });

  const page = await store.listArtifacts({ prefix: "pkg/c/", after: "pkg/c/1008.tar.gz", limit: 20 });
  expect(page.length).toBe(20);
  expect(page.every((a) => a.path.startsWith("pkg/c/") && a.path > "pkg/c/1008.tar.gz")).toBe(true);
  await store.listArtifacts({ after: "pkg/m/", limit: 20 });
  const tasks = await store.listTasks({ limit: 5 });
  await store.listTasks({ limit: 5, before: { createdAt: tasks[4]!.createdAt, id: tasks[4]!.id } });
  await store.listRoleVersions("timestamp", 10);
  await store.listPublications(5);

  const s = (store as any).stmts;
  const db = new Database(file, { readonly: true });
  try {
    // The artifacts table is keyed by path (WITHOUT ROWID): its primary key is the index.
    expectSeek(planOf(db, s.pagePrefix), "artifacts", "PRIMARY KEY");
    expectSeek(planOf(db, s.pageAfter), "artifacts", "PRIMARY KEY");
    expectSeek(planOf(db, s.listedRoleDocument), "d", "PRIMARY KEY|sqlite_autoindex_documents_1");
    expectSeek(planOf(db, s.listTasksBefore), "tasks", "tasks_created");
    expectSeek(planOf(db, s.listRoleVersions), "documents", "sqlite_autoindex_documents_1");
    expectSeek(planOf(db, s.publicationCount), "documents", "documents_published");
    expectSeek(planOf(db, s.publicationRoles), "documents", "documents_published");
    // The first page of tasks has no lower bound: it walks the index backwards and stops at LIMIT.
    expect(planOf(db, s.listTasks).join(" | ")).toMatch(/SCAN tasks USING (COVERING )?INDEX tasks_created/);
  } finally {
    db.close();
    await store.close();
  }
});
