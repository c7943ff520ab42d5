import { describe, expect, test } from "bun:test";
import { VerifyPool } from "../../src/repository/verify-pool.ts";
import { signerFromPem, utf8 } from "../../src/tuf/index.ts";
import { keyIdFile, keyPem } from "../tuf/helpers.ts";

const signer = signerFromPem(keyPem("online-ed25519"), { keyid: keyIdFile("online-ed25519") });
const doc = (i: number) => utf8(`{"n":${i}}`);

/** The error a batch ends with (`expect(…).rejects` did not settle here for a batch the worker answered). */
async function failureOf(p: Promise<void>): Promise<Error | undefined> {
  return p.then(
    () => undefined,
    (e: Error) => e,
  );
}

async function verifyMany(pool: VerifyPool, n: number, bad?: number): Promise<void> {
  const batch = pool.batch(signer.publicKey);
  for (let i = 0; i < n; i++) batch.add(`${i}.bins-${i}.json`, doc(i), signer.sign(doc(i === bad ? -1 : i)));
  await batch.done();
}

describe("verify pool", () => {
  test("a small batch is verified without a worker, and a bad signature in it is named", async () => {
    const pool = new VerifyPool();
    try {
      await verifyMany(pool, 3);
      expect(pool.workerRunning).toBe(false);
      expect((await failureOf(verifyMany(pool, 3, 1)))?.message).toContain(
        "signature of 1.bins-1.json does not verify",
      );
    } finally {
      pool.close();
    }
  });

  test("a large batch starts the worker, finds a bad signature anywhere, and the idle worker stops", async () => {
    const pool = new VerifyPool({ idleStopMs: 50 });
    try {
      await verifyMany(pool, 300);
      expect(pool.workerRunning).toBe(true);
      expect((await failureOf(verifyMany(pool, 300, 10)))?.message).toContain(
        "signature of 10.bins-10.json does not verify",
      );
      for (let i = 0; i < 200 && pool.workerRunning; i++) await Bun.sleep(10);
      expect(pool.workerRunning).toBe(false);
      // And starts again when needed.
      await verifyMany(pool, 300);
      expect(pool.workerRunning).toBe(true);
    } finally {
      pool.close();
    }
  });
});
