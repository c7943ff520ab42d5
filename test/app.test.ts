/** The App's lifecycle: stopping waits for work already accepted, then the store closes. */
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { binsPayload } from "./helpers/fixtures.ts";
import { startTestServer, tempDir } from "./helpers/server.ts";

test("stop right after a bootstrap is accepted: the bootstrap finishes first, the restart serves it", async () => {
  const dataDir = tempDir("tufbox-stop-");
  try {
    const first = await startTestServer({ dataDir });
    const r = await first.api("POST", "/api/v1/bootstrap", binsPayload(4096));
    expect(r.status).toBe(202);
    await first.stop();
    const second = await startTestServer({ dataDir });
    try {
      const task = await second.api("GET", `/api/v1/task?task_id=${r.body.data.task_id}`);
      expect(task.body.data.state).toBe("SUCCESS");
      expect((await fetch(`${second.url}/metadata/1.bins-fff.json`)).status).toBe(200);
      expect((await fetch(`${second.url}/metadata/timestamp.json`)).status).toBe(200);
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
