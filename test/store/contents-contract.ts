/**
 * The ContentIndex contract (src/store/contents.ts), run by every store
 * backend: dedup by sha256, revival by uploads, and the GC handshake.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Store } from "../../src/store/store.ts";

const h = (c: string) => c.repeat(64);
const h512 = (c: string) => c.repeat(128);

export function contentsContract(name: string, make: () => Promise<{ store: Store; cleanup: () => Promise<void> }>) {
  describe(`contents contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    test("put stores once per sha256; get and getBySha512 find it", async () => {
      expect(await store.contents.put({ sha256: h("a"), sha512: null, length: 5 })).toBe(true);
      expect(await store.contents.put({ sha256: h("a"), sha512: h512("b"), length: 5 })).toBe(true);
      const got = await store.contents.get(h("a"));
      expect(got).toMatchObject({
        sha256: h("a"),
        sha512: h512("b"),
        length: 5,
        unreferencedSince: null,
        deleting: false,
      });
      expect(Number.isNaN(Date.parse(got!.storedAt))).toBe(false);
      expect((await store.contents.getBySha512(h512("b")))?.sha256).toBe(h("a"));
      expect(await store.contents.get(h("c"))).toBeUndefined();
      expect(await store.contents.getBySha512(h512("c"))).toBeUndefined();
      // A later upload never replaces a known sha512.
      await store.contents.put({ sha256: h("a"), sha512: null, length: 5 });
      expect((await store.contents.get(h("a")))?.sha512).toBe(h512("b"));
    });

    test("putAll writes several rows at once and reports rows being deleted", async () => {
      await store.contents.put({ sha256: h("d"), sha512: null, length: 1 });
      await store.contents.markUnreferenced([h("d")], "2030-01-01T00:00:00.000Z");
      expect(await store.contents.beginDeletion(h("d"), "2030-01-01T00:00:00.000Z")).toBe(true);
      const got = await store.contents.putAll([
        { sha256: h("a"), sha512: null, length: 1 },
        { sha256: h("d"), sha512: null, length: 1 },
        { sha256: h("e"), sha512: h512("f"), length: 2 },
      ]);
      expect(got).toEqual([true, false, true]);
      expect((await store.contents.get(h("e")))?.sha512).toBe(h512("f"));
      await expect(store.contents.putAll([{ sha256: "x", sha512: null, length: 1 }])).rejects.toThrow(/sha256/);
    });

    test("malformed rows are refused", async () => {
      await expect(store.contents.put({ sha256: "abc", sha512: null, length: 1 })).rejects.toThrow(/sha256/);
      await expect(store.contents.put({ sha256: h("a"), sha512: "x", length: 1 })).rejects.toThrow(/sha512/);
      await expect(store.contents.put({ sha256: h("a"), sha512: null, length: -1 })).rejects.toThrow(/length/);
      expect(await store.contents.get(h("a"))).toBeUndefined();
    });

    test("list pages in sha256 order", async () => {
      for (const c of ["3", "1", "2", "4"]) await store.contents.put({ sha256: h(c), sha512: null, length: 1 });
      const first = await store.contents.list({ limit: 3 });
      expect(first.map((r) => r.sha256)).toEqual([h("1"), h("2"), h("3")]);
      const rest = await store.contents.list({ after: h("3"), limit: 3 });
      expect(rest.map((r) => r.sha256)).toEqual([h("4")]);
    });

    test("markUnreferenced keeps the first mark; null clears; put revives", async () => {
      await store.contents.put({ sha256: h("a"), sha512: null, length: 1 });
      await store.contents.markUnreferenced([h("a")], "2030-01-01T00:00:00.000Z");
      await store.contents.markUnreferenced([h("a")], "2030-02-01T00:00:00.000Z");
      expect((await store.contents.get(h("a")))?.unreferencedSince).toBe("2030-01-01T00:00:00.000Z");
      await store.contents.markUnreferenced([h("a")], null);
      expect((await store.contents.get(h("a")))?.unreferencedSince).toBeNull();
      await store.contents.markUnreferenced([h("a")], "2030-01-01T00:00:00.000Z");
      await store.contents.put({ sha256: h("a"), sha512: null, length: 1 });
      expect((await store.contents.get(h("a")))?.unreferencedSince).toBeNull();
      await store.contents.markUnreferenced([], "2030-01-01T00:00:00.000Z");
    });

    test("deletion handshake: only old unreferenced rows; a deleting row refuses put until finished", async () => {
      await store.contents.put({ sha256: h("a"), sha512: null, length: 1 });
      // Listed (never marked): not deletable.
      expect(await store.contents.beginDeletion(h("a"), "2031-01-01T00:00:00.000Z")).toBe(false);
      await store.contents.markUnreferenced([h("a")], "2030-06-01T00:00:00.000Z");
      // Marked after the cut-off: still inside its grace period.
      expect(await store.contents.beginDeletion(h("a"), "2030-05-01T00:00:00.000Z")).toBe(false);
      expect(await store.contents.beginDeletion(h("a"), "2030-06-01T00:00:00.000Z")).toBe(true);
      expect(await store.contents.beginDeletion(h("a"), "2030-06-01T00:00:00.000Z")).toBe(false);
      expect((await store.contents.get(h("a")))?.deleting).toBe(true);
      // An upload of the same bytes now must wait: nothing changes.
      expect(await store.contents.put({ sha256: h("a"), sha512: null, length: 1 })).toBe(false);
      expect((await store.contents.get(h("a")))?.deleting).toBe(true);
      await store.contents.finishDeletion(h("a"));
      expect(await store.contents.get(h("a"))).toBeUndefined();
      expect(await store.contents.put({ sha256: h("a"), sha512: null, length: 1 })).toBe(true);
      // finishDeletion on a live row is a no-op.
      await store.contents.finishDeletion(h("a"));
      expect(await store.contents.get(h("a"))).toBeDefined();
    });

    test("a revived row cannot start deleting", async () => {
      await store.contents.put({ sha256: h("a"), sha512: null, length: 1 });
      await store.contents.markUnreferenced([h("a")], "2030-01-01T00:00:00.000Z");
      await store.contents.put({ sha256: h("a"), sha512: null, length: 1 });
      expect(await store.contents.beginDeletion(h("a"), "2031-01-01T00:00:00.000Z")).toBe(false);
    });

    test("queuedFragments lists held and pending adds, not removes or bumps", async () => {
      const frag = (c: string) => JSON.stringify({ length: 1, hashes: { sha256: h(c) } });
      await store.accept(
        { id: "t1", name: "add_artifacts", state: "PENDING" },
        [
          { kind: "add", path: "a", role: "bins-0", fragment: frag("a") },
          { kind: "remove", path: "b", role: "bins-0", fragment: null },
        ],
        false,
      );
      await store.accept(
        { id: "t2", name: "add_artifacts", state: "SUCCESS" },
        [{ kind: "add", path: "c", role: "bins-0", fragment: frag("c") }],
        true,
      );
      const all = await store.contents.queuedFragments({ afterId: 0, limit: 10 });
      expect(all.map((q) => q.fragment)).toEqual([frag("a"), frag("c")]);
      const after = await store.contents.queuedFragments({ afterId: all[0]!.id, limit: 10 });
      expect(after.map((q) => q.fragment)).toEqual([frag("c")]);
    });
  });
}
