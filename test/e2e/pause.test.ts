/**
 * Pause and resume publication end to end (issue 17 item 5): a real server,
 * the HTTP routes and `tufbox publisher`, the scheduler's resign-expiring job
 * on a driven clock, and the real tuf-js client. While paused: additions are
 * accepted (202) and queued, timestamp.json does not move for them, the
 * re-sign job still renews what nears expiry (without the queued artifacts),
 * /readyz stays ready and says paused. After resume tuf-js downloads them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { publisherCommand } from "../../src/cli/publisher.ts";
import { statusCommand } from "../../src/cli/status.ts";
import { ManualClock } from "../../src/clock.ts";
import { serverTerm, usageError } from "../cli/server-helpers.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { targetFile } from "../helpers/targets.ts";
import { tufClient } from "../helpers/tufjs.ts";

const HOUR = 3_600_000;

let server: TestServer;
const clock = new ManualClock(Date.now());
const clientDir = tempDir("tufbox-client-");

function artifact(path: string, content: string) {
  return targetFile(server, path, content);
}

function heads(): Map<string, { version: number; expires: string }> {
  return new Map(server.app.repo.heads().map((h) => [h.role, h]));
}

beforeAll(async () => {
  server = await startTestServer({ clock, flags: { "scheduler-period-seconds": "3600" } as any });
  const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(4));
  expect((await server.waitTask(r.body.data.task_id, 60_000)).state).toBe("SUCCESS");
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(clientDir, { recursive: true, force: true });
});

describe("pause and resume publication", () => {
  test("paused: 202 and queued, not published; re-signing goes on; resume publishes; tuf-js sees them", async () => {
    const trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    const client = tufClient(server.url, join(clientDir, "returning"), trustedRoot);
    await client.refresh();

    // Pause with the CLI (admin token), --json.
    const p = serverTerm(server.url);
    await publisherCommand(["pause", "--reason", "moving the database", "--json"], p.term);
    const paused = JSON.parse(p.out.join("\n"));
    expect(paused).toMatchObject({
      paused: true,
      reason: "moving the database",
      by: "admin (TUFBOX_ADMIN_TOKEN)",
      pending_changes: 0,
    });

    const before = heads();
    const items = [artifact("paused/one.txt", "queued while paused"), artifact("paused/two.txt", "me too")];
    const add = await server.api("POST", "/api/v1/artifacts", {
      artifacts: items.map(({ path, info }) => ({ path, info })),
    });
    expect(add.status).toBe(202);
    const taskId = add.body.data.task_id as string;
    // The publisher gets woken by the accept and finds nothing to take.
    await server.app.publisher.idle();
    await Bun.sleep(50);
    await server.app.publisher.idle();
    expect(heads().get("timestamp")!.version).toBe(before.get("timestamp")!.version);
    const task = await server.api("GET", `/api/v1/task?task_id=${taskId}`);
    expect(task.body.data.state).toBe("PENDING");

    // Visible: the route, /readyz (still ready), the dashboard's overview, tufbox status.
    const state = await server.api("GET", "/api/v1/publisher");
    expect(state.body.data).toMatchObject({ paused: true, pending_changes: 2 });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const readyBody = (await ready.json()) as any;
    expect(readyBody.checks.publisher.paused).toBe(true);
    expect(readyBody.checks.publisher.paused_since).toBe(paused.since);
    const roles = await server.api("GET", "/api/v1/roles");
    expect(roles.body.data.publisher).toMatchObject({ state: "paused", paused: true, pending_changes: 2 });
    const st = serverTerm(server.url);
    await statusCommand([], st.term);
    expect(st.out.join("\n")).toContain("publisher     PAUSED since");

    // 20 hours on, the 1-day roles near expiry: the scheduler's job still re-signs them.
    clock.jump(20 * HOUR);
    const run = await server.app.scheduler.runNow("resign-expiring");
    expect(run).toStartWith("re-signing 6 role(s)");
    await server.app.publisher.idle();
    const after = heads();
    for (const role of ["timestamp", "snapshot", "bins-0", "bins-1", "bins-2", "bins-3"]) {
      expect(after.get(role)!.version).toBe(before.get(role)!.version + 1);
      expect(Date.parse(after.get(role)!.expires)).toBeGreaterThan(Date.parse(before.get(role)!.expires));
    }
    expect(after.get("targets")!.version).toBe(before.get("targets")!.version);
    // The client follows the re-signing and still does not see the queued artifacts.
    await client.refresh();
    expect(client.version("timestamp")).toBe(after.get("timestamp")!.version);
    expect(await client.download("paused/one.txt")).toBeUndefined();
    expect((await server.api("GET", `/api/v1/task?task_id=${taskId}`)).body.data.state).toBe("PENDING");

    // Resume over HTTP: everything queued is published.
    const resumed = await server.api("POST", "/api/v1/publisher/resume");
    expect(resumed.status).toBe(200);
    expect(resumed.body.message).toBe("Publisher resumed.");
    expect(resumed.body.data.paused).toBe(false);
    expect((await server.waitTask(taskId)).state).toBe("SUCCESS");
    expect(heads().get("timestamp")!.version).toBe(after.get("timestamp")!.version + 1);
    await client.refresh();
    for (const i of items) expect(await client.download(i.path)).toEqual(i.bytes);
    expect((await server.api("GET", "/api/v1/roles")).body.data.publisher.paused).toBe(false);

    // Both are in the audit log.
    const audit = await server.api("GET", "/api/v1/audit?limit=100");
    const actions = (audit.body.data.entries as { action: string }[]).map((a) => a.action);
    expect(actions).toContain("pause_publisher");
    expect(actions).toContain("resume_publisher");
  }, 60_000);

  test("pause and resume need the admin scope; a bad reason is a 422 naming the field", async () => {
    await server.api("POST", "/api/v1/publisher/resume");
    const created = await server.api("POST", "/api/v1/tokens", { name: "reader", scopes: ["read", "artifacts:write"] });
    const auth = { authorization: `Bearer ${created.body.data.token}` };
    expect((await server.api("POST", "/api/v1/publisher/pause", {}, auth)).status).toBe(403);
    expect((await server.api("POST", "/api/v1/publisher/resume", {}, auth)).status).toBe(403);
    expect((await server.api("GET", "/api/v1/publisher", undefined, auth)).status).toBe(200);
    const long = await server.api("POST", "/api/v1/publisher/pause", { reason: "x".repeat(201) });
    expect(long.status).toBe(422);
    expect(long.body.detail[0].loc).toEqual(["body", "reason"]);
    const extra = await server.api("POST", "/api/v1/publisher/pause", { paused: true });
    expect(extra.status).toBe(422);
    expect((await server.api("GET", "/api/v1/publisher")).body.data.paused).toBe(false);
    // No body at all is a plain pause; a second one keeps the first.
    const first = await fetch(`${server.url}/api/v1/publisher/pause`, {
      method: "POST",
      headers: { authorization: `Bearer ${(await import("../helpers/server.ts")).TOKEN}` },
    });
    expect(first.status).toBe(200);
    const again = await server.api("POST", "/api/v1/publisher/pause", { reason: "second" });
    expect(again.body.message).toBe("Publisher already paused.");
    expect(again.body.data.reason).toBeNull();
    const r = serverTerm(server.url);
    await publisherCommand(["resume"], r.term);
    expect(r.out.join("\n")).toContain("Publisher resumed.");
    await usageError(publisherCommand(["resume", "--reason", "x"], serverTerm(server.url).term), /--reason/);
    await usageError(publisherCommand(["stop"], serverTerm(server.url).term), /unknown action/);
  });
});

test("/metrics says whether publication is paused", async () => {
  const metric = async () =>
    /^tufbox_publisher_paused (\d)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1];
  await server.api("POST", "/api/v1/publisher/pause");
  expect(await metric()).toBe("1");
  await server.api("POST", "/api/v1/publisher/resume");
  expect(await metric()).toBe("0");
});
