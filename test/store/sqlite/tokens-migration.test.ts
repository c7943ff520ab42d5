/**
 * A database from before scoped tokens (schema v1, holding the first-start
 * admin token) upgrades in place: the token gets an id and keeps working,
 * and the audit log starts empty.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashToken } from "../../../src/auth/tokens.ts";
import { migrations } from "../../../src/store/sqlite/migrations.ts";
import { canonicalTargetsText, serializeEnvelope } from "../../../src/tuf/document.ts";
import { SqliteStore } from "../../../src/store/sqlite/store.ts";

const dir = mkdtempSync(join(tmpdir(), "tufbox-migrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A database as a tufbox whose newest migration was `version` left it. */
function databaseAtSchema(file: string, version: number): Database {
  const db = new Database(file, { create: true });
  db.run(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  for (const m of migrations.filter((m) => m.version <= version)) {
    db.run(m.sql);
    db.query("INSERT INTO schema_migrations VALUES (?, ?, '2024-01-01T00:00:00.000Z')").run(m.version, m.name);
  }
  return db;
}

test("schema v1 → current: stored tokens get an id, no expiry, and still authenticate", async () => {
  const file = join(dir, "v1.db");
  const db = new Database(file, { create: true });
  db.run(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const v1 = migrations.find((m) => m.version === 1)!;
  db.run(v1.sql);
  db.run("INSERT INTO schema_migrations VALUES (1, 'initial', '2024-01-01T00:00:00.000Z')");
  db.query("INSERT INTO tokens (hash, name, scopes, created_at) VALUES (?, 'admin', '[\"admin\"]', ?)").run(
    hashToken("tufbox_old-admin-token"),
    "2024-01-01T00:00:00.000Z",
  );
  db.close();

  const store = new SqliteStore(file);
  await store.open();
  try {
    const t = await store.findToken(hashToken("tufbox_old-admin-token"));
    expect(t).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      hash: hashToken("tufbox_old-admin-token"),
      name: "admin",
      scopes: ["admin"],
      createdAt: "2024-01-01T00:00:00.000Z",
      expiresAt: null,
      createdBy: null,
    });
    expect(await store.listAudit({ limit: 10 })).toEqual([]);
    expect(await store.revokeToken(t!.id)).toBe(true);
  } finally {
    await store.close();
  }
});

