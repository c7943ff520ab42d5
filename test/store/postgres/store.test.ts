/**
 * The store contract on a real PostgreSQL, plus what only a shared database
 * can show: several replicas (PostgresStore instances) racing on one schema.
 *
 * Needs TUFBOX_TEST_POSTGRES_URL (scripts/test-services.sh starts a throwaway
 * server and prints a file that exports it). Each run creates its own database
 * from that URL and drops it at the end; each test gets its own schema in it.
 * Without the variable the file skips locally but FAILS under CI, so CI can
 * never go green without having run against PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { openStore } from "../../../src/store/index.ts";
import { postgresMigrations } from "../../../src/store/postgres/migrations.ts";
import { PostgresStore } from "../../../src/store/postgres/store.ts";
import { StoreConflictError, type DocumentRecord, type Publication } from "../../../src/store/store.ts";
import { storeContract } from "../contract.ts";
import { contentsContract } from "../contents-contract.ts";

const serverUrl = process.env.TUFBOX_TEST_POSTGRES_URL;

if (!serverUrl) {
  if (process.env.CI) {
    test("PostgreSQL is available in CI", () => {
      throw new Error(
        "TUFBOX_TEST_POSTGRES_URL is not set under CI: the PostgreSQL store would go untested. " +
          "Start a server with scripts/test-services.sh start and source the file it prints.",
      );
    });
  } else {
    console.warn(
      "test/store/postgres.test.ts: skipped, TUFBOX_TEST_POSTGRES_URL is not set " +
        '(source "$(scripts/test-services.sh start)" runs it against a throwaway server)',
    );
    test.skip("PostgreSQL store (set TUFBOX_TEST_POSTGRES_URL to run)", () => {});
  }
} else {
  postgresSuite(serverUrl);
}

function postgresSuite(server: string) {
  const database = `tufbox_test_${process.pid}_${Date.now().toString(36)}`;
  let admin: SQL; // on the server's own database: CREATE/DROP DATABASE
  let db: SQL; // on the test database: schemas, pg_locks, pg_terminate_backend
  let schemas = 0;

  const urlFor = (dbName: string, schema?: string) => {
    const u = new URL(server);
    u.pathname = `/${dbName}`;
    if (schema) u.searchParams.set("search_path", schema);
    return u.toString();
  };

  beforeAll(async () => {
    admin = new SQL(server, { max: 2 });
    // An ICU default collation that sorts "a" < "B" and "dir%" after "dirA":
    // any query that forgot COLLATE "C" then fails the contract's order tests
    // instead of passing by the luck of a C-locale test cluster.
    try {
      await admin.unsafe(
        `CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
      );
    } catch (err) {
      console.warn(`no ICU collation for the test database (${(err as Error).message}); using the server default`);
      await admin.unsafe(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8'`);
    }
    db = new SQL(urlFor(database), { max: 4 });
  });

  afterAll(async () => {
    await db?.close({ timeout: 5 });
    await admin?.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin?.close({ timeout: 5 });
  });

  /** A fresh schema: its own tables, and its own advisory lock keys. */
  async function freshSchema(): Promise<{ url: string; drop: () => Promise<void> }> {
    const schema = `s${++schemas}`;
    await db.unsafe(`CREATE SCHEMA ${schema}`);
    return { url: urlFor(database, schema), drop: () => db.unsafe(`DROP SCHEMA ${schema} CASCADE`).then(() => {}) };
  }

  storeContract("postgres", async () => {
    const { url, drop } = await freshSchema();
    const store = new PostgresStore(url);
    await store.open();
    return {
      store,
      cleanup: async () => {
        await store.close();
        await drop();
      },
    };
  });

  contentsContract("postgres", async () => {
    const { url, drop } = await freshSchema();
    const store = new PostgresStore(url);
    await store.open();
    return {
      store,
      cleanup: async () => {
        await store.close();
        await drop();
      },
    };
  });

  /** n replicas on one fresh schema, closed and dropped by the returned cleanup. */
  async function replicas(n: number, open = true) {
    const { url, drop } = await freshSchema();
    const stores = Array.from({ length: n }, () => new PostgresStore(url));
    if (open) for (const s of stores) await s.open();
    return {
      url,
      stores,
      [Symbol.asyncDispose]: async () => {
        for (const s of stores) await s.close();
        await drop();
      },
    };
  }

  const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
  const doc = (role: string, version: number, text: string): DocumentRecord => {
    const bytes = new TextEncoder().encode(text);
    return { role, version, bytes, expires: "2030-01-01T00:00:00Z", sha256: sha256(bytes) };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  describe("PostgresStore", () => {
    test("openStore opens postgres:// and postgresql:// URLs as a migrated PostgresStore", async () => {
      await using r = await replicas(0);
      for (const url of [r.url, r.url.replace(/^postgres:/, "postgresql:")]) {
        const store = await openStore(url);
        expect(store.kind).toBe("postgres");
        expect(store).toBeInstanceOf(PostgresStore);
        await store.setSettings({ ok: url });
        expect(await store.getSetting("ok")).toBe(url);
        await store.close();
      }
    });

    test("migrations from several replicas starting at once: no error, each applied once", async () => {
      await using r = await replicas(6, false);
      await Promise.all(r.stores.map((s) => s.open()));
      const schema = new URL(r.url).searchParams.get("search_path")!;
      const rows = await db.unsafe(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
      expect([...rows]).toEqual(postgresMigrations.map((m) => ({ version: m.version, name: m.name })));
      // Opening again (a restart) is a no-op.
      await r.stores[0]!.open();
      expect(await r.stores[0]!.ping()).toBe(true);
    });

    test("a schema created by main (migrations 1–3, tokens and audit) upgrades to migrations 4 (artifact contents) and 5 (retention)", async () => {
      const { url, drop } = await freshSchema();
      const old = new SQL(url, { max: 1 });
      try {
        await old.unsafe(
          "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)",
        );
        for (const m of postgresMigrations.filter((m) => m.version <= 3)) {
          await old.unsafe(m.sql);
          await old`INSERT INTO schema_migrations VALUES (${m.version}, ${m.name}, '2024-01-01T00:00:00Z')`;
        }
      } finally {
        await old.close({ timeout: 5 });
      }
      const store = new PostgresStore(url);
      try {
        await store.open();
        expect(await store.listAudit({ limit: 10 })).toEqual([]);
        expect(await store.contents.put({ sha256: "ab".repeat(32), sha512: null, length: 3 })).toBe(true);
        expect((await store.contents.get("ab".repeat(32)))?.length).toBe(3);
        const schema = new URL(url).searchParams.get("search_path")!;
        const rows = await db.unsafe(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
        expect([...rows].slice(-2)).toEqual([
          { version: 4, name: "artifact contents" },
          { version: 5, name: "retention" },
        ]);
      } finally {
        await store.close();
        await drop();
      }
    });

    test("a schema from a newer tufbox is refused with a hint", async () => {
      await using r = await replicas(1);
      const schema = new URL(r.url).searchParams.get("search_path")!;
      await db.unsafe(
        `INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2099-01-01T00:00:00Z')`,
      );
      await expect(new PostgresStore(r.url).open()).rejects.toThrow(/newer tufbox/);
    });

    test("a database that is not UTF8 is refused with a hint", async () => {
      const name = `${database}_ascii`;
      await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C'`);
      try {
        const store = new PostgresStore(urlFor(name));
        await expect(store.open()).rejects.toThrow(/UTF8/);
        expect(await store.ping()).toBe(false);
      } finally {
        await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
      }
    });

    test("not open, closed twice, unreachable: clear errors and ping false", async () => {
      await using r = await replicas(0);
      const store = new PostgresStore(r.url);
      await expect(store.getSetting("x")).rejects.toThrow(/not open/);
      expect(await store.ping()).toBe(false);
      await store.open();
      expect(await store.ping()).toBe(true);
      await store.close();
      await store.close();
      expect(await store.ping()).toBe(false);
      await expect(store.getSetting("x")).rejects.toThrow(/not open/);

      // Nothing listens on port 1; the error names the server but not a password.
      const u = new URL(server);
      u.port = "1";
      u.password = "hunter2";
      const down = new PostgresStore(u.toString(), { connectionTimeoutSeconds: 2 });
      const err = await down.open().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/cannot open PostgreSQL store at .*:1\//);
      expect(err?.message).not.toContain("hunter2");
    });

    test("everything written by one replica is read by another, bytes exact", async () => {
      await using r = await replicas(2);
      const [a, b] = r.stores as [PostgresStore, PostgresStore];
      const bytes = Uint8Array.from([0xff, 0x00, 0xfe, 0x80, 0x5c, 0x78]); // includes "\x"
      await a.accept(
        { id: "t1", name: "add_artifacts", state: "PENDING" },
        [{ kind: "add", path: "a", role: "bins-0", fragment: "{}" }],
        true,
      );
      await a.commitPublication({
        expectedHeads: { timestamp: 0 },
        documents: [{ role: "timestamp", version: 1, bytes, expires: "2030-01-01T00:00:00Z", sha256: "x" }],
        artifacts: { upsert: [{ path: "p", role: "bins-0", fragment: "{}" }], remove: [] },
      });
      await a.putToken({
        id: "i",
        hash: "h",
        name: "n",
        scopes: ["s"],
        createdAt: "2024-01-01T00:00:00Z",
        expiresAt: null,
        createdBy: null,
      });
      expect((await b.getLatestDocument("timestamp"))?.bytes).toEqual(bytes);
      expect(await b.releaseHeldChanges()).toBe(1);
      expect((await a.pendingChanges(10)).map((c) => c.path)).toEqual(["a"]);
      expect(await b.findToken("h")).toEqual({
        id: "i",
        hash: "h",
        name: "n",
        scopes: ["s"],
        createdAt: "2024-01-01T00:00:00.000Z",
        expiresAt: null,
        createdBy: null,
      });
      // Revocation on one replica is seen by the next read on another.
      expect(await a.revokeToken("i")).toBe(true);
      expect(await b.findToken("h")).toBeUndefined();
    });

    test("withLock: callers on two replicas never overlap", async () => {
      await using r = await replicas(2);
      let inside = 0;
      let maxInside = 0;
      let entered = 0;
      const worker = (store: PostgresStore) =>
        store.withLock("publisher", async () => {
          inside++;
          entered++;
          maxInside = Math.max(maxInside, inside);
          await sleep(10);
          await store.ping(); // real database work while holding the lock
          inside--;
        });
      // 6 callers per replica: more than one in-process queue could hide,
      // and replica b's callers only ever wait on the database lock.
      await Promise.all(r.stores.flatMap((s) => Array.from({ length: 6 }, () => worker(s))));
      expect(entered).toBe(12);
      expect(maxInside).toBe(1);
    });

    test("withLock: a replica blocks while another holds the lock, and gets it when released", async () => {
      await using r = await replicas(2);
      const [a, b] = r.stores as [PostgresStore, PostgresStore];
      let release!: () => void;
      let aHolds!: () => void;
      const aHolding = new Promise<void>((resolve) => (aHolds = resolve));
      const held = a.withLock("publisher", async () => {
        aHolds();
        await new Promise<void>((resolve) => (release = resolve));
      });
      await aHolding;
      const bRan = b.withLock("publisher", async () => "b ran");
      expect(await Promise.race([bRan, sleep(300).then(() => "blocked")])).toBe("blocked");
      // Another name is independent across replicas too.
      expect(await b.withLock("other", async () => "other ran")).toBe("other ran");
      release();
      await held;
      expect(await bRan).toBe("b ran");
    });

    test("a commit whose publisher lost its lock (connection killed) is refused and writes nothing", async () => {
      await using r = await replicas(2);
      const [a, b] = r.stores as [PostgresStore, PostgresStore];
      const schema = new URL(r.url).searchParams.get("search_path")!;
      const outcome = await a
        .withLock("publisher", async () => {
          // Kill the session that holds a's advisory lock, as a network cut
          // or a PostgreSQL restart would: the server drops the lock.
          const killed = await db.unsafe(`
            SELECT pg_terminate_backend(pid) AS ok FROM pg_locks
            WHERE locktype = 'advisory' AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
          expect(killed.length).toBe(1);
          // Replica b can now take the lock: this is the window the re-check closes.
          expect(
            await Promise.race([b.withLock("publisher", async () => "b got it"), sleep(2000).then(() => "blocked")]),
          ).toBe("b got it");
          await a.commitPublication({ expectedHeads: { timestamp: 0 }, documents: [doc("timestamp", 1, "a")] });
          return "committed";
        })
        .catch((err: Error) => err);
      expect(outcome).toBeInstanceOf(StoreConflictError);
      expect((outcome as Error).message).toMatch(/lock was lost/);
      expect(await b.getHeads()).toEqual([]);
      expect((await db.unsafe(`SELECT count(*)::int AS n FROM ${schema}.documents`))[0].n).toBe(0);
      // And the store is still usable afterwards.
      expect(await a.withLock("publisher", async () => "again")).toBe("again");
    });

    describe("two replicas commit at once", () => {
      type Outcome = { ok: boolean; err?: unknown };
      const settle = (p: Promise<unknown>): Promise<Outcome> =>
        p.then(
          () => ({ ok: true }),
          (err) => ({ ok: false, err }),
        );

      /** Exactly one of the pair committed; the other got StoreConflictError. */
      function oneWinner(outcomes: Outcome[]): number {
        const winners = outcomes.flatMap((o, i) => (o.ok ? [i] : []));
        expect(winners.length).toBe(1);
        const loser = outcomes.find((o) => !o.ok)!;
        expect(loser.err).toBeInstanceOf(StoreConflictError);
        return winners[0]!;
      }

      test("with the same expected heads: exactly one wins, the loser wrote nothing", async () => {
        await using r = await replicas(2);
        const stores = r.stores;
        await stores[0]!.commitPublication({
          expectedHeads: { "bins-0": 0, snapshot: 0, timestamp: 0 },
          documents: [doc("bins-0", 1, "b1"), doc("snapshot", 1, "s1"), doc("timestamp", 1, "t1")],
        });
        for (let round = 1; round <= 8; round++) {
          await stores[0]!.accept(
            { id: `T${round}`, name: "add_artifacts", state: "PENDING" },
            [{ kind: "add", path: `p${round}`, role: "bins-0", fragment: "{}" }],
            false,
          );
          const ids = (await stores[1]!.pendingChanges(10)).map((c) => c.id);
          const attempt = (who: number): Publication => ({
            expectedHeads: { "bins-0": round, snapshot: round, timestamp: round },
            documents: [
              doc("bins-0", round + 1, `bins r${round} by ${who}`),
              doc("snapshot", round + 1, `snapshot r${round} by ${who}`),
              doc("timestamp", round + 1, `timestamp r${round} by ${who}`),
            ],
            artifacts: { upsert: [{ path: `by-${who}-${round}`, role: "bins-0", fragment: "{}" }], remove: [] },
            consumedChanges: ids,
            tasks: [
              {
                id: `T${round}`,
                state: "SUCCESS",
                result: { task: "add_artifacts", status: true, last_update: `${who}` },
              },
            ],
            settings: { winner: who },
          });
          const outcomes = await Promise.all(stores.map((s, who) => settle(s.commitPublication(attempt(who)))));
          const w = oneWinner(outcomes);
          const loser = 1 - w;
          for (const role of ["bins-0", "snapshot", "timestamp"]) {
            const latest = await stores[loser]!.getLatestDocument(role);
            expect(latest?.version).toBe(round + 1);
            expect(new TextDecoder().decode(latest!.bytes)).toEndWith(`r${round} by ${w}`);
          }
          expect(await stores[loser]!.getArtifact(`by-${loser}-${round}`)).toBeUndefined();
          expect(await stores[loser]!.getArtifact(`by-${w}-${round}`)).toBeDefined();
          expect((await stores[loser]!.getTask(`T${round}`))?.result?.last_update).toBe(`${w}`);
          expect(await stores[loser]!.getSetting("winner")).toBe(w);
          expect(await stores[loser]!.countPendingChanges()).toBe(0);
        }
      });

      test("a head that another transaction is changing makes the commit wait, then conflict", async () => {
        await using r = await replicas(1);
        const store = r.stores[0]!;
        const schema = new URL(r.url).searchParams.get("search_path")!;
        await store.commitPublication({ expectedHeads: { snapshot: 0 }, documents: [doc("snapshot", 1, "s1")] });

        // The other publisher, mid-commit: it moved snapshot (and created
        // bins-new) but has not committed yet. Our publication writes neither
        // role, so only the row-locked re-check of the heads can notice.
        for (const [label, otherWrite, expectedHeads] of [
          ["moved head", `UPDATE ${schema}.heads SET version = 2 WHERE role = 'snapshot'`, { snapshot: 1 }],
          [
            "new role",
            `INSERT INTO ${schema}.heads (role, version, expires) VALUES ('bins-new', 1, 'x')`,
            { "bins-new": 0 },
          ],
        ] as const) {
          let commitOther!: () => void;
          let otherHasWritten!: () => void;
          const written = new Promise<void>((resolve) => (otherHasWritten = resolve));
          const other = db.begin(async (tx) => {
            await tx.unsafe(otherWrite);
            otherHasWritten();
            await new Promise<void>((resolve) => (commitOther = resolve));
          });
          await written;
          const role = `mine-${label.replace(" ", "-")}`;
          const ours = settle(
            store.commitPublication({ expectedHeads: { ...expectedHeads, [role]: 0 }, documents: [doc(role, 1, "x")] }),
          );
          try {
            expect(await Promise.race([ours.then(() => "finished"), sleep(300).then(() => "waiting")])).toBe("waiting");
          } finally {
            commitOther(); // also when the check failed, or the schema cannot be dropped
            await other;
          }
          const outcome = await ours;
          expect(outcome.ok).toBe(false);
          expect(outcome.err).toBeInstanceOf(StoreConflictError);
          expect(await store.getLatestDocument(role)).toBeUndefined();
        }
      });

      test("a role's first document: exactly one creates it", async () => {
        await using r = await replicas(2);
        for (let round = 1; round <= 8; round++) {
          const role = `new-${round}`;
          const outcomes = await Promise.all(
            r.stores.map((s, who) =>
              settle(s.commitPublication({ expectedHeads: { [role]: 0 }, documents: [doc(role, 1, `by ${who}`)] })),
            ),
          );
          const w = oneWinner(outcomes);
          expect(new TextDecoder().decode((await r.stores[0]!.getLatestDocument(role))!.bytes)).toBe(`by ${w}`);
        }
        // No placeholder head (version 0) is ever left behind.
        expect((await r.stores[0]!.getHeads()).map((h) => h.version)).toEqual(Array(8).fill(1));
      });

      test("the same queue changes: exactly one consumes them, even with no document in common", async () => {
        await using r = await replicas(2);
        for (let round = 1; round <= 8; round++) {
          await r.stores[0]!.accept(
            { id: `T${round}`, name: "add_artifacts", state: "PENDING" },
            [{ kind: "add", path: "x", role: "bins-0", fragment: "{}" }],
            false,
          );
          const ids = (await r.stores[0]!.pendingChanges(10)).map((c) => c.id);
          const outcomes = await Promise.all(
            r.stores.map((s, who) =>
              settle(
                s.commitPublication({
                  expectedHeads: { [`only-${who}-${round}`]: 0 },
                  documents: [doc(`only-${who}-${round}`, 1, "x")],
                  consumedChanges: ids,
                }),
              ),
            ),
          );
          const w = oneWinner(outcomes);
          expect(await r.stores[0]!.getLatestDocument(`only-${1 - w}-${round}`)).toBeUndefined();
        }
      });
    });

    test("bulk writes: 10,000 changes in one accept, 600 documents and 10,000 upserts in one publication", async () => {
      await using r = await replicas(1);
      const store = r.stores[0]!;
      const changes = Array.from({ length: 10_000 }, (_, i) => ({
        kind: "add" as const,
        path: `pkg/${i}`,
        role: `bins-${i % 600}`,
        fragment: `{"i":${i}}`,
      }));
      await store.accept({ id: "big", name: "add_artifacts", state: "PENDING" }, changes, false);
      const pending = await store.pendingChanges(20_000);
      expect(pending.map((c) => c.path)).toEqual(changes.map((c) => c.path));

      // 600 documents cross the insert chunk boundary twice; the upserts
      // repeat one path, and the last one must win as in SQLite.
      const docs = Array.from({ length: 600 }, (_, i) => doc(`bins-${i}`, 1, `bin ${i} `.repeat(200)));
      const upsert = changes.map((c) => ({ path: c.path, role: c.role, fragment: c.fragment! }));
      upsert.push({ path: "pkg/7", role: "bins-7", fragment: "last" });
      await store.commitPublication({
        expectedHeads: Object.fromEntries(docs.map((d) => [d.role, 0])),
        documents: docs,
        artifacts: { upsert, remove: [] },
        consumedChanges: pending.map((c) => c.id),
        tasks: [
          { id: "big", state: "SUCCESS", result: null },
          { id: "big", state: "FAILURE", result: null },
        ],
      });
      expect(await store.countArtifacts()).toBe(10_000);
      expect((await store.getArtifact("pkg/7"))?.fragment).toBe("last");
      expect(await store.countPendingChanges()).toBe(0);
      expect((await store.getTask("big"))?.state).toBe("FAILURE");
      const heads = await store.getHeads();
      expect(heads.length).toBe(600);
      expect(heads.every((h) => h.version === 1)).toBe(true);
      const d599 = await store.getLatestDocument("bins-599");
      expect(new TextDecoder().decode(d599!.bytes)).toBe("bin 599 ".repeat(200));
    }, 30_000);
  });
}
