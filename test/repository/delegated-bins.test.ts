/**
 * Hash bins inside a custom delegation (src/repository/delegated-bins.ts) on a
 * real SQLite file: the role's document delegates to its bins with TAP 15
 * succinct_roles, each bin verifies as that delegation says (@tufjs/models),
 * bins are re-signed with the role's expiry, and leave with the role.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Metadata, MetadataKind, type Targets } from "@tufjs/models";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import { fixture } from "../helpers/fixtures.ts";
import { addition, type Engine, openEngine, removeEngineDirs, verifyPublished } from "./helpers.ts";

afterAll(removeEngineDirs);

const BINS = new SuccinctBins(3, "pypi-bins");

async function withBinnedRole(): Promise<Engine> {
  const e = await openEngine();
  const p = fixture("bootstrap-delegations.json");
  p.settings.roles.delegations.roles.unshift({
    name: "pypi",
    terminating: true,
    keyids: [],
    threshold: 1,
    paths: ["pypi/*"],
    "x-rstuf-expire-policy": 5,
    "x-rstuf-num-bins": 8,
  });
  const { taskId } = await e.repo.acceptBootstrap(parseBootstrapPayload(p));
  await e.repo.drain();
  expect((await e.task(taskId))?.state).toBe("SUCCESS");
  return e;
}

const latest = (e: Engine, role: string) => {
  const v = e.repo.heads().find((h) => h.role === role)!.version;
  return Metadata.fromJSON(
    MetadataKind.Targets,
    JSON.parse(new TextDecoder().decode(e.files.get(`${v}.${role}.json`)!)),
  );
};

describe("hash bins inside a custom delegation", () => {
  test("artifacts land in the bin TAP 15 names; every bin verifies as the role delegates it", async () => {
    const e = await withBinnedRole();
    const paths = Array.from({ length: 20 }, (_, i) => `pypi/pkg-${i}.tar.gz`);
    const { taskId } = await e.repo.acceptAdd({
      artifacts: paths.map((p) => addition(p)),
      addTaskIdToCustom: false,
      publish: true,
    });
    await e.repo.publishOnce();
    const task = (await e.task(taskId))!;
    expect(task.state).toBe("SUCCESS");
    const published = verifyPublished(e.files);
    const pypi: Metadata<Targets> = published.roles.get("pypi")!;
    expect(pypi.signed.delegations?.succinctRoles?.bitLength).toBe(3);
    for (const bin of BINS.names()) {
      const m = latest(e, bin);
      // The delegation in pypi's own document is what clients check each bin against.
      pypi.verifyDelegate(bin, m);
      for (const path of Object.keys(m.signed.targets)) expect(BINS.binForPath(path)).toBe(bin);
    }
    for (const p of paths) expect((await e.store.getArtifact(p))?.role).toBe(BINS.binForPath(p));
    await e.close();
  });

  test("a re-sign of a bin renews it for the role's x-rstuf-expire-policy days", async () => {
    const e = await withBinnedRole();
    const bin = BINS.nameOf(5);
    e.repo.requestBump([bin]);
    await e.repo.publishOnce();
    const m = latest(e, bin);
    expect(m.signed.version).toBe(2);
    const days = (Date.parse(m.signed.expires) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(4.9);
    expect(days).toBeLessThan(5.1);
    latest(e, "pypi").verifyDelegate(bin, m);
    await e.close();
  });

  test("deleting the role takes its bins' artifacts with it; its bins stay in snapshot", async () => {
    const e = await withBinnedRole();
    await e.repo.acceptAdd({ artifacts: [addition("pypi/a.tar.gz")], addTaskIdToCustom: false, publish: true });
    await e.repo.publishOnce();
    const { taskId } = await e.repo.acceptDelegations("delete", {
      keys: {},
      roles: [{ name: "pypi", keyids: [], threshold: 1, terminating: false }],
    });
    await e.repo.drain();
    expect((await e.task(taskId))?.result?.details).toEqual({ delegated_roles: ["pypi"], failed_roles: [] });
    expect(await e.store.getArtifact("pypi/a.tar.gz")).toBeUndefined();
    const published = verifyPublished(e.files);
    for (const bin of BINS.names()) expect(published.versions.has(bin)).toBe(true);
    await e.close();
  });
});
