/** Bootstrap (src/repository/bootstrap.ts) on a real SQLite file. */
import { afterAll, describe, expect, test } from "bun:test";
import { StateError, ValidationError } from "../../src/repository/errors.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import { fixture } from "../helpers/fixtures.ts";
import { bootstrapped, openEngine, removeEngineDirs, storeWith, verifyPublished } from "./helpers.ts";

afterAll(removeEngineDirs);

describe("bootstrap", () => {
  test("publishes version 1 of every role, verifiable by an independent client library; the file keeps it", async () => {
    const e = await openEngine();
    expect(e.repo.bootstrapped).toBe(false);
    const taskId = await bootstrapped(e);
    const task = await e.task(taskId);
    expect(task?.result).toMatchObject({
      task: "bootstrap",
      status: true,
      details: { bootstrap: "Bootstrap Finished" },
    });
    const p = verifyPublished(e.files);
    expect(p.roles.size).toBe(16);
    expect([...p.versions.values()].every((v) => v === 1)).toBe(true);
    expect(p.targets.signed.delegations?.succinctRoles?.bitLength).toBe(4);
    expect(e.repo.bootstrapRecord).toEqual({ state: "finished", taskId });
    expect(e.repo.timestampVersion).toBe(1);
    const served = new Map(e.files);
    await e.close();

    // Reopened from the file alone: the same repository, the same bytes served.
    const again = await openEngine({ dir: e.dir });
    try {
      expect(again.repo.bootstrapped).toBe(true);
      expect(again.repo.heads().length).toBe(20);
      for (const [name, bytes] of again.files) expect(Buffer.from(bytes).equals(served.get(name)!)).toBe(true);
      verifyPublished(again.files);
    } finally {
      await again.close();
    }
  });

  test("custom delegations: online roles at v1, offline roles parked for their signers", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e, "bootstrap-delegations.json");
      const p = verifyPublished(e.files);
      expect([...p.roles.keys()]).toEqual(["nightly"]);
      const pending = await e.repo.pendingSigning();
      expect(Object.keys(pending ?? {}).sort()).toEqual(["releases", "trusted_targets"]);
    } finally {
      await e.close();
    }
  });

  test("a second bootstrap is refused with RSTUF's message; nothing changes", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      const before = new Map(e.files);
      const err = await e.repo.acceptBootstrap(parseBootstrapPayload(fixture("bootstrap-bins.json"))).catch((x) => x);
      expect(err).toBeInstanceOf(StateError);
      expect(err.message).toBe("System already has a Metadata. State: finished");
      expect(e.files).toEqual(before);
    } finally {
      await e.close();
    }
  });

  test("a root whose signature does not verify is refused before anything is written", async () => {
    const e = await openEngine();
    try {
      const payload = parseBootstrapPayload(fixture("bootstrap-bins.json"));
      payload.root.signed.expires = "2099-01-01T00:00:00Z";
      const err = await e.repo.acceptBootstrap(payload).catch((x) => x);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.issues[0].loc).toEqual(["body", "metadata", "root", "signatures"]);
      expect(e.repo.bootstrapRecord).toBeUndefined();
      expect(await e.store.getSetting("bootstrap")).toBeUndefined();
      expect(e.files.size).toBe(0);
    } finally {
      await e.close();
    }
  });

  test("a crash between acceptance and the run: reopening the file resumes the bootstrap", async () => {
    // The first process accepts, then never gets the publisher lock (it dies there).
    let stuck: Promise<never> | undefined;
    const first = await openEngine({
      wrap: (s) => storeWith(s, { withLock: () => (stuck = new Promise<never>(() => {})) }),
    });
    const { taskId } = await first.repo.acceptBootstrap(parseBootstrapPayload(fixture("bootstrap-bins.json")));
    expect(stuck).toBeDefined();
    expect((await first.task(taskId))?.state).toBe("PENDING");
    expect(await first.store.getSetting("bootstrap")).toEqual({ state: "pre", taskId });

    const second = await openEngine({ dir: first.dir });
    try {
      expect(second.repo.bootstrapped).toBe(false);
      await second.repo.resume();
      await second.repo.drain();
      expect((await second.task(taskId))?.state).toBe("SUCCESS");
      expect(verifyPublished(second.files).versions.get("timestamp")).toBe(1);
    } finally {
      await second.close();
    }
  });
});
