/**
 * GET /api/v1/events on a real tufbox: the current timestamp version at
 * once, then one event per publication; both slash forms; and stopping the
 * server ends open streams instead of waiting for them forever.
 */
import { expect, test } from "bun:test";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer } from "../helpers/server.ts";

async function* events(url: string): AsyncGenerator<{ event: string; data: string }> {
  const res = await fetch(url, { headers: { accept: "text/event-stream" } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/event-stream");
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) yield { event, data };
    }
  }
}

test("the change feed announces each new timestamp version; stop() ends open streams", async () => {
  const s = await startTestServer();
  let stopped = false;
  try {
    const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(4));
    await s.waitTask(r.body.data.task_id);
    for (const path of ["/api/v1/events", "/api/v1/events/"]) {
      const feed = events(s.url + path);
      const first = (await feed.next()).value!;
      expect(first.event).toBe("timestamp");
      const now = JSON.parse(first.data);
      const served = JSON.parse(await (await fetch(`${s.url}/metadata/timestamp.json`)).text()).signed;
      expect(now).toEqual({ version: served.version, snapshot: served.meta["snapshot.json"].version });
      const add = await s.api("POST", "/api/v1/artifacts", {
        artifacts: [{ path: `a${path.length}.txt`, info: { length: 1, hashes: { sha256: "ab".repeat(32) } } }],
      });
      await s.waitTask(add.body.data.task_id);
      const next = JSON.parse((await feed.next()).value!.data);
      expect(next.version).toBe(now.version + 1);
      if (path.endsWith("/")) {
        // Leave this stream open: stopping the server must end it.
        const rest = feed.next();
        await s.stop();
        stopped = true;
        expect((await rest).done).toBe(true);
      } else await feed.return(undefined);
    }
  } finally {
    if (!stopped) await s.stop();
  }
}, 30_000);
