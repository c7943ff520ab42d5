/**
 * Pausing publication (repository/pause.ts) on the engine, real SQLite file:
 * accepted changes wait while paused, re-signing before expiry goes on
 * without them, the pause survives a restart, and resume publishes them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { PAUSE_KEY } from "../../src/repository/pause.ts";
import type { AuditActor } from "../../src/store/store.ts";
import { addition, bootstrapped, openEngine, publishedTarget, removeEngineDirs, verifyPublished } from "./helpers.ts";

afterAll(removeEngineDirs);

const OPERATOR: AuditActor = { principal: "token:op", principalName: "operator", source: "127.0.0.1", route: "test" };

function heads(e: { repo: { heads(): { role: string; version: number; expires: string }[] } }) {
  return new Map(e.repo.heads().map((h) => [h.role, h]));
}

describe("pause and resume", () => {
  test("paused: additions are accepted and queued, not published; re-signing goes on without them; resume publishes them", async () => {
    let now = Date.now();
    const e = await openEngine({ now: () => new Date(now) });
    try {
      await bootstrapped(e);
      const paused = await e.repo.pausePublishing(OPERATOR, "maintenance window");
      expect(paused.changed).toBe(true);
      expect(paused.state).toMatchObject({ paused: true, by: "operator", reason: "maintenance window" });
      // A second pause keeps the first record.
      const again = await e.repo.pausePublishing(OPERATOR, "other");
      expect(again.changed).toBe(false);
      expect(again.state.reason).toBe("maintenance window");

      const before = heads(e);
      const { taskId } = await e.repo.acceptAdd({
        artifacts: [addition("queued/a.tar.gz"), addition("queued/b.tar.gz")],
        addTaskIdToCustom: false,
        publish: true,
      });
      expect(await e.repo.publishOnce()).toEqual({ changes: 0, documents: 0, timestampVersion: null });
      expect((await e.task(taskId))?.state).toBe("PENDING");
      expect(await e.store.countPendingChanges()).toBe(2);
      expect(heads(e).get("timestamp")!.version).toBe(before.get("timestamp")!.version);

      // 20 hours later the 1-day roles near expiry: the scheduler's re-sign still publishes.
      now += 20 * 3_600_000;
      const expiring = e.repo.expiringRoles(6 * 3_600_000);
      expect(expiring).toContain("timestamp");
      expect(expiring).toContain("snapshot");
      expect(expiring.filter((r) => r.startsWith("bins-")).length).toBeGreaterThan(0);
      e.repo.requestBump(expiring);
      const resigned = await e.repo.publishOnce();
      expect(resigned.changes).toBe(0);
      expect(resigned.documents).toBe(expiring.length);
      const after = heads(e);
      for (const role of expiring) {
        expect(after.get(role)!.version).toBe(before.get(role)!.version + 1);
        expect(Date.parse(after.get(role)!.expires)).toBeGreaterThan(Date.parse(before.get(role)!.expires));
      }
      // The re-signed bins do not carry the queued artifacts; the task still waits.
      let published = verifyPublished(e.files);
      expect(publishedTarget(published, "queued/a.tar.gz")).toBeUndefined();
      expect((await e.task(taskId))?.state).toBe("PENDING");
      expect(await e.store.countPendingChanges()).toBe(2);

      const resumed = await e.repo.resumePublishing(OPERATOR);
      expect(resumed).toEqual({ state: { paused: false, since: null, by: null, reason: null }, changed: true });
      expect((await e.repo.publishOnce()).changes).toBe(2);
      expect((await e.task(taskId))?.state).toBe("SUCCESS");
      published = verifyPublished(e.files);
      expect(publishedTarget(published, "queued/a.tar.gz")).toBeDefined();
      expect(publishedTarget(published, "queued/b.tar.gz")).toBeDefined();
      expect(heads(e).get("timestamp")!.version).toBe(after.get("timestamp")!.version + 1);

      // Both changes are in the audit log, with who and the queue length.
      const audit = (await e.store.listAudit({ limit: 100 })).filter((a) => a.action.endsWith("_publisher"));
      expect(audit.map((a) => a.action)).toEqual(["pause_publisher", "resume_publisher"]);
      expect(audit[0]).toMatchObject({ principalName: "operator", summary: { reason: "maintenance window" } });
      expect(audit[1]!.summary).toMatchObject({ pending_changes: 2 });
    } finally {
      await e.close();
    }
  });

  test("a pause survives a restart, and is a row every process reading the store obeys", async () => {
    const first = await openEngine();
    const dir = first.dir;
    await bootstrapped(first);
    await first.repo.pausePublishing(OPERATOR);
    const { taskId } = await first.repo.acceptAdd({
      artifacts: [addition("after-restart")],
      addTaskIdToCustom: false,
      publish: true,
    });
    await first.close();

    const second = await openEngine({ dir });
    try {
      expect((await second.repo.publisherState()).paused).toBe(true);
      expect(await second.store.getSetting(PAUSE_KEY)).toMatchObject({ by: "operator" });
      expect((await second.repo.publishOnce()).changes).toBe(0);
      expect((await second.task(taskId))?.state).toBe("PENDING");
      await second.repo.resumePublishing(OPERATOR);
      expect(await second.store.getSetting(PAUSE_KEY)).toBeUndefined();
      expect((await second.repo.publishOnce()).changes).toBe(1);
      expect((await second.task(taskId))?.state).toBe("SUCCESS");
    } finally {
      await second.close();
    }
  });

  test("resume when not paused changes nothing and writes no audit entry", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      expect((await e.repo.resumePublishing(OPERATOR)).changed).toBe(false);
      const audit = await e.store.listAudit({ limit: 100 });
      expect(audit.filter((a) => a.action.endsWith("_publisher"))).toEqual([]);
    } finally {
      await e.close();
    }
  });
});
