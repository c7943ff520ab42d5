import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStore } from "../../../src/store/index.ts";
import { migrations } from "../../../src/store/sqlite/migrations.ts";
import { withDocuments } from "../documents.ts";
import { SqliteStore } from "../../../src/store/sqlite/store.ts";
import { storeContract } from "../contract.ts";
import { contentsContract } from "../contents-contract.ts";

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/tufbox-`);
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

storeContract("sqlite", async () => {
  const dir = tempDir();
  const store = new SqliteStore(path.join(dir, "tufbox.db"));
  await store.open();
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

contentsContract("sqlite", async () => {
  const dir = tempDir();
  const store = new SqliteStore(path.join(dir, "tufbox.db"));
  await store.open();
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("SqliteStore", () => {
  test("everything survives close and reopen", async () => {
    const file = path.join(tempDir(), "tufbox.db");
    const first = new SqliteStore(file);
    await first.open();
    const docBytes = Uint8Array.from([0xff, 0x00, 0xfe, 0x80]);
    await first.setSettings({ config: { bins: 16384 } });
    await first.accept(
      { id: "t1", name: "add_artifacts", state: "PENDING" },
      [{ kind: "add", path: "a", role: "bins-0", fragment: "{}" }],
      true,
    );
    await first.commitPublication(
      await withDocuments(first, {
        expectedHeads: { timestamp: 0 },
        documents: [{ role: "timestamp", version: 1, bytes: docBytes, expires: "2030-01-01T00:00:00Z", sha256: "x" }],
        artifacts: { upsert: [{ path: "p", role: "bins-0", fragment: "{}" }], remove: [] },
      }),
    );
    await first.putToken({
      id: "i",
      hash: "h",
      name: "n",
      scopes: ["s"],
      createdAt: "2024-01-01T00:00:00.000Z",
      expiresAt: null,
      createdBy: null,
    });
    await first.close();
    expect(await first.ping()).toBe(false);

    const second = new SqliteStore(file);
    await second.open();
    expect(await second.getSetting("config")).toEqual({ bins: 16384 });
    expect((await second.getTask("t1"))?.state).toBe("PENDING");
    expect(await second.releaseHeldChanges()).toBe(1);
    expect((await second.getLatestDocument("timestamp"))?.bytes).toEqual(docBytes);
    expect(await second.getArtifact("p")).toEqual({ path: "p", role: "bins-0", fragment: "{}" });
    expect(await second.countTokens()).toBe(1);
    await second.close();
  });

  test("the database is in WAL mode", async () => {
    const file = path.join(tempDir(), "tufbox.db");
    const store = new SqliteStore(file);
    await store.open();
    await store.setSettings({ x: 1 });
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
    const peek = new Database(file, { readonly: true });
    expect((peek.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    peek.close();
    await store.close();
  });

  test("with backgroundCheckpoint a worker copies the WAL into the database file, not a commit", async () => {
    const file = path.join(tempDir(), "tufbox.db");
    const store = new SqliteStore(file, { backgroundCheckpoint: true });
    await store.open();
    const own = (store as unknown as { db: Database }).db;
    const autocheckpoint = () => Object.values(own.query("PRAGMA wal_autocheckpoint").get() as object)[0];
    // Small publications never start the worker (an idle quickstart stays small).
    await store.commitPublication({
      expectedHeads: { small: 0 },
      documents: [
        { role: "small", version: 1, bytes: new Uint8Array(1000), expires: "2030-01-01T00:00:00Z", sha256: "00" },
      ],
    });
    await Bun.sleep(50);
    expect(autocheckpoint()).toBe(1000);
    const before = fs.statSync(file).size;
    const big = new Uint8Array(300 * 1024).fill(7);
    // ~5 MB of WAL in large publications: the first starts the worker, which
    // turns the store's own checkpoints off (wal_autocheckpoint = 0), so only
    // the worker moves these pages into the database file.
    for (let v = 1; v <= 16; v++) {
      await store.commitPublication({
        expectedHeads: { "bins-0": v - 1 },
        documents: [{ role: "bins-0", version: v, bytes: big, expires: "2030-01-01T00:00:00Z", sha256: "00" }],
      });
      if (v === 1) for (let i = 0; i < 100 && autocheckpoint() !== 0; i++) await Bun.sleep(20);
    }
    expect(autocheckpoint()).toBe(0);
    const deadline = Date.now() + 10_000;
    while (fs.statSync(file).size <= before + 4 * 1024 * 1024 && Date.now() < deadline) await Bun.sleep(50);
    expect(fs.statSync(file).size - before).toBeGreaterThan(4 * 1024 * 1024);
    await store.close();
    // Closed cleanly: reopening sees every version.
    const again = new SqliteStore(file);
    await again.open();
    expect((await again.getLatestDocument("bins-0"))?.version).toBe(16);
    await again.close();
  });

  test("migrations are recorded once and opening again is a no-op", async () => {
    const file = path.join(tempDir(), "tufbox.db");
    const a = new SqliteStore(file);
    await a.open();
    await a.open();
    await a.setSettings({ kept: true });
    const b = new SqliteStore(file);
    await b.open(); // a second connection while the first is still open
    expect(await b.getSetting("kept")).toBe(true);
    await b.close();
    await a.close();

    const c = new SqliteStore(file);
    await c.open();
    expect(await c.getSetting("kept")).toBe(true);
    await c.close();

    const db = new Database(file, { readonly: true });
    const rows = db.query("SELECT version, name FROM schema_migrations ORDER BY version").all();
    db.close();
    expect(rows).toEqual(migrations.map((m) => ({ version: m.version, name: m.name })));
  });

  test("a database from a newer tufbox is refused with a hint", async () => {
    const file = path.join(tempDir(), "tufbox.db");
    const store = new SqliteStore(file);
    await store.open();
    await store.close();
    const db = new Database(file);
    db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2099-01-01T00:00:00Z')");
    db.close();
    await expect(new SqliteStore(file).open()).rejects.toThrow(/newer tufbox/);
  });

  test("methods on a store that is not open fail clearly", async () => {
    const store = new SqliteStore(":memory:");
    await expect(store.getSetting("x")).rejects.toThrow(/not open/);
    expect(await store.ping()).toBe(false);
    await store.open();
    expect(await store.ping()).toBe(true);
    await store.close();
    await store.close();
  });

  test("an acknowledged accept survives SIGKILL of the process", async () => {
    const dir = tempDir();
    const file = path.join(dir, "tufbox.db");
    const changesPerTask = 20;
    const child = path.join(dir, "accept-loop.ts");
    // The child stops by itself after a few seconds in case nobody kills it.
    fs.writeFileSync(
      child,
      `import { SqliteStore } from ${JSON.stringify(path.resolve(import.meta.dir, "../../../src/store/sqlite/store.ts"))};
