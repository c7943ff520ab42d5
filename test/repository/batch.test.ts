/**
 * Intake and the batching publisher (src/repository/intake.ts, batch.ts) on a
 * real SQLite file: versions go up by exactly one, only touched roles change,
 * tasks are never split, and a crash at any step leaves the published
 * repository intact and the accepted work pending.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import {
  addition,
  bootstrapped,
  type Engine,
  openEngine,
  publishedTarget,
  removeEngineDirs,
  storeWith,
  verifyPublished,
} from "./helpers.ts";

afterAll(removeEngineDirs);

const bins = new SuccinctBins(4);
const versions = (e: Engine) => verifyPublished(e.files).versions;

describe("a batch", () => {
  test("one new version of each touched bin, then one snapshot and one timestamp; untouched roles stay", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      const paths = Array.from({ length: 20 }, (_, i) => `releases/app-${i}.tar.gz`);
      const touched = new Set(paths.map((p) => bins.binForPath(p)));
      const { taskId } = await e.repo.acceptAdd({
        artifacts: paths.map((p) => addition(p)),
        addTaskIdToCustom: true,
        publish: true,
      });
      expect((await e.task(taskId))?.state).toBe("PENDING");
      expect(await e.store.countPendingChanges()).toBe(20);

      expect(await e.repo.publishOnce()).toEqual({ changes: 20, documents: touched.size + 2, timestampVersion: 2 });
      const v = versions(e);
      for (const bin of bins.names()) expect(v.get(bin)).toBe(touched.has(bin) ? 2 : 1);
      expect([v.get("targets"), v.get("snapshot"), v.get("timestamp"), v.get("root")]).toEqual([1, 2, 2, 1]);
      const p = verifyPublished(e.files);
      expect(publishedTarget(p, paths[0]!)?.custom).toEqual({ added_by_task_id: taskId });
      const task = await e.task(taskId);
      expect(task?.state).toBe("SUCCESS");
      expect(task?.result?.details).toEqual({
        added_artifacts: paths,
        invalid_paths: [],
        artifact_roles: [...touched].sort(),
      });
      expect(await e.store.countArtifacts()).toBe(20);
      expect(await e.store.countPendingChanges()).toBe(0);
      // Nothing pending: nothing published.
      expect(await e.repo.publishOnce()).toEqual({ changes: 0, documents: 0, timestampVersion: null });
    } finally {
      await e.close();
    }
  });

  test("removals: what exists goes, what does not is reported", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      await e.repo.acceptAdd({
        artifacts: [addition("a/one"), addition("a/two")],
        addTaskIdToCustom: false,
        publish: true,
      });
      await e.repo.publishOnce();
      const { taskId } = await e.repo.acceptRemove({ paths: ["a/one", "never/there"], publish: true });
      await e.repo.publishOnce();
      expect((await e.task(taskId))?.result?.details).toMatchObject({
        deleted_artifacts: ["a/one"],
        not_found_artifacts: ["never/there"],
      });
      const p = verifyPublished(e.files);
      expect(publishedTarget(p, "a/one")).toBeUndefined();
      expect(publishedTarget(p, "a/two")).toBeDefined();
      expect(p.versions.get("timestamp")).toBe(3);
    } finally {
      await e.close();
    }
  });

  test("held changes wait for /artifacts/publish; its marker task finishes with them", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      const held = await e.repo.acceptAdd({
        artifacts: [addition("held/x")],
        addTaskIdToCustom: false,
        publish: false,
      });
      expect((await e.task(held.taskId))?.state).toBe("SUCCESS");
      expect(await e.repo.publishOnce()).toEqual({ changes: 0, documents: 0, timestampVersion: null });
      const { taskId } = await e.repo.acceptPublish();
      expect((await e.repo.publishOnce()).changes).toBe(2);
      expect((await e.task(taskId))?.result?.task).toBe("publish_artifacts");
      expect(publishedTarget(verifyPublished(e.files), "held/x")).toBeDefined();
    } finally {
      await e.close();
    }
  });

  test("a batch takes whole tasks only: with room for 3 changes, tasks of 2 go one at a time", async () => {
    const e = await openEngine({ maxBatch: 3 });
    try {
      await bootstrapped(e);
      const tasks: string[] = [];
      for (const t of ["x", "y", "z"]) {
        const { taskId } = await e.repo.acceptAdd({
          artifacts: [addition(`${t}/1`), addition(`${t}/2`)],
          addTaskIdToCustom: false,
          publish: true,
        });
        tasks.push(taskId);
      }
      for (let round = 1; round <= 3; round++) {
        expect((await e.repo.publishOnce()).changes).toBe(2);
        const states = await Promise.all(tasks.map(async (id) => (await e.task(id))?.state));
        expect(states).toEqual(tasks.map((_, i) => (i < round ? "SUCCESS" : "PENDING")));
      }
      expect(versions(e).get("timestamp")).toBe(4);
    } finally {
      await e.close();
    }
  });

  test("a re-sign request for the timestamp publishes only a new timestamp", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      e.repo.requestBump(["timestamp"]);
      expect(await e.repo.publishOnce()).toEqual({ changes: 0, documents: 1, timestampVersion: 2 });
      expect([versions(e).get("snapshot"), versions(e).get("timestamp")]).toEqual([1, 2]);
    } finally {
      await e.close();
    }
  });
});

describe("a crash at any step", () => {
  test("before the commit: nothing is published, the changes stay pending, the next process publishes them once", async () => {
    let failing = false;
    const first = await openEngine({
      wrap: (s) =>
        storeWith(s, {
          commitPublication: async (pub) => {
            if (failing) throw new Error("power lost before the commit");
            return s.commitPublication(pub);
          },
        }),
    });
    await bootstrapped(first);
    const served = new Map(first.files);
    const { taskId } = await first.repo.acceptAdd({
      artifacts: [addition("c/1")],
      addTaskIdToCustom: false,
      publish: true,
    });
    failing = true;
    expect(await first.repo.publishOnce().catch((err: Error) => err.message)).toBe("power lost before the commit");
    expect(first.files).toEqual(served);
    expect(first.repo.timestampVersion).toBe(1);
    await first.close(); // the crashed process's file handle goes with it

    const second = await openEngine({ dir: first.dir });
    try {
      expect(await second.store.countPendingChanges()).toBe(1);
      expect((await second.repo.publishOnce()).timestampVersion).toBe(2);
      expect((await second.task(taskId))?.state).toBe("SUCCESS");
      expect(publishedTarget(verifyPublished(second.files), "c/1")).toBeDefined();
    } finally {
      await second.close();
    }
  });

  test("after the commit, before serving: the next process serves what was committed and publishes nothing twice", async () => {
    let crash = false;
    const first = await openEngine({
      wrap: (s) =>
        storeWith(s, {
          commitPublication: async (pub) => {
            await s.commitPublication(pub);
            if (crash) throw new Error("power lost after the commit");
          },
        }),
    });
    await bootstrapped(first);
    const { taskId } = await first.repo.acceptAdd({
      artifacts: [addition("d/1")],
      addTaskIdToCustom: false,
      publish: true,
    });
    crash = true;
    expect(await first.repo.publishOnce().catch((err: Error) => err.message)).toBe("power lost after the commit");
    expect(first.repo.timestampVersion).toBe(1);
    await first.close();

    const second = await openEngine({ dir: first.dir });
    try {
      expect(second.repo.timestampVersion).toBe(2);
      expect(await second.store.countPendingChanges()).toBe(0);
      expect((await second.task(taskId))?.state).toBe("SUCCESS");
      expect(publishedTarget(verifyPublished(second.files), "d/1")).toBeDefined();
      expect(await second.repo.publishOnce()).toEqual({ changes: 0, documents: 0, timestampVersion: null });
    } finally {
      await second.close();
    }
  });
});