test("a database created by main's schema v2 (dashboard listings) upgrades to the tokens and audit migration", async () => {
  const file = join(dir, "v2.db");
  const db = databaseAtSchema(file, 2);
  db.query("INSERT INTO tokens (hash, name, scopes, created_at) VALUES (?, 'admin', '[\"admin\"]', ?)").run(
    hashToken("tufbox_main-admin-token"),
    "2024-01-01T00:00:00.000Z",
  );
  db.close();

  const store = new SqliteStore(file);
  await store.open();
  try {
    expect((await store.findToken(hashToken("tufbox_main-admin-token")))?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(await store.listAudit({ limit: 10 })).toEqual([]);
    expect(await store.listTasks({ limit: 5 })).toEqual([]);
  } finally {
    await store.close();
  }
  const check = new Database(file, { readonly: true });
  const applied = check.query("SELECT version, name FROM schema_migrations ORDER BY version").all();
  check.close();
  expect(applied).toEqual([
    { version: 1, name: "initial" },
    { version: 2, name: "dashboard_listings" },
    { version: 3, name: "scoped tokens and audit log" },
    { version: 4, name: "artifact contents" },
    { version: 5, name: "retention" },
    { version: 6, name: "artifact index without fragments" },
    { version: 7, name: "queue kind check without a list" },
  ]);
});

test("a database created by main's schema v3 (tokens and audit) upgrades to migration 4 (artifact contents) and 5 (retention)", async () => {
  const file = join(dir, "v3.db");
  const db = databaseAtSchema(file, 3);
  db.close();

  const store = new SqliteStore(file);
  await store.open();
  try {
    expect(await store.listAudit({ limit: 10 })).toEqual([]);
    expect(await store.contents.put({ sha256: "ab".repeat(32), sha512: null, length: 3 })).toBe(true);
    expect((await store.contents.get("ab".repeat(32)))?.length).toBe(3);
  } finally {
    await store.close();
  }
  const check = new Database(file, { readonly: true });
  const applied = check.query("SELECT version, name FROM schema_migrations ORDER BY version").all();
  check.close();
  expect(applied.slice(-4)).toEqual([
    { version: 4, name: "artifact contents" },
    { version: 5, name: "retention" },
    { version: 6, name: "artifact index without fragments" },
    { version: 7, name: "queue kind check without a list" },
  ]);
});

test("a database created by schema v5 keeps its artifacts through migration 6: fragments from the head documents", async () => {
  const file = join(dir, "v5.db");
  const db = databaseAtSchema(file, 5);
  const fragments: [string, string][] = [
    ["a/1.tar.gz", '{"hashes":{"sha256":"01"},"length":1}'],
    ["b/2.tar.gz", '{"hashes":{"sha256":"02"},"length":2}'],
  ];
  // bins-0's version 1 listed only a/1; version 2, its head, lists both.
  for (const [version, entries] of [
    [1, fragments.slice(0, 1)],
    [2, fragments],
  ] as const) {
    const text = canonicalTargetsText(
      { _type: "targets", spec_version: "1.0.31", version, expires: "2030-01-01T00:00:00Z" },
      [...entries],
    );
    db.query(
      "INSERT INTO documents (role, version, expires, sha256, length, published_at, bytes) VALUES ('bins-0', ?, '2030-01-01T00:00:00Z', '00', 1, '2024-01-01T00:00:00.000Z', ?)",
    ).run(version, serializeEnvelope(text, []));
  }
  db.run("INSERT INTO heads (role, version, expires) VALUES ('bins-0', 2, '2030-01-01T00:00:00Z')");
  for (const [path, fragment] of fragments)
    db.query("INSERT INTO artifacts (role, path, fragment) VALUES ('bins-0', ?, ?)").run(path, fragment);
  db.close();

  const store = new SqliteStore(file);
  await store.open();
  try {
    expect(await store.countArtifacts()).toBe(2);
    const expected = fragments.map(([path, fragment]) => ({ path, role: "bins-0", fragment }));
    expect(await store.listArtifactsInRole("bins-0")).toEqual(expected);
    expect(await store.getArtifact("b/2.tar.gz")).toEqual(expected[1]!);
    expect(await store.listArtifacts({ limit: 10 })).toEqual(expected);
  } finally {
    await store.close();
  }
  const check = new Database(file, { readonly: true });
  const columns = check.query("SELECT name FROM pragma_table_info('artifacts') ORDER BY cid").all();
  check.close();
  expect(columns).toEqual([{ name: "path" }, { name: "role" }]);
});

test("migration 7 keeps the queue in order, held or not, and never hands out an id again", async () => {
  const file = join(dir, "v6.db");
  const db = databaseAtSchema(file, 6);
  const insert = db.query(
    "INSERT INTO changes (task_id, kind, path, role, fragment, held, created_at) VALUES (?, ?, ?, 'bins-0', ?, ?, '2024-01-01T00:00:00.000Z')",
  );
  for (let i = 1; i <= 5; i++) insert.run(`t${i}`, "add", `p/${i}`, '{"length":1}', i === 3 ? 1 : 0);
  // Ids 1-4 consumed, 5 still pending: the largest id left is not the largest ever given.
  db.run("DELETE FROM changes WHERE id < 5");
  insert.run("t6", "remove", "p/1", null, 0);
  db.run("DELETE FROM changes WHERE id = 6");
  db.close();

  const store = new SqliteStore(file);
  await store.open();
  try {
    expect((await store.pendingChanges(10)).map((c) => [c.id, c.taskId, c.kind, c.path, c.held])).toEqual([
      [5, "t5", "add", "p/5", false],
    ]);
    const adds = Array.from({ length: 70 }, (_, i) => ({
      kind: "add" as const,
      path: `q/${i}`,
      role: "bins-0",
      fragment: '{"length":2}',
    }));
    await store.accept({ id: "t7", name: "add_artifacts", state: "PENDING" }, adds, false);
    const pending = await store.pendingChanges(100);
    // After 6, in the order accepted: 64 rows from one INSERT, the rest one by one.
    expect(pending.map((c) => c.id)).toEqual([5, ...adds.map((_, i) => 7 + i)]);
    expect(pending.slice(1).map((c) => c.path)).toEqual(adds.map((a) => a.path));
  } finally {
    await store.close();
  }
  const check = new Database(file);
  // The kind is still checked.
  check.run(
    "INSERT INTO changes (task_id, kind, path, role, held, created_at) VALUES ('x', 'bump', 'p', 'r', 0, 'now')",
  );
  expect(() =>
    check.run(
      "INSERT INTO changes (task_id, kind, path, role, held, created_at) VALUES ('x', 'move', 'p', 'r', 0, 'now')",
    ),
  ).toThrow();
  const sql = check.query("SELECT sql FROM sqlite_schema WHERE name = 'changes'").get() as { sql: string };
  check.close();
  expect(sql.sql).toContain("kind = 'add' OR kind = 'remove' OR kind = 'bump'");
});
