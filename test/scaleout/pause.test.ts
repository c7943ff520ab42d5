/**
 * Pause across replicas on one PostgreSQL database: paused through one
 * replica, neither publishes what is accepted through the other (both
 * publishers keep polling the queue); both report paused; resumed through the
 * other, the queued artifacts are published and served by both.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { artifact, createDatabase, eventually, withServices } from "./helpers.ts";

withServices("test/scaleout/pause.test.ts", {}, () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let a: TestServer;
  let b: TestServer;
  // Short polls: each publisher looks at the queue every 50 ms, so a replica that ignored the pause would publish.
  const env = { TUFBOX_PUBLISHER_POLL_MS: "50" };

  beforeAll(async () => {
    db = await createDatabase("pause");
    a = await startTestServer({ flags: { database: db.url }, env });
    b = await startTestServer({ flags: { database: db.url }, env });
    const r = await a.api("POST", "/api/v1/bootstrap", binsPayload(4));
    expect((await a.waitTask(r.body.data.task_id, 60_000)).state).toBe("SUCCESS");
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  test("paused through one replica, the other queues and does not publish; resumed through the other, both serve it", async () => {
    expect(a.app.store.kind).toBe("postgres");
    await eventually("replica b serves the bootstrap", 10_000, async () => b.app.repo.timestampVersion === 1);
    expect((await a.api("POST", "/api/v1/publisher/pause", { reason: "replicas" })).status).toBe(200);

    const added = await b.api("POST", "/api/v1/artifacts", { artifacts: [artifact("paused", 1)] });
    expect(added.status).toBe(202);
    const taskId = added.body.data.task_id as string;
    // Many poll rounds of both publishers later, nothing was published.
    await Bun.sleep(1000);
    expect(a.app.repo.timestampVersion).toBe(1);
    expect(b.app.repo.timestampVersion).toBe(1);
    expect((await b.api("GET", `/api/v1/task?task_id=${taskId}`)).body.data.state).toBe("PENDING");
    for (const s of [a, b]) {
      expect((await s.api("GET", "/api/v1/publisher")).body.data).toMatchObject({
        paused: true,
        reason: "replicas",
        pending_changes: 1,
      });
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as any).checks.publisher.paused).toBe(true);
    }

    expect((await b.api("POST", "/api/v1/publisher/resume")).body.message).toBe("Publisher resumed.");
    expect((await b.waitTask(taskId, 30_000)).state).toBe("SUCCESS");
    await eventually(
      "both replicas serve the publication",
      10_000,
      async () => a.app.repo.timestampVersion === 2 && b.app.repo.timestampVersion === 2,
    );
    const log = (await a.api("GET", "/api/v1/audit")).body.data.entries.map((e: any) => e.action);
    expect(log.filter((x: string) => x.endsWith("_publisher"))).toEqual(["pause_publisher", "resume_publisher"]);
  }, 60_000);
});
