/**
 * The store's listings for the dashboard (tasks, role versions,
 * publications), run by every backend from contract.ts.
 */
import { describe, expect, test } from "bun:test";
import type { DocumentRecord, Store } from "../../src/store/store.ts";

function doc(role: string, version: number, publishedAt: string, expires = "2030-01-01T00:00:00Z"): DocumentRecord {
  const bytes = new TextEncoder().encode(JSON.stringify({ signed: { _type: role, version } }));
  const sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
  return { role, version, bytes, expires, sha256, publishedAt };
}

export function listingsContract(get: () => Store) {
  describe("dashboard listings", () => {
    test("listTasks: newest first, keyset pages that never skip or repeat", async () => {
      const store = get();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const id = `task-${String(i).padStart(2, "0")}`;
        ids.push(id);
        await store.createTask({ id, name: "add_artifacts", state: "SUCCESS" });
        // Same millisecond for some: the id breaks ties.
        if (i % 3 === 2) await Bun.sleep(2);
      }
      const seen: string[] = [];
      let before: { createdAt: string; id: string } | undefined;
      for (;;) {
        const page = await store.listTasks({ limit: 3, before });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(3);
        seen.push(...page.map((t) => t.id));
        const last = page[page.length - 1]!;
        before = { createdAt: last.createdAt, id: last.id };
      }
      expect(seen).toEqual([...ids].reverse());
      const [newest] = await store.listTasks({ limit: 1 });
      expect(newest).toMatchObject({ id: "task-06", name: "add_artifacts", state: "SUCCESS", result: null });
    });

    test("listRoleVersions and listPublications: what each commit put out, newest first", async () => {
      const store = get();
      const t1 = "2030-01-01T00:00:00.000Z";
      const t2 = "2030-01-01T00:05:00.000Z";
      await store.commitPublication({
        expectedHeads: { root: 0, targets: 0, "bins-0": 0, "bins-1": 0, snapshot: 0, timestamp: 0 },
        documents: [
          doc("root", 1, t1, "2031-01-01T00:00:00Z"),
          doc("targets", 1, t1),
          doc("bins-0", 1, t1),
          doc("bins-1", 1, t1),
          doc("snapshot", 1, t1),
          doc("timestamp", 1, t1),
        ],
      });
      await store.commitPublication({
        expectedHeads: { "bins-1": 1, snapshot: 1, timestamp: 1 },
        documents: [doc("bins-1", 2, t2), doc("snapshot", 2, t2), doc("timestamp", 2, t2, "2030-01-02T00:00:00Z")],
      });
      expect(await store.listRoleVersions("timestamp", 10)).toEqual([
        { version: 2, expires: "2030-01-02T00:00:00Z", length: expect.any(Number), publishedAt: t2 },
        { version: 1, expires: "2030-01-01T00:00:00Z", length: expect.any(Number), publishedAt: t1 },
      ]);
      expect((await store.listRoleVersions("root", 10)).map((v) => v.version)).toEqual([1]);
      expect(await store.listRoleVersions("nope", 10)).toEqual([]);
      expect(await store.listPublications(10)).toEqual([
        { timestampVersion: 2, publishedAt: t2, documents: 3, roles: [{ role: "bins-1", version: 2 }] },
        {
          timestampVersion: 1,
          publishedAt: t1,
          documents: 6,
          roles: [
            { role: "bins-0", version: 1 },
            { role: "bins-1", version: 1 },
            { role: "root", version: 1 },
            { role: "targets", version: 1 },
          ],
        },
      ]);
      expect((await store.listPublications(1)).map((p) => p.timestampVersion)).toEqual([2]);
    });
  });
}
