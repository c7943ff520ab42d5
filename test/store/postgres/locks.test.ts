/**
 * The publisher lock's holder list on PostgreSQL (src/store/postgres/locks.ts):
 * an async context that outlives its withLock (a timer or server reload
 * started inside the lock, then an HTTP request and its task) must not carry
 * the released lock into the next holder's commit check, which would report
 * it "lost" and fail the commit.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { AdvisoryLocks, type HeldLock } from "../../../src/store/postgres/locks.ts";
import { createDatabase, withServices } from "../../helpers/services.ts";

withServices("test/store/postgres/locks.test.ts", {}, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let locks: AdvisoryLocks;

  beforeAll(async () => {
    db = await createDatabase("locks");
    locks = new AdvisoryLocks(db.url, { connections: 2, connectionTimeoutSeconds: 5 });
  });
  afterAll(async () => {
    await locks?.close();
    await db?.drop();
  });

  test("a context that outlives its lock holds nothing; the next holder holds only its own lock", async () => {
    let later!: Promise<[HeldLock[], HeldLock[]]>;
    await locks.withLock("publisher", async () => {
      expect(locks.heldHere().map((l) => l.name)).toEqual(["publisher"]);
      later = new Promise((resolve) =>
        setTimeout(async () => {
          const outside = locks.heldHere();
          resolve([outside, await locks.withLock("publisher", async () => locks.heldHere())]);
        }, 20),
      );
    });
    const [outside, inside] = await later;
    expect(outside).toEqual([]);
    expect(inside.map((l) => l.name)).toEqual(["publisher"]);
  });
});
