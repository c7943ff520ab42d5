/**
 * The store contract: every backend (SQLite, PostgreSQL) runs this same suite,
 * so the repository engine can rely on these behaviours and nothing else.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  StoreConflictError,
  type ArtifactRecord,
  type DocumentRecord,
  type NewChange,
  type Publication,
  type AuditEntry,
  type AuditRecord,
  type Store,
  type TaskState,
  type TokenRecord,
} from "../../src/store/store.ts";
import { withDocuments } from "./documents.ts";
import { listingsContract } from "./listings-contract.ts";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

function doc(role: string, version: number, bytes?: Uint8Array): DocumentRecord {
  const b = bytes ?? new TextEncoder().encode(JSON.stringify({ signed: { _type: role, version } }));
  return { role, version, bytes: b, expires: "2030-01-01T00:00:00Z", sha256: sha256(b) };
}

function add(path: string, role = "bins-0"): NewChange {
  return { kind: "add", path, role, fragment: JSON.stringify({ length: path.length, hashes: { sha256: "00" } }) };
}

function artifact(path: string, role = "bins-0", fragment = `{"length":${path.length}}`): ArtifactRecord {
  return { path, role, fragment };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A publication of artifact rows only, with the documents that list them (withDocuments). */
async function commitArtifacts(store: Store, upsert: ArtifactRecord[], remove: string[] = []): Promise<void> {
  await store.commitPublication(
    await withDocuments(store, { expectedHeads: {}, documents: [], artifacts: { upsert, remove } }),
  );
}

/** Everything a failed publication must leave untouched, in comparable form. */
async function snapshotState(store: Store, taskIds: string[]) {
  const artifacts: ArtifactRecord[] = [];
  for (let after: string | undefined; ; ) {
    const page = await store.listArtifacts({ after, limit: 100 });
    if (page.length === 0) break;
    artifacts.push(...page);
    after = page[page.length - 1]!.path;
  }
  return {
    documents: await store.listDocuments(),
    heads: await store.getHeads(),
    artifacts,
    pending: await store.pendingChanges(1000),
    tasks: await Promise.all(taskIds.map((id) => store.getTask(id))),
    setting: await store.getSetting("marker"),
  };
}

async function expectConflict(p: Promise<unknown>, message?: RegExp) {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(StoreConflictError);
  if (message) expect((caught as Error).message).toMatch(message);
}