const store = new SqliteStore(process.argv[2]!);
await store.open();
const deadline = Date.now() + 8000;
for (let i = 0; Date.now() < deadline; i++) {
  const id = "task-" + i;
  const changes = Array.from({ length: ${changesPerTask} }, (_, j) => ({
    kind: "add" as const, path: id + "/" + j, role: "bins-" + (j % 4), fragment: "{}",
  }));
  await store.accept({ id, name: "add_artifacts", state: "PENDING" }, changes, false);
  process.stdout.write(id + "\\n");
}
`,
    );

    const proc = Bun.spawn(["bun", child, file], { stdout: "pipe", stderr: "pipe" });
    const acknowledged: string[] = [];
    const decoder = new TextDecoder();
    let buffered = "";
    const killTimer = setTimeout(() => proc.kill("SIGKILL"), 6000);
    for await (const chunk of proc.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      acknowledged.push(...lines);
      if (acknowledged.length >= 300 && !proc.killed) proc.kill("SIGKILL");
    }
    clearTimeout(killTimer);
    await proc.exited;
    // stderr first: if the child failed to start, its error is the story.
    expect(await new Response(proc.stderr).text()).toBe("");
    expect(proc.signalCode).toBe("SIGKILL");
    // Too few acknowledgements would make the test prove nothing.
    expect(acknowledged.length).toBeGreaterThanOrEqual(50);

    const store = new SqliteStore(file);
    await store.open();
    for (const id of acknowledged) expect((await store.getTask(id))?.state).toBe("PENDING");
    const pending = await store.pendingChanges(1_000_000);
    const perTask = new Map<string, number>();
    for (const c of pending) perTask.set(c.taskId, (perTask.get(c.taskId) ?? 0) + 1);
    for (const id of acknowledged) expect(perTask.get(id)).toBe(changesPerTask);
    // Whatever was in flight at the kill is either wholly there or absent.
    for (const n of perTask.values()) expect(n).toBe(changesPerTask);
    await store.close();
  }, 20_000);
});

describe("openStore", () => {
  test("sqlite: URLs and plain paths open a migrated SQLite store", async () => {
    const dir = tempDir();
    for (const url of [`sqlite:${dir}/a.db`, `sqlite://${dir}/b.db`, `${dir}/c.db`, "sqlite::memory:"]) {
      const store = await openStore(url);
      expect(store.kind).toBe("sqlite");
      expect(await store.ping()).toBe(true);
      await store.setSettings({ ok: 1 });
      await store.close();
    }
    expect(fs.existsSync(`${dir}/a.db`) && fs.existsSync(`${dir}/b.db`) && fs.existsSync(`${dir}/c.db`)).toBe(true);
  });

  test("unknown schemes and empty URLs are refused clearly", async () => {
    // postgres:// is covered by test/store/postgres.test.ts against a real server.
    await expect(openStore("mysql://localhost/x")).rejects.toThrow(/unknown store scheme/);
    await expect(openStore("")).rejects.toThrow(/empty/);
  });
});
