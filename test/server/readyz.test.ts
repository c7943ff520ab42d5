/**
 * /readyz tells the truth (issue 10): 503 with the reason while the
 * publisher keeps failing or accepted changes are not being published, and
 * 200 again by itself once the cause is fixed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { RepositorySettings } from "../../src/repository/settings.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(2));
  expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
}, 60_000);

afterAll(() => server?.stop());

async function readyz() {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as any };
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || performance.now() > deadline) return v;
    await Bun.sleep(50);
  }
}

const artifact = (path: string) => ({
  artifacts: [{ path, info: { length: 1, hashes: { sha256: "cd".repeat(32) } } }],
});

describe("/readyz", () => {
  test("503 with the reason while every publish fails; 200 again once the cause is fixed", async () => {
    expect((await readyz()).status).toBe(200);
    // A setting that cannot be signed, as an older version accepted it (today's
    // main still accepts it through PUT /api/v1/config): every publish fails.
    const settings = (await server.app.store.getSetting<RepositorySettings>("repository"))!;
    await server.app.store.setSettings({
      repository: { ...settings, expiration: { ...settings.expiration, timestamp: 100_000_001 } },
    });
    await server.app.repo.open();
    const add = await server.api("POST", "/api/v1/artifacts", artifact("stuck/a.bin"));
    expect(add.status).toBe(202);

    // Today's main: 200 all along, while the artifact is never published.
    const failing = await until(readyz, (r) => r.status === 503);
    expect(failing.status).toBe(503);
    expect(failing.body.status).toBe("not ready");
    expect(failing.body.reasons[0]).toMatch(
      /^publishing keeps failing \(\d+ attempts in a row\): .*before the year 10000/,
    );
    expect(failing.body.checks.pending_changes).toBe(1);

    // The fix goes through the API; nothing else is needed.
    const fix = await server.api("PUT", "/api/v1/config", { settings: { expiration: { timestamp: 1 } } });
    expect((await server.waitTask(fix.body.data.task_id)).state).toBe("SUCCESS");
    expect((await server.waitTask(add.body.data.task_id)).state).toBe("SUCCESS");
    const recovered = await until(readyz, (r) => r.status === 200);
    expect(recovered.status).toBe(200);
    expect(recovered.body.reasons).toBeUndefined();
    expect(recovered.body.checks.pending_changes).toBe(0);
  }, 60_000);

  test("503 while accepted changes wait and the publisher does nothing", async () => {
    await server.app.publisher.stop();
    try {
      const add = await server.api("POST", "/api/v1/artifacts", artifact("waiting/a.bin"));
      expect(add.status).toBe(202);
      // As if a minute had passed with nothing published.
      server.app.publisher.lastSuccessAt -= 120_000;
      const r = await readyz();
      expect(r.status).toBe(503);
      expect(r.body.reasons).toEqual([expect.stringMatching(/^1 accepted change\(s\) not published for 1\d\d s$/)]);
    } finally {
      server.app.publisher.start();
    }
    await server.app.publisher.idle();
    expect((await until(readyz, (r) => r.status === 200)).status).toBe(200);
  }, 30_000);
});
