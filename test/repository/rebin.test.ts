/**
 * Re-binning online (src/repository/rebin.ts) on a real SQLite file: the new
 * layout is published in one batch, every artifact lands in the bin its
 * path hashes to, old bins stay listed in snapshot with their last version,
 * names shared by two layouts continue their version numbers, changes
 * accepted while (or before) the layout changed are not lost, and retention
 * keeps the last version of every old bin. What is published is verified
 * with @tufjs/models (verifyPublished).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ValidationError } from "../../src/repository/errors.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import type { Store } from "../../src/store/store.ts";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import { canonicalJson } from "../../src/tuf/canonical.ts";
import { binsFedBy, isRetiredBin, retiredBitLengths } from "../../src/tuf/bin-layouts.ts";
import { binsPayload, fixture } from "../helpers/fixtures.ts";
import {
  addition,
  type Engine,
  openEngine,
  type Published,
  publishedTarget,
  removeEngineDirs,
  storeWith,
  verifyPublished,
} from "./helpers.ts";

afterAll(removeEngineDirs);

async function bootstrappedWith(bins: number, wrap?: (store: Store) => Store): Promise<Engine> {
  const e = await openEngine({ wrap });
  const { taskId } = await e.repo.acceptBootstrap(parseBootstrapPayload(binsPayload(bins)));
  await e.repo.drain();
  expect((await e.task(taskId))?.state).toBe("SUCCESS");
  return e;
}

async function publishAll(e: Engine): Promise<void> {
  for (;;) {
    const o = await e.repo.publishOnce();
    if (o.changes === 0 && o.documents === 0) return;
  }
}

async function add(e: Engine, paths: string[]): Promise<string> {
  const { taskId } = await e.repo.acceptAdd({
    artifacts: paths.map((p) => addition(p)),
    publish: true,
    addTaskIdToCustom: false,
  });
  return taskId;
}

async function resize(e: Engine, count: number) {
  const { taskId } = await e.repo.acceptResize(count);
  await e.repo.drain();
  const task = await e.task(taskId);
  expect(task?.state).toBe("SUCCESS");
  return task!;
}

/** Read every document the store holds for the latest heads into the engine's file map, as the server serves them. */
async function served(e: Engine): Promise<Published> {
  for (const h of await e.store.getHeads()) {
    const name = `${h.version}.${h.role}.json`;
    if (h.role === "timestamp" || e.files.has(name)) continue;
    const doc = await e.store.getDocument(h.role, h.version);
    if (doc) e.files.set(name, doc.bytes);
  }
  return verifyPublished(e.files);
}

/** Every path is listed exactly once, in the bin its hash names in `bins`. */
function expectAllIn(p: Published, bins: SuccinctBins, paths: string[]) {
  const succinct = p.targets.signed.delegations!.succinctRoles!;
  expect(succinct.bitLength).toBe(bins.bitLength);
  expect(succinct.namePrefix).toBe("bins");
  let listed = 0;
  for (const [role, m] of p.roles) {
    expect(bins.isBin(role)).toBe(true);
    for (const path of Object.keys(m.signed.targets)) {
      expect(bins.binForPath(path)).toBe(role);
      listed++;
    }
  }
  for (const path of paths) {
    expect(publishedTarget(p, path)).toBeDefined();
    expect(succinct.getRoleForTarget(path)).toBe(bins.binForPath(path));
  }
  expect(listed).toBe(paths.length);
  expect(p.roles.size).toBe(bins.count);
}

const pathsOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}/pkg-${i}.tar.gz`);

describe("bin layouts (pure)", () => {
  test("a path's bin in a larger layout lies inside its bin in a smaller one", () => {
    for (const [from, to] of [
      [2, 6],
      [6, 1],
      [8, 14],
      [14, 1],
    ] as const) {
      const a = new SuccinctBins(from);
      const b = new SuccinctBins(to);
      for (let i = 0; i < 500; i++) {
        const path = `p/${i}`;
        const [first, end] = binsFedBy(a.indexForPath(path), from, to);
        const j = b.indexForPath(path);
        expect(j >= first && j < end).toBe(true);
      }
    }
  });

  test("retired layouts: the old bit lengths without the current one; a coinciding name is current", () => {
    expect(retiredBitLengths([], 2, 6)).toEqual([2]);
    expect(retiredBitLengths([2], 6, 1)).toEqual([2, 6]);
    expect(retiredBitLengths([2, 6], 1, 2)).toEqual([1, 6]);
    const current = new SuccinctBins(1);
    const retired = [new SuccinctBins(2), new SuccinctBins(6)];
    expect(isRetiredBin("bins-0", current, retired)).toBe(false);
    expect(isRetiredBin("bins-3", current, retired)).toBe(true);
    expect(isRetiredBin("bins-3f", current, retired)).toBe(true);
    expect(isRetiredBin("bins-40", current, retired)).toBe(false);
    expect(isRetiredBin("releases", current, retired)).toBe(false);
  });
});

describe("resizing the hash bins", () => {
  test("4 → 64 → 2 → 4: one batch each, artifacts redistributed, old bins kept in snapshot, versions continue", async () => {
    const e = await bootstrappedWith(4);
    const paths = pathsOf("a", 120);
    await add(e, paths);
    await publishAll(e);
    let p = await served(e);
    expectAllIn(p, new SuccinctBins(2), paths);
    const before = new Map(p.versions);
    const tsBefore = p.timestamp.signed.version;

    // 4 → 64: new names (width 2), version 1; the four old bins keep their last version.
    const up = await resize(e, 64);
    expect(up.result?.details).toMatchObject({ from: 4, to: 64, artifacts: 120, moved_artifacts: 120 });
    p = await served(e);
    // One publication: exactly one new timestamp and one new snapshot.
    expect(p.timestamp.signed.version).toBe(tsBefore + 1);
    expect(p.snapshot.signed.version).toBe(before.get("snapshot")! + 1);
    expect(p.targets.signed.version).toBe(before.get("targets")! + 1);
    expectAllIn(p, new SuccinctBins(6), paths);
    for (const role of new SuccinctBins(6).names()) expect(p.versions.get(role)).toBe(1);
    for (const role of new SuccinctBins(2).names()) {
      expect(p.snapshot.signed.meta[`${role}.json`]?.version).toBe(before.get(role)!);
    }
    expect(e.repo.settings?.bins).toMatchObject({ count: 64, bitLength: 6, retiredBitLengths: [2] });
    // Status, the scheduler and /readyz see only the delegated bins.
    const headRoles = e.repo.heads().map((h) => h.role);
    expect(headRoles.filter((r) => r.startsWith("bins-")).length).toBe(64);
    expect(e.repo.expiringRoles(400 * 86_400_000).length).toBe(64 + 3);

    // 64 → 2: bins-0 and bins-1 were bins of the 4-bin layout: their versions continue.
    const v0 = p.snapshot.signed.meta["bins-0.json"]!.version;
    await resize(e, 2);
    p = await served(e);
    expectAllIn(p, new SuccinctBins(1), paths);
    expect(p.versions.get("bins-0")).toBe(v0 + 1);
    for (const role of [...new SuccinctBins(6).names(), "bins-2", "bins-3"])
      expect(p.snapshot.signed.meta[`${role}.json`]).toBeDefined();
    expect(Object.keys(p.snapshot.signed.meta).length).toBe(1 + 4 + 64);
    expect(e.repo.settings?.bins?.retiredBitLengths).toEqual([2, 6]);

    // Back to 4: bins-2 and bins-3 come back with the version after their last.
    const v3 = p.snapshot.signed.meta["bins-3.json"]!.version;
    await resize(e, 4);
    p = await served(e);
    expectAllIn(p, new SuccinctBins(2), paths);
    expect(p.versions.get("bins-3")).toBe(v3 + 1);
    expect(e.repo.settings?.bins?.retiredBitLengths).toEqual([1, 6]);
    await e.close();
  });

  test("adds racing the resize: every artifact lands in the bin of the layout that publishes it", async () => {
    // The resize reads the old bins through this gate: adds are accepted while it is half-built.
    let reading!: () => void;
    const readingStarted = new Promise<void>((r) => (reading = r));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let gated = false;
    const e = await bootstrappedWith(4, (store) =>
      storeWith(store, {
        listArtifactsInRoles: async (roles) => {
          if (gated) {
            reading();
            await gate;
          }
          return store.listArtifactsInRoles(roles);
        },
      }),
    );
    const all: string[] = [];
    const before = pathsOf("before", 50);
    await add(e, before);
    await publishAll(e);
    all.push(...before);
    // Accepted but not yet published when the resize starts: published with it.
    const pending = pathsOf("pending", 30);
    await add(e, pending);
    all.push(...pending);
    gated = true;
    const { taskId } = await e.repo.acceptResize(32);
    await readingStarted;
    gated = false;
    // Accepted while the resize is being built (the publisher waits for its lock meanwhile).
    const during: string[] = [];
    const publishing: Promise<unknown>[] = [];
    for (let round = 0; round < 5; round++) {
      const batch = pathsOf(`during-${round}`, 10);
      await add(e, batch);
      during.push(...batch);
      publishing.push(e.repo.publishOnce());
    }
    all.push(...during);
    open();
    await Promise.all(publishing);
    await e.repo.drain();
    expect((await e.task(taskId))?.state).toBe("SUCCESS");
    // Accepted by a replica that has not caught up: its change names a bin of the old layout.
    const old = new SuccinctBins(2);
    const staleTask = "f".repeat(32);
    await e.store.accept(
      { id: staleTask, name: "add_artifacts", state: "PENDING" },
      [
        {
          kind: "add",
          path: "stale/x.tar.gz",
          role: old.binForPath("stale/x.tar.gz"),
          fragment: canonicalJson(addition("x").info),
        },
      ],
      false,
    );
    all.push("stale/x.tar.gz");
    // A removal accepted under the old layout, too.
    await e.store.accept(
      { id: "e".repeat(32), name: "remove_artifacts", state: "PENDING" },
      [{ kind: "remove", path: before[0]!, role: old.binForPath(before[0]!), fragment: null }],
      false,
    );
    all.splice(all.indexOf(before[0]!), 1);
    const after = pathsOf("after", 40);
    await add(e, after);
    all.push(...after);
    await publishAll(e);
    expect((await e.task(staleTask))?.state).toBe("SUCCESS");
    const p = await served(e);
    expectAllIn(p, new SuccinctBins(5), all);
    expect(publishedTarget(p, before[0]!)).toBeUndefined();
    // The store agrees: every artifact row names its new bin.
    const bins = new SuccinctBins(5);
    const rows = await e.store.listArtifactsInRoles(bins.names());
    let n = 0;
    for (const [role, list] of rows)
      for (const a of list) {
        expect(bins.binForPath(a.path)).toBe(role);
        n++;
      }
    expect(n).toBe(all.length);
    await e.close();
  });

  test("a crash while the artifact rows move: the next process finishes the move before it publishes", async () => {
    let crash = true;
    const e = await bootstrappedWith(4, (store) =>
      storeWith(store, {
        commitPublication: async (pub) => {
          // The first transaction that only moves rows (after the resize's publication).
          if (crash && pub.documents.length === 0 && (pub.artifacts?.upsert.length ?? 0) > 0)
            throw new Error("simulated crash");
          return store.commitPublication(pub);
        },
      }),
    );
    const paths = pathsOf("c", 80);
    await add(e, paths);
    await publishAll(e);
    const task = await resize(e, 64);
    expect(task.result?.details?.moved_artifacts).toBeNull();
    // Published, but the rows still carry the old bins and the marker says so.
    const stored = await e.store.getSetting<any>("repository");
    expect(stored.bins).toMatchObject({ count: 64, rekeyFrom: 2 });
    expect((await e.store.listArtifactsInRoles(new SuccinctBins(2).names())).size).toBeGreaterThan(0);
    crash = false;
    await e.close();

    // The next process: its first publishOnce moves the rows, then publishes on top of them.
    const again = await openEngine({ dir: e.dir });
    const more = pathsOf("d", 10);
    await add(again, more);
    await publishAll(again);
    expect((await again.store.getSetting<any>("repository")).bins.rekeyFrom).toBeUndefined();
    expect(again.repo.settings?.bins?.rekeyFrom).toBeUndefined();
    const bins = new SuccinctBins(6);
    let n = 0;
    for (const [role, list] of await again.store.listArtifactsInRoles(bins.names()))
      for (const a of list) {
        expect(bins.binForPath(a.path)).toBe(role);
        n++;
      }
    expect(n).toBe(90);
    expectAllIn(await served(again), bins, [...paths, ...more]);
    await again.close();
  });

  test("bad counts are refused naming the field and the limit; nothing is queued", async () => {
    const e = await bootstrappedWith(4);
    for (const [n, msg] of [
      [3, /power of two between 2 and 16384, got 3/],
      [1, /between 2 and 16384/],
      [32768, /between 2 and 16384/],
      [4, /already has 4 bins/],
    ] as const) {
      let err: unknown;
      try {
        await e.repo.acceptResize(n);
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(ValidationError);
      const issue = (err as ValidationError).issues[0]!;
      expect(issue.loc).toEqual(["body", "number_of_delegated_bins"]);
      expect(issue.msg).toMatch(msg);
    }
    expect(await e.store.countPendingChanges()).toBe(0);
    expect(e.repo.settings?.bins?.count).toBe(4);
    await e.close();

    const d = await openEngine();
    const { taskId } = await d.repo.acceptBootstrap(parseBootstrapPayload(fixture("bootstrap-delegations.json")));
    await d.repo.drain();
    expect((await d.task(taskId))?.state).toBe("SUCCESS");
    let err: unknown;
    try {
      await d.repo.acceptResize(16);
    } catch (x) {
      err = x;
    }
    expect((err as ValidationError).issues[0]!.msg).toMatch(/no hash bins/);
    await d.close();
  });

  test("a resize that would make a bin too big for clients fails with the reason; nothing of it is published", async () => {
    const e = await bootstrappedWith(64);
    // ~1 KB per entry: 12,000 fit in 64 bins, not in 2 (over the 5,000,000-byte cap each).
    const long = "x".repeat(900);
    const paths = Array.from({ length: 12_000 }, (_, i) => `${long}/${i}.tar.gz`);
    await add(e, paths);
    await publishAll(e);
    const heads = new Map((await e.store.getHeads()).map((h) => [h.role, h.version]));
    const pending = pathsOf("pending", 5);
    await add(e, pending);
    const { taskId } = await e.repo.acceptResize(2);
    await e.repo.drain();
    const task = await e.task(taskId);
    expect(task?.state).toBe("ERRORED");
    expect(task?.result?.error).toMatch(
      /^2 bins are too few for these artifacts \(choose more\): refusing to publish: bins-[01]/,
    );
    expect(e.repo.settings?.bins?.count).toBe(64);
    expect((await e.store.getHeads()).find((h) => h.role === "timestamp")?.version).toBe(heads.get("timestamp")!);
    // The changes it had taken are published by the next batch, in the old layout, and no
    // re-sign request of every bin is left behind.
    await publishAll(e);
    const after = new Map((await e.store.getHeads()).map((h) => [h.role, h.version]));
    const bins = new SuccinctBins(6);
    const touched = new Set(pending.map((p) => bins.binForPath(p)));
    for (const name of bins.names()) expect(after.get(name)).toBe(heads.get(name)! + (touched.has(name) ? 1 : 0));
    expect(after.get("targets")).toBe(heads.get("targets")!);
    await e.close();
  }, 120_000);

  test("retention keeps the last version of every old bin the snapshot lists", async () => {
    const e = await bootstrappedWith(4);
    await add(e, pathsOf("r", 20));
    await publishAll(e);
    await resize(e, 8);
    await add(e, pathsOf("s", 20));
    await publishAll(e);
    // Everything superseded is prunable far in the future; no head may go.
    await e.store.pruneDocuments("2999-01-01T00:00:00Z", 100_000);
    const heads = new Map((await e.store.getHeads()).map((h) => [h.role, h.version]));
    for (const role of ["bins-0", "bins-1", "bins-2", "bins-3"]) expect(heads.has(role)).toBe(true);
    const snapshot = JSON.parse(new TextDecoder().decode((await e.store.getLatestDocument("snapshot"))!.bytes));
    for (const [name, meta] of Object.entries(snapshot.signed.meta) as [string, { version: number }][]) {
      const role = name.slice(0, -".json".length);
      expect(await e.store.getDocument(role, meta.version)).toBeDefined();
    }
    await e.close();
  });

  test("2 → 16384 and back to 256", async () => {
    const e = await bootstrappedWith(2);
    const paths = pathsOf("big", 300);
    await add(e, paths);
    await publishAll(e);
    const up = await resize(e, 16384);
    expect(up.result?.details).toMatchObject({ from: 2, to: 16384, artifacts: 300 });
    let bins = new SuccinctBins(14);
    const heads = new Map((await e.store.getHeads()).map((h) => [h.role, h.version]));
    for (const name of bins.names()) expect(heads.get(name)).toBe(1);
    const rows = await e.store.listArtifactsInRoles(bins.names());
    let n = 0;
    for (const [role, list] of rows)
      for (const a of list) {
        expect(bins.binForPath(a.path)).toBe(role);
        n++;
      }
    expect(n).toBe(300);
    await resize(e, 256);
    bins = new SuccinctBins(8);
    const snapshot = JSON.parse(new TextDecoder().decode((await e.store.getLatestDocument("snapshot"))!.bytes));
    expect(Object.keys(snapshot.signed.meta).length).toBe(1 + 2 + 16384 + 256);
    const targets = JSON.parse(new TextDecoder().decode((await e.store.getLatestDocument("targets"))!.bytes));
    expect(targets.signed.delegations.succinct_roles.bit_length).toBe(8);
    expect(e.repo.heads().length).toBe(4 + 256);
    await e.close();
  }, 120_000);
});