export function storeContract(name: string, make: () => Promise<{ store: Store; cleanup: () => Promise<void> }>) {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    listingsContract(() => store);

    test("ping answers on an open store", async () => {
      expect(await store.ping()).toBe(true);
    });

    test("open() is idempotent", async () => {
      await store.setSettings({ kept: 1 });
      await store.open();
      expect(await store.getSetting("kept")).toBe(1);
    });

    describe("settings", () => {
      test("JSON values round-trip, overwrite, and undefined deletes", async () => {
        expect(await store.getSetting("missing")).toBeUndefined();
        const values = {
          object: { a: [1, 2, { b: "c" }], n: null, t: true },
          array: ["x", 1.5, false],
          number: 42,
          string: "héllo \u{1F600}",
          bool: false,
          nul: null,
        };
        await store.setSettings(values);
        for (const [k, v] of Object.entries(values)) expect(await store.getSetting(k)).toEqual(v);

        await store.setSettings({ number: 43, object: { replaced: true } });
        expect(await store.getSetting<number>("number")).toBe(43);
        expect(await store.getSetting("object")).toEqual({ replaced: true });
        expect(await store.getSetting("string")).toBe("héllo \u{1F600}");

        await store.setSettings({ number: undefined });
        expect(await store.getSetting("number")).toBeUndefined();
        expect(await store.getSetting("bool")).toBe(false);
      });
    });

    describe("queue", () => {
      test("accept → pendingChanges oldest first; held changes wait for release", async () => {
        await store.accept({ id: "A", name: "add_artifacts", state: "PENDING" }, [add("a1"), add("a2")], false);
        await store.accept({ id: "B", name: "add_artifacts", state: "SUCCESS" }, [add("b1")], true);
        await store.accept(
          { id: "C", name: "remove_artifacts", state: "PENDING" },
          [{ kind: "remove", path: "a1", role: "bins-0", fragment: null }],
          false,
        );

        const pending = await store.pendingChanges(10);
        expect(pending.map((c) => [c.taskId, c.path, c.kind])).toEqual([
          ["A", "a1", "add"],
          ["A", "a2", "add"],
          ["C", "a1", "remove"],
        ]);
        expect(pending.every((c) => c.held === false)).toBe(true);
        expect(pending[0]!.fragment).toBe(add("a1").fragment);
        expect(pending[2]!.fragment).toBeNull();
        for (let i = 1; i < pending.length; i++) expect(pending[i]!.id).toBeGreaterThan(pending[i - 1]!.id);
        expect(await store.countPendingChanges()).toBe(3);
        expect((await store.pendingChanges(2)).map((c) => c.path)).toEqual(["a1", "a2"]);
        expect(await store.pendingChanges(0)).toEqual([]);

        const task = await store.getTask("A");
        expect(task?.state).toBe("PENDING");
        expect(task?.name).toBe("add_artifacts");
        expect(task?.result).toBeNull();
        expect(task?.createdAt).toMatch(ISO);

        expect(await store.releaseHeldChanges()).toBe(1);
        expect(await store.releaseHeldChanges()).toBe(0);
        // Released changes keep their place in line (accepted before C).
        expect((await store.pendingChanges(10)).map((c) => c.taskId)).toEqual(["A", "A", "B", "C"]);
        expect(await store.countPendingChanges()).toBe(4);
      });

      test("bump changes (forced versions and publish markers) queue like any other", async () => {
        await store.accept({ id: "A", name: "add_artifacts", state: "PENDING" }, [add("a")], false);
        await store.accept(
          { id: "P", name: "publish_artifacts", state: "PENDING" },
          [
            { kind: "bump", path: "", role: "targets", fragment: null },
            { kind: "bump", path: "", role: "", fragment: null },
          ],
          false,
        );
        expect((await store.pendingChanges(10)).map((c) => [c.taskId, c.kind, c.role, c.fragment])).toEqual([
          ["A", "add", "bins-0", add("a").fragment],
          ["P", "bump", "targets", null],
          ["P", "bump", "", null],
        ]);
      });

      test("accept is all-or-nothing: a duplicate task id writes no changes", async () => {
        await store.accept({ id: "T", name: "add_artifacts", state: "PENDING" }, [add("x")], false);
        await expectConflict(
          store.accept({ id: "T", name: "add_artifacts", state: "PENDING" }, [add("y"), add("z")], false),
        );
        expect((await store.pendingChanges(10)).map((c) => c.path)).toEqual(["x"]);

        // An "add" without its target info would publish a broken bin later.
        await expect(
          store.accept(
            { id: "U", name: "add_artifacts", state: "PENDING" },
            [add("ok"), { ...add("bad"), fragment: null }],
            false,
          ),
        ).rejects.toThrow(/fragment/);
        expect(await store.getTask("U")).toBeUndefined();
        expect(await store.countPendingChanges()).toBe(1);
      });

      test("accept stores a task result and many changes in one call", async () => {
        const result = { task: "add_artifacts", status: true, last_update: "2024-01-01T00:00:00Z", details: { n: 1 } };
        const changes = Array.from({ length: 2500 }, (_, i) => add(`many/${i}`, `bins-${i % 7}`));
        await store.accept({ id: "M", name: "add_artifacts", state: "RECEIVED", result }, changes, false);
        expect(await store.countPendingChanges()).toBe(2500);
        const got = await store.pendingChanges(5000);
        expect(got.map((c) => c.path)).toEqual(changes.map((c) => c.path));
        expect(got[9]!.role).toBe("bins-2");
        expect((await store.getTask("M"))?.result).toEqual(result);
      });
    });

    describe("publication", () => {
      test("commits documents, artifacts, consumed changes, tasks and settings together", async () => {
        await store.accept({ id: "T1", name: "add_artifacts", state: "PENDING" }, [add("a"), add("b")], false);
        await store.accept({ id: "T2", name: "add_artifacts", state: "PENDING" }, [add("later")], false);
        const ids = (await store.pendingChanges(10)).filter((c) => c.taskId === "T1").map((c) => c.id);
        const result = { task: "add_artifacts", status: true, last_update: "2024-01-01T00:00:00Z" };

        await store.commitPublication(
          await withDocuments(store, {
            expectedHeads: { "bins-0": 0, snapshot: 0, timestamp: 0 },
            documents: [doc("bins-0", 1), doc("snapshot", 1), doc("timestamp", 1)],
            artifacts: { upsert: [artifact("a"), artifact("b")], remove: [] },
            consumedChanges: ids,
            tasks: [{ id: "T1", state: "SUCCESS", result }],
            settings: { published: { at: 1 } },
          }),
        );

        expect((await store.getHeads()).sort((x, y) => (x.role < y.role ? -1 : 1))).toEqual([
          { role: "bins-0", version: 1, expires: "2030-01-01T00:00:00Z" },
          { role: "snapshot", version: 1, expires: "2030-01-01T00:00:00Z" },
          { role: "timestamp", version: 1, expires: "2030-01-01T00:00:00Z" },
        ]);
        expect(await store.listArtifactsInRole("bins-0")).toEqual([artifact("a"), artifact("b")]);
        expect((await store.pendingChanges(10)).map((c) => c.taskId)).toEqual(["T2"]);
        const t1 = await store.getTask("T1");
        expect(t1?.state).toBe("SUCCESS");
        expect(t1?.result).toEqual(result);
        expect((await store.getTask("T2"))?.state).toBe("PENDING");
        expect(await store.getSetting("published")).toEqual({ at: 1 });

        // Second batch: remove one, change one, add one; bump only what changed.
        await store.commitPublication(
          await withDocuments(store, {
            expectedHeads: { "bins-0": 1, "bins-1": 0, snapshot: 1, timestamp: 1 },
            documents: [doc("bins-0", 2), doc("bins-1", 1), doc("snapshot", 2), doc("timestamp", 2)],
            artifacts: {
              upsert: [artifact("b", "bins-0", '{"length":99}'), artifact("c", "bins-1")],
              remove: ["a", "never-existed"],
            },
          }),
        );
        expect(await store.listArtifactsInRole("bins-0")).toEqual([artifact("b", "bins-0", '{"length":99}')]);
        expect(await store.listArtifactsInRole("bins-1")).toEqual([artifact("c", "bins-1")]);
        expect(await store.getArtifact("a")).toBeUndefined();
        expect(await store.countArtifacts()).toBe(2);
        expect((await store.getLatestDocument("snapshot"))?.version).toBe(2);
        expect((await store.getDocument("snapshot", 1))?.version).toBe(1);
      });

      test("an artifact can move to another role (re-binning)", async () => {
        await commitArtifacts(store, [artifact("p", "r1")]);
        await commitArtifacts(store, [artifact("p", "r2")]);
        expect(await store.listArtifactsInRole("r1")).toEqual([]);
        expect(await store.listArtifactsInRole("r2")).toEqual([artifact("p", "r2")]);
        expect(await store.countArtifacts()).toBe(1);
      });

      test("a path both removed and upserted in one publication stays published", async () => {
        await commitArtifacts(store, [artifact("p")]);
        await commitArtifacts(store, [artifact("p", "bins-0", '{"v":2}')], ["p"]);
        expect(await store.getArtifact("p")).toEqual(artifact("p", "bins-0", '{"v":2}'));
      });

      test("several versions of one role in one publication are written in order", async () => {
        await store.commitPublication({ expectedHeads: { root: 0 }, documents: [doc("root", 1)] });
        await store.commitPublication({
          expectedHeads: { root: 1, timestamp: 0 },
          documents: [doc("root", 2), doc("root", 3), doc("timestamp", 1)],
        });
        expect((await store.getLatestDocument("root"))?.version).toBe(3);
        // The head is the highest version, not the last one written.
        await store.commitPublication({ expectedHeads: { odd: 0 }, documents: [doc("odd", 2), doc("odd", 1)] });
        expect((await store.getLatestDocument("odd"))?.version).toBe(2);
        expect((await store.getHeads()).find((h) => h.role === "odd")?.version).toBe(2);
        expect((await store.listDocuments()).map((d) => `${d.role}.${d.version}`)).toEqual([
          "odd.1",
          "odd.2",
          "root.1",
          "root.2",
          "root.3",
          "timestamp.1",
        ]);
      });

      test("consumes exactly the listed changes, held ones and gaps between them left alone", async () => {
        await store.accept(
          { id: "A", name: "add_artifacts", state: "PENDING" },
          [add("a1"), add("a2"), add("a3")],
          false,
        );
        await store.accept({ id: "H", name: "add_artifacts", state: "PENDING" }, [add("h1")], true);
        await store.accept({ id: "B", name: "add_artifacts", state: "PENDING" }, [add("b1"), add("b2")], false);
        const pending = await store.pendingChanges(10);
        const a = pending.filter((c) => c.taskId === "A");
        const b = pending.filter((c) => c.taskId === "B");
        // all of A, and B's second change: two runs around the held change and one gap
        await store.commitPublication({
          expectedHeads: {},
          documents: [],
          consumedChanges: [...a.map((c) => c.id), b[1]!.id],
        });
        expect((await store.pendingChanges(10)).map((c) => c.path)).toEqual(["b1"]);
        expect(await store.releaseHeldChanges()).toBe(1);
        expect((await store.pendingChanges(10)).map((c) => c.path)).toEqual(["h1", "b1"]);
      });

      test("a run of consumed changes one of which is gone is a conflict that consumes none", async () => {
        await store.accept(
          { id: "A", name: "add_artifacts", state: "PENDING" },
          [add("a1"), add("a2"), add("a3")],
          false,
        );
        const ids = (await store.pendingChanges(10)).map((c) => c.id);
        await store.commitPublication({ expectedHeads: {}, documents: [], consumedChanges: [ids[1]!] });
        await expectConflict(store.commitPublication({ expectedHeads: {}, documents: [], consumedChanges: ids }));
        expect((await store.pendingChanges(10)).map((c) => c.path)).toEqual(["a1", "a3"]);
      });

      describe("conflicts write nothing", () => {
        // A published state, a pending change, a task and a setting that a
        // refused publication must all leave exactly as they were.
        async function seed() {
          await store.commitPublication(
            await withDocuments(store, {
              expectedHeads: { "bins-0": 0, snapshot: 0, timestamp: 0 },
              documents: [doc("bins-0", 1), doc("snapshot", 1), doc("timestamp", 1)],
              artifacts: { upsert: [artifact("old")], remove: [] },
              settings: { marker: "before" },
            }),
          );
          await store.accept({ id: "T", name: "add_artifacts", state: "PENDING" }, [add("new")], false);
          const [change] = await store.pendingChanges(1);
          const attempt = (expectedHeads: Record<string, number>, documents: DocumentRecord[]): Publication => ({
            expectedHeads,
            documents,
            artifacts: { upsert: [artifact("new")], remove: ["old"] },
            consumedChanges: [change!.id],
            tasks: [{ id: "T", state: "SUCCESS", result: null }],
            settings: { marker: "after" },
          });
          return { before: await snapshotState(store, ["T"]), attempt, changeId: change!.id };
        }

        test("when an expected head moved", async () => {
          const { before, attempt } = await seed();
          await expectConflict(
            store.commitPublication(
              attempt({ "bins-0": 1, snapshot: 0, timestamp: 1 }, [
                doc("bins-0", 2),
                doc("snapshot", 1),
                doc("timestamp", 2),
              ]),
            ),
            /snapshot/,
          );
          expect(await snapshotState(store, ["T"])).toEqual(before);
        });

        test("when an expected head is stale for a role not being written", async () => {
          const { before, attempt } = await seed();
          await expectConflict(store.commitPublication(attempt({ "bins-0": 1, "bins-9": 3 }, [doc("bins-0", 2)])));
          expect(await snapshotState(store, ["T"])).toEqual(before);
        });

        test("when a (role, version) exists even though expectedHeads claim otherwise", async () => {
          const { before, attempt } = await seed();
          // The caller lies about the head: only the unique key can catch it,
          // and it fires after other rows of the same publication were written.
          await expectConflict(
            store.commitPublication(
              attempt({ "bins-1": 0, timestamp: 1 }, [doc("bins-1", 1), doc("timestamp", 2), doc("timestamp", 1)]),
            ),
          );
          expect(await snapshotState(store, ["T"])).toEqual(before);
        });

        test("when the same (role, version) appears twice in one publication", async () => {
          const { before, attempt } = await seed();
          await expectConflict(store.commitPublication(attempt({ "bins-1": 0 }, [doc("bins-1", 1), doc("bins-1", 1)])));
          expect(await snapshotState(store, ["T"])).toEqual(before);
        });

        test("when a consumed change was already consumed by someone else", async () => {
          const { attempt, changeId } = await seed();
          await store.commitPublication({ expectedHeads: {}, documents: [], consumedChanges: [changeId] });
          const before = await snapshotState(store, ["T"]);
          await expectConflict(
            store.commitPublication(attempt({ "bins-0": 1, timestamp: 1 }, [doc("bins-0", 2), doc("timestamp", 2)])),
          );
          expect(await snapshotState(store, ["T"])).toEqual(before);
        });

        test("a document without an expected head is refused before writing", async () => {
          const { before, attempt } = await seed();
          let caught: unknown;
          try {
            await store.commitPublication(attempt({}, [doc("bins-1", 1)]));
          } catch (err) {
            caught = err;
          }
          expect(caught).toBeInstanceOf(Error);
          expect((caught as Error).message).toMatch(/expectedHeads/);
          expect(await snapshotState(store, ["T"])).toEqual(before);
        });
      });
    });

    describe("documents", () => {
      test("getDocument / getLatestDocument / getHeads / listDocuments", async () => {
        expect(await store.getHeads()).toEqual([]);
        expect(await store.getLatestDocument("root")).toBeUndefined();
        expect(await store.listDocuments()).toEqual([]);

        await store.commitPublication({
          expectedHeads: { root: 0, "bins-a": 0 },
          documents: [doc("root", 1), { ...doc("bins-a", 1), publishedAt: "2024-05-06T07:08:09.000Z" }],
        });
        const v2 = { ...doc("bins-a", 2), expires: "2031-02-03T04:05:06Z" };
        await store.commitPublication({ expectedHeads: { "bins-a": 1 }, documents: [v2] });

        const latest = await store.getLatestDocument("bins-a");
        expect(latest?.version).toBe(2);
        expect(latest?.bytes).toEqual(v2.bytes);
        expect(latest?.sha256).toBe(v2.sha256);
        expect(latest?.expires).toBe("2031-02-03T04:05:06Z");
        expect(latest?.publishedAt).toMatch(ISO);
        const v1 = await store.getDocument("bins-a", 1);
        expect(v1?.version).toBe(1);
        expect(v1?.publishedAt && Date.parse(v1.publishedAt)).toBe(Date.parse("2024-05-06T07:08:09.000Z"));
        expect(await store.getDocument("bins-a", 3)).toBeUndefined();
        expect(await store.getDocument("nope", 1)).toBeUndefined();

        const heads = (await store.getHeads()).sort((x, y) => (x.role < y.role ? -1 : 1));
        expect(heads).toEqual([
          { role: "bins-a", version: 2, expires: "2031-02-03T04:05:06Z" },
          { role: "root", version: 1, expires: "2030-01-01T00:00:00Z" },
        ]);

        expect(await store.getHeadLengths()).toEqual([
          { role: "bins-a", length: v2.bytes.length },
          { role: "root", length: doc("root", 1).bytes.length },
        ]);
        const list = await store.listDocuments();
        expect(list.map((d) => [d.role, d.version, d.length])).toEqual([
          ["bins-a", 1, doc("bins-a", 1).bytes.length],
          ["bins-a", 2, v2.bytes.length],
          ["root", 1, doc("root", 1).bytes.length],
        ]);
        for (const d of list) {
          expect(d.publishedAt).toMatch(ISO);
          expect("bytes" in d).toBe(false);
        }
      });

      test("bytes round-trip exactly, including non-UTF-8 and views into larger buffers", async () => {
        const all = Uint8Array.from({ length: 256 }, (_, i) => i);
        const invalidUtf8 = Uint8Array.from([
          0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe, 0x00, 0x00,
        ]);
        const backing = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
        const view = backing.subarray(10, 30);
        const big = crypto.getRandomValues(new Uint8Array(65536));
        const docs = [
          doc("r-all", 1, all),
          doc("r-bad", 1, invalidUtf8),
          doc("r-view", 1, view),
          doc("r-big", 1, big),
          doc("r-empty", 1, new Uint8Array(0)),
        ];
        await store.commitPublication({
          expectedHeads: Object.fromEntries(docs.map((d) => [d.role, 0])),
          documents: docs,
        });
        for (const d of docs) {
          const got = await store.getDocument(d.role, 1);
          expect(got?.bytes).toBeInstanceOf(Uint8Array);
          expect(got?.bytes.length).toBe(d.bytes.length);
          expect(Buffer.from(got!.bytes).equals(Buffer.from(d.bytes))).toBe(true);
          expect((await store.getLatestDocument(d.role))?.bytes).toEqual(d.bytes);
        }
        const lengths = Object.fromEntries((await store.listDocuments()).map((d) => [d.role, d.length]));
        expect(lengths).toEqual({
          "r-all": 256,
          "r-bad": invalidUtf8.length,
          "r-big": 65536,
          "r-empty": 0,
          "r-view": 20,
        });
      });
    });

    describe("retention", () => {
      const at = (role: string, version: number, expires: string) => ({ ...doc(role, version), expires });
      /** One publication: a bin, a snapshot and a timestamp, all expiring at `expires`. */
      const publish = (v: number, expires: string, root = false) =>
        store.commitPublication({
          expectedHeads: { "bins-0": v - 1, snapshot: v - 1, timestamp: v - 1, ...(root ? { root: v - 1 } : {}) },
          documents: [
            ...(root ? [at("root", v, "2040-01-01T00:00:00Z")] : []),
            at("bins-0", v, "2040-01-01T00:00:00Z"),
            at("snapshot", v, expires),
            at("timestamp", v, expires),
          ],
        });
      const versions = async (role: string) =>
        (await store.listDocuments()).filter((d) => d.role === role).map((d) => d.version);

      test("a superseded version lives until every snapshot/timestamp published before its successor expired", async () => {
        await publish(1, "2030-01-01T00:00:00Z", true);
        await publish(2, "2030-01-02T00:00:00Z", true);
        await publish(3, "2030-01-03T00:00:00Z", true);
        // v1 was superseded when v2 was published: referenced until 2030-01-01 (v1's snapshot).
        // v2 was superseded by v3: referenced until 2030-01-02.
        expect(await store.pruneDocuments("2030-01-01T00:00:00Z", 100)).toEqual({ versions: 0, bytes: 0 });
        const v1 = [doc("bins-0", 1), doc("snapshot", 1), doc("timestamp", 1)].reduce((n, d) => n + d.bytes.length, 0);
        expect(await store.pruneDocuments("2030-01-01T00:00:01Z", 100)).toEqual({ versions: 3, bytes: v1 });
        expect(await versions("bins-0")).toEqual([2, 3]);
        expect(await versions("snapshot")).toEqual([2, 3]);
        // Root is kept forever, whatever the cutoff.
        expect(await versions("root")).toEqual([1, 2, 3]);
        // Milliseconds in the cutoff compare as whole seconds, like `expires`.
        expect((await store.pruneDocuments("2030-01-02T00:00:00.999Z", 100)).versions).toBe(0);
        expect((await store.pruneDocuments("2100-01-01T00:00:00Z", 100)).versions).toBe(3);
        // The newest version of every role is never deleted.
        expect(await versions("bins-0")).toEqual([3]);
        expect(await versions("timestamp")).toEqual([3]);
        expect(await versions("root")).toEqual([1, 2, 3]);
        expect((await store.getLatestDocument("snapshot"))?.version).toBe(3);
      });

      test("a version superseded later is kept by a later-expiring snapshot, even when expiry got shorter", async () => {
        await publish(1, "2030-01-10T00:00:00Z");
        // A later snapshot expiring earlier (expiry setting lowered): v1 of the
        // bin is still referenced until 2030-01-10 by snapshot v1.
        await publish(2, "2030-01-05T00:00:00Z");
        await publish(3, "2030-01-06T00:00:00Z");
        expect((await store.pruneDocuments("2030-01-09T00:00:00Z", 100)).versions).toBe(0);
        expect((await store.pruneDocuments("2030-01-10T00:00:01Z", 100)).versions).toBe(6);
        expect(await versions("bins-0")).toEqual([3]);
      });

      test("prunes at most `limit` per call, oldest first, and keeps running totals", async () => {
        await publish(1, "2030-01-01T00:00:00Z");
        const afterFirst = await store.documentStats();
        expect(afterFirst.documents).toBe(3);
        for (let v = 2; v <= 5; v++) await publish(v, `2030-01-0${v}T00:00:00Z`);
        const before = await store.documentStats();
        expect(before.documents).toBe(15);
        const sizes = (await store.listDocuments()).reduce((n, d) => n + d.length, 0);
        expect(before.bytes).toBe(sizes);
        const first = await store.pruneDocuments("2031-01-01T00:00:00Z", 4);
        expect(first.versions).toBe(4);
        // Oldest first: everything of v1 (3 documents) goes before anything of v2.
        expect(await versions("snapshot")).not.toContain(1);
        expect(await versions("timestamp")).not.toContain(1);
        const rest = await store.pruneDocuments("2031-01-01T00:00:00Z", 100);
        expect(first.versions + rest.versions).toBe(12);
        const after = await store.documentStats();
        expect(after.documents).toBe(3);
        expect(after.bytes).toBe((await store.listDocuments()).reduce((n, d) => n + d.length, 0));
        expect(before.bytes - after.bytes).toBe(first.bytes + rest.bytes);
        expect(await store.pruneDocuments("2031-01-01T00:00:00Z", 100)).toEqual({ versions: 0, bytes: 0 });
      });

      test("a failed publication retires nothing", async () => {
        await publish(1, "2030-01-01T00:00:00Z");
        await expectConflict(
          store.commitPublication({
            expectedHeads: { "bins-0": 0 },
            documents: [doc("bins-0", 2)],
          }),
        );
        expect(await store.pruneDocuments("2100-01-01T00:00:00Z", 100)).toEqual({ versions: 0, bytes: 0 });
        expect((await store.documentStats()).documents).toBe(3);
      });
    });

    describe("artifacts", () => {
      test("listArtifactsInRole returns only that role, in UTF-16 code unit order", async () => {
        // U+FFFD sorts after the astral U+1F600 by code unit (0xFFFD > 0xD83D)
        // but before it by code point / UTF-8 bytes: the one place they differ.
        const paths = ["b", "a", "A", "a/b", "a-b", "é", "\u{1F600}", "\uFFFD", "\uE000x", "z", "a b", "10", "9"];
        await commitArtifacts(store, [
          ...paths.map((p) => artifact(p, "bins-x")),
          artifact("other", "bins-y"),
          artifact("0", "bins-w"),
        ]);
        const got = (await store.listArtifactsInRole("bins-x")).map((a) => a.path);
        expect(got).toEqual([...paths].sort());
        expect(got.indexOf("\u{1F600}")).toBeLessThan(got.indexOf("\uFFFD"));
        expect(await store.listArtifactsInRole("bins-y")).toEqual([artifact("other", "bins-y")]);
        expect(await store.listArtifactsInRole("bins-none")).toEqual([]);
      });

      test("listArtifactsInRoles reads many roles at once, each like listArtifactsInRole", async () => {
        await commitArtifacts(store, [
          artifact("b/2", "bins-1"),
          artifact("a/1", "bins-1"),
          artifact("c", "bins-2"),
          artifact("z", "bins-9"),
        ]);
        const got = await store.listArtifactsInRoles(["bins-2", "bins-1", "bins-empty"]);
        expect([...got.keys()].sort()).toEqual(["bins-1", "bins-2", "bins-empty"]);
        expect(got.get("bins-1")).toEqual(await store.listArtifactsInRole("bins-1"));
        expect(got.get("bins-1")!.map((a) => a.path)).toEqual(["a/1", "b/2"]);
        expect(got.get("bins-2")).toEqual([artifact("c", "bins-2")]);
        expect(got.get("bins-empty")).toEqual([]);
        expect((await store.listArtifactsInRoles([])).size).toBe(0);
      });

      test("a large publication adds, keeps and moves paths alike, whatever their order", async () => {
        const names = (prefix: string, n: number) =>
          Array.from({ length: n }, (_, i) => `${prefix}/${String(i).padStart(3, "0")}`);
        const [p, q, n] = [names("p", 300), names("q", 200), names("n", 100)];
        await commitArtifacts(store, [
          ...p.map((x) => artifact(x, "bins-a")),
          ...q.map((x) => artifact(x, "bins-old")),
        ]);
        expect(await store.countArtifacts()).toBe(500);
        // New paths, paths already in the same role (a new fragment) and paths
        // moving to another role (as a re-binning moves them), interleaved in
        // path order across the store's multi-row inserts.
        await commitArtifacts(store, [
          ...q.map((x) => artifact(x, "bins-new")),
          ...p.slice(0, 150).map((x) => artifact(x, "bins-a", '{"v":2}')),
          ...n.map((x) => artifact(x, "bins-a")),
        ]);
        expect(await store.countArtifacts()).toBe(600);
        expect((await store.listArtifactsInRole("bins-new")).map((a) => a.path)).toEqual(q);
        expect(await store.listArtifactsInRole("bins-old")).toEqual([]);
        const a = await store.listArtifactsInRole("bins-a");
        expect(a.map((x) => x.path)).toEqual([...n, ...p]);
        expect(await store.getArtifact("p/010")).toEqual(artifact("p/010", "bins-a", '{"v":2}'));
        expect(await store.getArtifact("p/200")).toEqual(artifact("p/200", "bins-a"));
        expect((await store.getArtifact("q/005"))?.role).toBe("bins-new");
      });

      test("getArtifact and countArtifacts", async () => {
        expect(await store.countArtifacts()).toBe(0);
        expect(await store.getArtifact("x")).toBeUndefined();
        await commitArtifacts(store, [artifact("x", "r", '{"length":1}'), artifact("y", "r")]);
        expect(await store.getArtifact("x")).toEqual(artifact("x", "r", '{"length":1}'));
        expect(await store.countArtifacts()).toBe(2);
      });

      test("listArtifacts pages by path with after and a literal prefix", async () => {
        const paths = [
          ...Array.from({ length: 23 }, (_, i) => `pkg/${String(i).padStart(3, "0")}.tar.gz`),
          "dir%/x",
          "dirA/x",
          "dir_/y",
          "dirB/y",
          "Dir%/z",
          "dir%",
          "dir",
          "a\uFFFFx",
          "a\u{10000}",
          "a\uFFFF",
        ];
        await commitArtifacts(
          store,
          paths.map((p, i) => artifact(p, `bins-${i % 3}`)),
        );

        const pageAll = async (prefix?: string, limit = 7) => {
          const out: string[] = [];
          for (let after: string | undefined; ; ) {
            const page = await store.listArtifacts({ after, limit, prefix });
            expect(page.length).toBeLessThanOrEqual(limit);
            if (page.length === 0) break;
            out.push(...page.map((a) => a.path));
            after = page[page.length - 1]!.path;
          }
          return out;
        };
        // Code point order = code unit order for these paths except the
        // astral one, which sorts after U+FFFF by code point.
        const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
        expect(await pageAll()).toEqual([...paths].sort(byCodePoint));
        expect(await pageAll(undefined, 1)).toEqual([...paths].sort(byCodePoint));

        expect(await pageAll("dir%")).toEqual(["dir%", "dir%/x"]);
        expect(await pageAll("dir_")).toEqual(["dir_/y"]);
        expect(await pageAll("dir")).toEqual(["dir", "dir%", "dir%/x", "dirA/x", "dirB/y", "dir_/y"]);
        expect(await pageAll("pkg/01")).toEqual([
          "pkg/010.tar.gz",
          "pkg/011.tar.gz",
          "pkg/012.tar.gz",
          "pkg/013.tar.gz",
          "pkg/014.tar.gz",
          "pkg/015.tar.gz",
          "pkg/016.tar.gz",
          "pkg/017.tar.gz",
          "pkg/018.tar.gz",
          "pkg/019.tar.gz",
        ]);
        expect(await pageAll("a\uFFFF")).toEqual(["a\uFFFF", "a\uFFFFx"]);
        expect(await pageAll("nothing-here")).toEqual([]);

        // after below the prefix range starts at the prefix; inside it continues.
        expect((await store.listArtifacts({ after: "a", prefix: "dir", limit: 2 })).map((a) => a.path)).toEqual([
          "dir",
          "dir%",
        ]);
        expect((await store.listArtifacts({ after: "dir%", prefix: "dir", limit: 2 })).map((a) => a.path)).toEqual([
          "dir%/x",
          "dirA/x",
        ]);
        expect(await store.listArtifacts({ after: "zzz", prefix: "dir", limit: 2 })).toEqual([]);
        expect(await store.listArtifacts({ limit: 0 })).toEqual([]);
        const first = await store.listArtifacts({ limit: 1 });
        expect(first).toEqual([artifact("Dir%/z", `bins-${paths.indexOf("Dir%/z") % 3}`, '{"length":6}')]);
      });
    });

    describe("tasks", () => {
      const finished: TaskState[] = ["SUCCESS", "FAILURE", "ERRORED", "REVOKED"];
      const unfinished: TaskState[] = ["PENDING", "RECEIVED", "STARTED", "RUNNING"];

      test("create, update, get", async () => {
        await store.createTask({ id: "t", name: "bootstrap", state: "PENDING" });
        const created = await store.getTask("t");
        expect(created).toMatchObject({ id: "t", name: "bootstrap", state: "PENDING", result: null });
        expect(created?.createdAt).toMatch(ISO);
        expect(created?.updatedAt).toBe(created!.createdAt);
        await expectConflict(store.createTask({ id: "t", name: "bootstrap", state: "PENDING" }));

        await sleep(5);
        const result = {
          task: "bootstrap",
          status: false,
          last_update: "2024-01-01T00:00:00Z",
          error: "boom",
          details: null,
        };
        await store.updateTasks([
          { id: "t", state: "ERRORED", result },
          { id: "gone", state: "SUCCESS", result: null },
        ]);
        const updated = await store.getTask("t");
        expect(updated?.state).toBe("ERRORED");
        expect(updated?.result).toEqual(result);
        expect(updated?.createdAt).toBe(created!.createdAt);
        expect(Date.parse(updated!.updatedAt)).toBeGreaterThan(Date.parse(created!.createdAt));
        expect(await store.getTask("gone")).toBeUndefined();
      });

      test("listUnfinishedTasks and pruneTasks only touch the right states", async () => {
        for (const s of [...finished, ...unfinished]) await store.createTask({ id: `t-${s}`, name: "x", state: s });
        expect((await store.listUnfinishedTasks()).map((t) => t.state).sort()).toEqual([...unfinished].sort());

        expect(await store.pruneTasks("2000-01-01T00:00:00Z")).toBe(0);
        expect(await store.pruneTasks(new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, "Z"))).toBe(4);
        for (const s of finished) expect(await store.getTask(`t-${s}`)).toBeUndefined();
        for (const s of unfinished) expect((await store.getTask(`t-${s}`))?.state).toBe(s);
        expect(await store.pruneTasks("2999-01-01T00:00:00Z")).toBe(0);
      });

      test("pruneTasks compares by last update time", async () => {
        await store.createTask({ id: "old", name: "x", state: "SUCCESS" });
        await sleep(10);
        const cutoff = new Date().toISOString();
        await sleep(10);
        await store.createTask({ id: "new", name: "x", state: "SUCCESS" });
        expect(await store.pruneTasks(cutoff)).toBe(1);
        expect(await store.getTask("old")).toBeUndefined();
        expect(await store.getTask("new")).toBeDefined();
      });

      test("pruning a finished task keeps its held changes", async () => {
        await store.accept({ id: "h", name: "add_artifacts", state: "SUCCESS" }, [add("held")], true);
        expect(await store.pruneTasks("2999-01-01T00:00:00Z")).toBe(1);
        expect(await store.releaseHeldChanges()).toBe(1);
        expect((await store.pendingChanges(10)).map((c) => c.path)).toEqual(["held"]);
      });
    });

    describe("tokens", () => {
      const t: TokenRecord = {
        id: "0123456789abcdef",
        hash: "ab".repeat(32),
        name: "ci",
        scopes: ["artifacts:write", "read"],
        createdAt: "2024-01-01T00:00:00.000Z",
        expiresAt: null,
        createdBy: null,
      };

      test("put, find, list, count, overwrite", async () => {
        expect(await store.countTokens()).toBe(0);
        expect(await store.findToken("ab")).toBeUndefined();
        expect(await store.listTokens()).toEqual([]);
        await store.putToken(t);
        const other: TokenRecord = {
          ...t,
          id: "fedcba9876543210",
          hash: "cd".repeat(32),
          name: "other",
          scopes: [],
          createdAt: "2024-01-02T00:00:00Z",
          expiresAt: "2024-04-01T00:00:00Z",
          createdBy: "token:0123456789abcdef",
        };
        await store.putToken(other);
        expect(await store.findToken(t.hash)).toEqual(t);
        // Instants come back normalised to toISOString(), as everywhere in the store.
        expect(await store.findToken(other.hash)).toEqual({
          ...other,
          createdAt: "2024-01-02T00:00:00.000Z",
          expiresAt: "2024-04-01T00:00:00.000Z",
        });
        expect((await store.listTokens()).map((x) => x.id)).toEqual([t.id, other.id]);
        expect(await store.countTokens()).toBe(2);
        await store.putToken({ ...t, scopes: ["read"] });
        expect((await store.findToken(t.hash))?.scopes).toEqual(["read"]);
        expect(await store.countTokens()).toBe(2);
      });

      test("an id belongs to one token", async () => {
        await store.putToken(t);
        await expectConflict(store.putToken({ ...t, hash: "ef".repeat(32) }));
        expect(await store.countTokens()).toBe(1);
      });

      test("revoke deletes by id, at once for every reader", async () => {
        await store.putToken(t);
        expect(await store.revokeToken("no-such-id")).toBe(false);
        expect(await store.revokeToken(t.id)).toBe(true);
        expect(await store.findToken(t.hash)).toBeUndefined();
        expect(await store.revokeToken(t.id)).toBe(false);
        expect(await store.countTokens()).toBe(0);
      });
    });

    describe("audit log", () => {
      const who = { principal: "token:0123456789abcdef", principalName: "ci", source: "10.0.0.7", route: "POST /x" };
      const entry = (action: string, over: Partial<AuditEntry> = {}): AuditEntry => ({
        ...who,
        taskId: null,
        action,
        summary: { n: 1 },
        ...over,
      });

      test("an entry written with a change round-trips every field", async () => {
        await store.accept(
          { id: "t1", name: "add_artifacts", state: "PENDING" },
          [add("a"), add("b")],
          false,
          entry("add_artifacts", { taskId: "t1", summary: { artifacts: 2, roles: ["bins-0"] } }),
        );
        const [e, ...rest] = await store.listAudit({ limit: 10 });
        expect(rest).toEqual([]);
        expect(e).toEqual({
          id: expect.any(Number),
          at: expect.stringMatching(ISO),
          ...who,
          taskId: "t1",
          action: "add_artifacts",
          summary: { artifacts: 2, roles: ["bins-0"] },
        });
        // Same transaction, same clock reading as the task.
        expect(e!.at).toBe((await store.getTask("t1"))!.createdAt);
      });

      test("every kind of change carries its entry: accept, createTask, publication, token put and revoke", async () => {
        await store.accept({ id: "a", name: "add_artifacts", state: "PENDING" }, [add("x")], false, entry("add"));
        await store.createTask({ id: "b", name: "sign_metadata", state: "PENDING" }, entry("sign", { taskId: "b" }));
        await store.commitPublication({
          expectedHeads: { timestamp: 0 },
          documents: [doc("timestamp", 1)],
          audit: [entry("resign", { principal: "scheduler", principalName: "scheduler", source: null, route: null })],
        });
        await store.putToken(
          {
            id: "tok1",
            hash: "ab".repeat(32),
            name: "n",
            scopes: ["read"],
            createdAt: new Date().toISOString(),
            expiresAt: null,
            createdBy: "admin",
          },
          entry("token_create"),
        );
        expect(await store.revokeToken("tok1", entry("token_revoke"))).toBe(true);
        expect(await store.revokeToken("tok1", entry("token_revoke"))).toBe(false);
        const log = await store.listAudit({ limit: 100 });
        expect(log.map((e) => e.action)).toEqual(["add", "sign", "resign", "token_create", "token_revoke"]);
        expect(log[2]).toMatchObject({ principal: "scheduler", source: null, route: null, taskId: null });
        const ids = log.map((e) => e.id);
        expect([...ids].sort((x, y) => x - y)).toEqual(ids);
        expect(new Set(ids).size).toBe(ids.length);
      });

      test("a change that is refused leaves no entry (same transaction)", async () => {
        await store.createTask({ id: "dup", name: "x", state: "PENDING" });
        await expectConflict(
          store.accept({ id: "dup", name: "add_artifacts", state: "PENDING" }, [add("p")], false, entry("add")),
        );
        await expectConflict(store.createTask({ id: "dup", name: "x", state: "PENDING" }, entry("sign")));
        await store.commitPublication({ expectedHeads: { timestamp: 0 }, documents: [doc("timestamp", 1)] });
        await expectConflict(
          store.commitPublication({
            expectedHeads: { timestamp: 0 },
            documents: [doc("timestamp", 1)],
            audit: [entry("resign")],
          }),
        );
        const t = {
          id: "same",
          hash: "ab".repeat(32),
          name: "n",
          scopes: [],
          createdAt: new Date().toISOString(),
          expiresAt: null,
          createdBy: null,
        };
        await store.putToken(t);
        await expectConflict(store.putToken({ ...t, hash: "cd".repeat(32) }, entry("token_create")));
        expect(await store.listAudit({ limit: 100 })).toEqual([]);
        expect(await store.pendingChanges(10)).toEqual([]);
      });

      test("an invalid entry is refused before anything is written", async () => {
        const bad = { ...entry("x"), principal: "" };
        await expect(store.accept({ id: "t", name: "x", state: "PENDING" }, [add("p")], false, bad)).rejects.toThrow(
          /principal/,
        );
        await expect(
          store.createTask({ id: "t", name: "x", state: "PENDING" }, { ...entry("x"), summary: [] as never }),
        ).rejects.toThrow(/summary/);
        expect(await store.getTask("t")).toBeUndefined();
        expect(await store.pendingChanges(10)).toEqual([]);
      });

      test("listAudit filters by since, afterId and principal; newest takes the last page, oldest first", async () => {
        const at = (min: number) => `2024-05-01T10:${String(min).padStart(2, "0")}:00.000Z`;
        for (let i = 0; i < 6; i++) {
          await store.createTask(
            { id: `t${i}`, name: "x", state: "PENDING" },
            entry(`a${i}`, {
              at: at(i),
              principal: i % 2 ? "token:odd" : "oauth:even",
              principalName: i % 2 ? "odd-ci" : "even-client",
            }),
          );
        }
        const actions = (rs: AuditRecord[]) => rs.map((r) => r.action);
        const all = await store.listAudit({ limit: 100 });
        expect(actions(all)).toEqual(["a0", "a1", "a2", "a3", "a4", "a5"]);
        expect(all[0]!.at).toBe(at(0));
        expect(actions(await store.listAudit({ limit: 2 }))).toEqual(["a0", "a1"]);
        expect(actions(await store.listAudit({ limit: 2, newest: true }))).toEqual(["a4", "a5"]);
        expect(actions(await store.listAudit({ limit: 100, since: at(3) }))).toEqual(["a3", "a4", "a5"]);
        // `since` accepts any ISO form and compares as an instant.
        expect(actions(await store.listAudit({ limit: 100, since: "2024-05-01T10:04:00Z" }))).toEqual(["a4", "a5"]);
        expect(actions(await store.listAudit({ limit: 100, afterId: all[3]!.id }))).toEqual(["a4", "a5"]);
        expect(actions(await store.listAudit({ limit: 100, principal: "token:odd" }))).toEqual(["a1", "a3", "a5"]);
        expect(actions(await store.listAudit({ limit: 100, principal: "even-client" }))).toEqual(["a0", "a2", "a4"]);
        expect(actions(await store.listAudit({ limit: 1, principal: "even-client", newest: true }))).toEqual(["a4"]);
        expect(
          actions(await store.listAudit({ limit: 100, principal: "token:odd", since: at(2), afterId: all[3]!.id })),
        ).toEqual(["a5"]);
        expect(await store.listAudit({ limit: 0 })).toEqual([]);
        expect(await store.listAudit({ limit: 100, principal: "nobody" })).toEqual([]);
      });

      test("pruneAudit deletes entries older than the cut-off, and ids are never reused", async () => {
        await store.createTask(
          { id: "old", name: "x", state: "PENDING" },
          entry("old", { at: "2020-01-01T00:00:00Z" }),
        );
        await store.createTask({ id: "new", name: "x", state: "PENDING" }, entry("new"));
        const before = await store.listAudit({ limit: 10 });
        expect(await store.pruneAudit("2021-01-01T00:00:00Z")).toBe(1);
        expect((await store.listAudit({ limit: 10 })).map((e) => e.action)).toEqual(["new"]);
        expect(await store.pruneAudit("2999-01-01T00:00:00Z")).toBe(1);
        await store.createTask({ id: "later", name: "x", state: "PENDING" }, entry("later"));
        const [later] = await store.listAudit({ limit: 10 });
        expect(later!.id).toBeGreaterThan(before[1]!.id);
      });

      test("deleting by name revokes exactly those tokens", async () => {
        const at = "2024-01-01T00:00:00.000Z";
        const token = { expiresAt: null, createdBy: null, createdAt: at };
        await store.putToken({ ...token, id: "a1", hash: "ab".repeat(32), name: "admin", scopes: ["admin"] });
        await store.putToken({ ...token, id: "a2", hash: "cd".repeat(32), name: "admin", scopes: ["admin"] });
        await store.putToken({ ...token, id: "c1", hash: "ef".repeat(32), name: "ci", scopes: [] });
        expect(await store.deleteTokens("admin")).toBe(2);
        expect(await store.findToken("ab".repeat(32))).toBeUndefined();
        expect(await store.findToken("ef".repeat(32))).toBeDefined();
        expect(await store.deleteTokens("admin")).toBe(0);
        expect(await store.countTokens()).toBe(1);
      });
    });

    describe("withLock", () => {
      test("concurrent callers never overlap and run in call order", async () => {
        const events: string[] = [];
        let inside = 0;
        let maxInside = 0;
        const worker = (id: number) =>
          store.withLock("publisher", async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            events.push(`enter ${id}`);
            await sleep(15);
            await Promise.resolve();
            events.push(`exit ${id}`);
            inside--;
            return id * 10;
          });
        const results = await Promise.all([worker(1), worker(2), worker(3)]);
        expect(results).toEqual([10, 20, 30]);
        expect(maxInside).toBe(1);
        expect(events).toEqual(["enter 1", "exit 1", "enter 2", "exit 2", "enter 3", "exit 3"]);
      });

      test("a failing holder releases the lock and its error reaches its caller", async () => {
        const failing = store.withLock("publisher", async () => {
          await sleep(5);
          throw new Error("publish failed");
        });
        const next = store.withLock("publisher", async () => "ran");
        await expect(failing).rejects.toThrow("publish failed");
        expect(await next).toBe("ran");
      });

      test("different lock names do not block each other", async () => {
        let release!: () => void;
        const held = store.withLock("a", () => new Promise<void>((r) => (release = r)));
        const other = await Promise.race([store.withLock("b", async () => "b ran"), sleep(1000).then(() => "blocked")]);
        expect(other).toBe("b ran");
        release();
        await held;
      });
    });
  });
}
