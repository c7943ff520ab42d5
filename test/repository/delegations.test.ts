/**
 * Custom delegations (src/repository/delegations.ts) on a real SQLite file:
 * paths go to the role clients will look in, offline roles publish through
 * their signing session, and roles are added, changed and deleted.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { DelegatedRole } from "../../src/tuf/metadata.ts";
import { fixtureKey } from "../helpers/fixtures.ts";
import {
  addition,
  bootstrapped,
  type Engine,
  openEngine,
  publishedTarget,
  removeEngineDirs,
  signatureBy,
  verifyPublished,
} from "./helpers.ts";

afterAll(removeEngineDirs);

const OFFLINE = fixtureKey("offline-ed25519").keyid;

async function add(e: Engine, ...paths: string[]) {
  const { taskId } = await e.repo.acceptAdd({
    artifacts: paths.map((p) => addition(p)),
    addTaskIdToCustom: false,
    publish: true,
  });
  await e.repo.publishOnce();
  return (await e.task(taskId))!;
}

function role(name: string, paths: string[]): DelegatedRole {
  return { name, terminating: false, keyids: [], threshold: 1, paths, "x-rstuf-expire-policy": 2 };
}

describe("custom delegations", () => {
  test("paths go to the first matching role; an uncovered path is an invalid path", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e, "bootstrap-delegations.json");
      const task = await add(e, "nightly/app", "top-level.bin");
      expect(task.result?.details).toEqual({
        added_artifacts: ["nightly/app"],
        invalid_paths: ["top-level.bin"],
        artifact_roles: ["nightly"],
      });
      const p = verifyPublished(e.files);
      expect(p.versions.get("nightly")).toBe(2);
      expect(publishedTarget(p, "nightly/app")).toBeDefined();
    } finally {
      await e.close();
    }
  });

  test("an offline role: its tasks wait RUNNING until its signers sign, then both publish", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e, "bootstrap-delegations.json");
      const task = await add(e, "releases/app-1.0.tar.gz");
      expect(task.state).toBe("RUNNING");
      expect(task.result?.details?.update).toBe("releases v1 is pending signatures");
      const pending = (await e.repo.pendingSigning()) as Record<string, any>;
      const keys = pending.trusted_targets.signed.delegations.keys;
      const { taskId } = await e.repo.acceptSign("releases", signatureBy(pending.releases, "offline-ed25519", keys));
      await e.repo.drain();
      expect((await e.task(taskId))?.result?.details).toEqual({ update: "Role releases signing complete" });
      expect((await e.task(task.id))?.state).toBe("SUCCESS");
      const p = verifyPublished(e.files);
      expect(p.roles.get("releases")?.signatures[OFFLINE]).toBeDefined();
      expect(publishedTarget(p, "releases/app-1.0.tar.gz")).toBeDefined();
    } finally {
      await e.close();
    }
  });

  test("add, change and delete roles; a deleted name is never reused", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e, "bootstrap-delegations.json");
      const targets = () => verifyPublished(e.files).versions.get("targets");
      const run = async (op: "add" | "update" | "delete", roles: DelegatedRole[]) => {
        const { taskId } = await e.repo.acceptDelegations(op, { keys: {}, roles });
        await e.repo.drain();
        return (await e.task(taskId))!;
      };

      expect((await run("add", [role("docs", ["docs/*"])])).result?.details).toEqual({
        delegated_roles: ["docs"],
        failed_roles: [],
      });
      expect(targets()).toBe(2);
      expect((await add(e, "docs/guide.pdf")).result?.details?.artifact_roles).toEqual(["docs"]);

      await run("update", [role("docs", ["docs/*", "manuals/*"])]);
      expect(targets()).toBe(3);
      expect((await add(e, "manuals/x")).result?.details?.artifact_roles).toEqual(["docs"]);

      await run("delete", [role("docs", [])]);
      const p = verifyPublished(e.files);
      expect(p.versions.get("targets")).toBe(4);
      expect(p.roles.has("docs")).toBe(false);
      expect(publishedTarget(p, "docs/guide.pdf")).toBeUndefined();
      expect(await e.store.getArtifact("docs/guide.pdf")).toBeUndefined();

      const again = await run("add", [role("docs", ["docs/*"])]);
      expect(again.state).toBe("ERRORED");
      expect(again.result?.details?.failed_roles).toEqual([
        { role: "docs", reason: "role name was deleted before and cannot be reused" },
      ]);
    } finally {
      await e.close();
    }
  });
});
