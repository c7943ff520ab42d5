/**
 * A publication no replica was woken for (a scheduler re-sign) reaches every
 * other replica at once, over Redis and over LISTEN/NOTIFY: two in-process
 * servers on one real PostgreSQL database.
 */
import { expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import {
  REDIS_URL,
  bootstrap,
  createDatabase,
  eventually,
  namedUrl,
  sameBytes,
  timestampOf,
  withServices,
} from "./helpers.ts";

withServices("test/scaleout/published-notify.test.ts", { redis: true }, () => {
  test("a publication no replica was woken for (a scheduler re-sign) reaches the others at once, over Redis and over LISTEN/NOTIFY", async () => {
    for (const redis of [REDIS_URL, null]) {
      const other = await createDatabase("published");
      const servers: TestServer[] = [];
      try {
        // A poll far longer than the wait below: only the "published" message can explain a catch-up.
        const env = { TUFBOX_PUBLISHER_POLL_MS: "60000" };
        for (const name of ["pa", "pb"]) {
          servers.push(
            await startTestServer({
              flags: { database: namedUrl(other.url, name), ...(redis ? { redis } : {}) },
              env,
            }),
          );
        }
        const [a, b] = servers as [TestServer, TestServer];
        expect(a.app.notifier.kind).toBe(redis ? "redis" : "postgres");
        await bootstrap(a.url, 8);
        await eventually("b bootstrapped", 5000, async () => b.app.repo.bootstrapped);
        for (let round = 0; round < 3; round++) {
          const before = a.app.repo.timestampVersion;
          // A re-sign request stays in this process: nobody else is woken for it.
          a.app.repo.requestBump(["timestamp"]);
          await eventually("a published", 5000, async () => a.app.repo.timestampVersion > before, 2);
          const t0 = performance.now();
          await eventually(
            "b serving a's new timestamp",
            2000,
            async () => sameBytes((await timestampOf(b.url)).bytes, (await timestampOf(a.url)).bytes),
            2,
          );
          expect(performance.now() - t0).toBeLessThan(1000);
        }
      } finally {
        for (const s of servers) await s.stop();
        await other.drop();
      }
    }
  }, 60_000);
});
