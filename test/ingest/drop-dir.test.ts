/**
 * The drop directory on a real server (SQLite file, local storage): ready
 * directories are claimed, stored, added as one task and removed; failures
 * become tuf_failed_<id>/ with error.json and add nothing; a crash at either
 * side of the accept resumes without a second task.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, type TestServer } from "../helpers/server.ts";
import { bootstrapped, sha256 } from "../helpers/upload.ts";
import { startTestServer } from "../helpers/server.ts";
import { DROP_DIR_ACTOR } from "../../src/store/store.ts";

function writeBatch(drop: string, id: string, files: Record<string, string>, prefix = "tuf"): string {
  const tmp = join(drop, `${prefix}_tmp_${id}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(tmp, path, ".."), { recursive: true });
    writeFileSync(join(tmp, path), text);
  }
  return tmp;
}

function ready(drop: string, id: string, prefix = "tuf"): void {
  const upper = prefix === "TUF";
  renameSync(join(drop, `${prefix}_tmp_${id}`), join(drop, `${upper ? "TUF_READY" : "tuf_ready"}_${id}`));
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("drop directory", () => {
  let s: TestServer;
  let drop: string;
  const logs: string[] = [];

  beforeAll(async () => {
    drop = tempDir("tufbox-drop-");
    s = await bootstrapped({ env: { TUFBOX_DROP_DIR: drop, TUFBOX_DROP_DIR_SCAN_SECONDS: "1" }, logLines: logs });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("a ready directory is added as one task, every file under its relative path, then removed", async () => {
    writeBatch(drop, "build-1", { "app/app-1.0.tar.gz": "app bytes", "app/docs/readme.txt": "docs", "top.bin": "top" });
    ready(drop, "build-1");
    await until("the directory to go", () => readdirSync(drop).length === 0);
    const paths = ["app/app-1.0.tar.gz", "app/docs/readme.txt", "top.bin"];
    await until("publication", async () => (await s.app.store.getArtifact("top.bin")) !== undefined);
    for (const p of paths) expect(await s.app.store.getArtifact(p)).toBeDefined();
    const entry = JSON.parse((await s.app.store.getArtifact("app/app-1.0.tar.gz"))!.fragment);
    expect(entry).toEqual({ length: 9, hashes: { sha256: sha256("app bytes") } });
    const got = await fetch(`${s.url}/targets/app/${sha256("app bytes")}.app-1.0.tar.gz`);
    expect(await got.text()).toBe("app bytes");
    // One task for the whole directory.
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === "drop directory accepted");
    expect(line.files).toBe(3);
    const task = await s.waitTask(line.task_id);
    expect(task.result.details.added_artifacts.sort()).toEqual(paths);
    // Audited in the same transaction, under the drop directory's own principal.
    const audit = (await s.app.store.listAudit({ limit: 100 })).find((a) => a.taskId === line.task_id);
    expect(audit).toMatchObject({ principal: "drop-dir", action: "add_artifacts", source: null, route: null });
  });

  test("upper-case TUF_ names work, and several directories are processed", async () => {
    writeBatch(drop, "A", { "upper/a.txt": "A" }, "TUF");
    writeBatch(drop, "b", { "lower/b.txt": "B" });
    writeBatch(drop, "c", { "lower/c.txt": "C" });
    ready(drop, "A", "TUF");
    ready(drop, "b");
    ready(drop, "c");
    await until("every directory to go", () => readdirSync(drop).length === 0);
    await until("publication", async () => (await s.app.store.getArtifact("lower/c.txt")) !== undefined);
    expect(await s.app.store.getArtifact("upper/a.txt")).toBeDefined();
    expect(await s.app.store.getArtifact("lower/b.txt")).toBeDefined();
  });

  test("tuf_tmp_ directories are left alone", async () => {
    writeBatch(drop, "wip", { "wip/a.txt": "not yet" });
    await s.app.dropDir!.scan();
    await s.app.dropDir!.idle();
    expect(readdirSync(drop)).toEqual(["tuf_tmp_wip"]);
    expect(await s.app.store.getArtifact("wip/a.txt")).toBeUndefined();
    ready(drop, "wip");
    await until("the directory to go", () => readdirSync(drop).length === 0);
  });

  const failures: [string, (dir: string) => void, RegExp, string | null][] = [
    ["a symbolic link", (dir) => symlinkSync("/etc/passwd", join(dir, "escape.txt")), /symbolic link/, "escape.txt"],
    [
      "a FIFO",
      (dir) => {
        Bun.spawnSync(["mkfifo", join(dir, "pipe")]);
      },
      /not a regular file/,
      "pipe",
    ],
    [
      "a file name with a backslash",
      (dir) => writeFileSync(join(dir, "a\\b.txt"), "x"),
      /not a valid target path/,
      "a\\b.txt",
    ],
  ];
  for (const [what, make, error, file] of failures) {
    test(`${what}: tuf_failed_<id>/ with error.json, a FAILURE task, nothing from the directory added`, async () => {
      const id = `bad-${file?.replace(/\W/g, "")}`;
      const tmp = writeBatch(drop, id, { "good/first.txt": `good file of ${id}` });
      make(tmp);
      ready(drop, id);
      const failed = join(drop, `tuf_failed_${id}`);
      await until("the failed directory", () => existsSync(join(failed, "error.json")));
      const report = JSON.parse(readFileSync(join(failed, "error.json"), "utf8"));
      expect(Object.keys(report).sort()).toEqual(["error", "file", "hint", "task_id"]);
      expect(report.error).toMatch(error);
      expect(report.file).toBe(file);
      expect(report.hint.length).toBeGreaterThan(10);
      const task = await s.waitTask(report.task_id);
      expect(task.state).toBe("FAILURE");
      expect(task.result.error).toMatch(error);
      // The good file next to the bad one was not added (nor is it queued).
      await Bun.sleep(50);
      expect(await s.app.store.getArtifact("good/first.txt")).toBeUndefined();
      expect(await s.app.store.countPendingChanges()).toBe(0);
      expect(existsSync(join(failed, "good", "first.txt"))).toBe(true);
    });
  }

  test("an empty directory fails with a hint", async () => {
    mkdirSync(join(drop, "tuf_ready_empty"));
    const failed = join(drop, "tuf_failed_empty", "error.json");
    await until("the failed directory", () => existsSync(failed));
    expect(JSON.parse(readFileSync(failed, "utf8"))).toMatchObject({
      error: "the directory holds no files",
      file: null,
    });
  });
});

describe("drop directory after a crash", () => {
  test("a processing directory without an accept is added on start; with one, only cleaned up", async () => {
    const dataDir = tempDir();
    const drop = tempDir("tufbox-drop-");
    const first = await bootstrapped({ dataDir, env: { TUFBOX_DROP_DIR: drop } });
    // Crash after the accept committed, before the directory was removed: its claim and task exist.
    writeBatch(drop, "done", { "done/a.txt": "accepted before the crash" });
    renameSync(join(drop, "tuf_tmp_done"), join(drop, "tuf_processing_done"));
    const taskId = "d".repeat(32);
    await first.app.store.setSettings({ "ingest.drop.tuf_processing_done": { taskId } });
    const digest = await first.app.content.receive([new TextEncoder().encode("accepted before the crash")]);
    await first.app.repo.acceptAdd(
      {
        artifacts: [{ path: "done/a.txt", info: { length: digest.length, hashes: { sha256: digest.sha256 } } }],
        addTaskIdToCustom: false,
        publish: true,
      },
      DROP_DIR_ACTOR,
      { taskId },
    );
    await first.waitTask(taskId);
    // Crash after the claim, before the accept: no task.
    writeBatch(drop, "half", { "half/b.txt": "claimed, not accepted" });
    renameSync(join(drop, "tuf_tmp_half"), join(drop, "tuf_processing_half"));
    await first.app.store.setSettings({ "ingest.drop.tuf_processing_half": { taskId: "e".repeat(32) } });
    await first.stop();

    const second = await startTestServer({ dataDir, env: { TUFBOX_DROP_DIR: drop } });
    try {
      await until("both directories to go", () => readdirSync(drop).length === 0);
      await second.waitTask("e".repeat(32));
      expect(await second.app.store.getArtifact("half/b.txt")).toBeDefined();
      // The accepted one was not added a second time: still exactly its one task, nothing queued.
      expect((await second.app.store.getTask(taskId))?.state).toBe("SUCCESS");
      expect(await second.app.store.countPendingChanges()).toBe(0);
      expect(await second.app.store.getSetting("ingest.drop.tuf_processing_done")).toBeUndefined();
      expect(await second.app.store.getSetting("ingest.drop.tuf_processing_half")).toBeUndefined();
    } finally {
      await second.stop();
    }
  }, 60_000);
});
