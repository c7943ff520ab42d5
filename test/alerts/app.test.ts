/**
 * "Warned by webhook and metric 30 days before root expires": a real server
 * with a clock the test controls and a real webhook receiver on loopback.
 * The fixture's root expires 2036-01-01T00:00:00Z.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { ManualClock } from "../../src/clock.ts";
import { fixture } from "../helpers/fixtures.ts";
import { startReceiver, type Receiver } from "../helpers/receiver.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { serverTerm } from "../cli/server-helpers.ts";
import { statusCommand } from "../../src/cli/status.ts";

const ROOT_EXPIRES = Date.parse("2036-01-01T00:00:00Z");
const DAY = 86_400_000;
const SECRET = "webhook-secret-for-tests-0123";

/**
 * Move wall time to `t` as a clock step (src/clock.ts `jump`, like a resume
 * from suspend): no elapsed time passes, so the scheduler's timed jobs
 * (check-alerts among them) do not fire in between and the test decides when
 * alerts are checked. A forward step re-signs what expires soon at once, as a
 * resumed server does; wait for that run to finish.
 */
async function moveTo(t: number) {
  clock.jump(t - clock.now());
  await s.app.scheduler.settled();
}

let s: TestServer;
let receiver: Receiver;
const clock = new ManualClock(ROOT_EXPIRES - 40 * DAY);

beforeAll(async () => {
  receiver = startReceiver();
  s = await startTestServer({
    clock,
    env: { TUFBOX_ALERTS_WEBHOOKS: JSON.stringify([{ url: `${receiver.url}/slack/T1/B1/x`, secret: SECRET }]) },
  });
  const r = await s.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
  expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
});

afterAll(async () => {
  await s?.stop();
  await receiver?.stop();
});

async function checkAlerts() {
  const r = await s.api("POST", "/api/v1/jobs/check-alerts/run");
  expect(r.status).toBe(200);
  return r.body.data.result as string;
}

async function metrics(): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

test("40 days before root expires: nothing fires", async () => {
  expect(await checkAlerts()).toBe("no alerts");
  expect(receiver.received.length).toBe(0);
  expect(await metrics()).toContain('tufbox_alerts_active{severity="warning"} 0');
  expect((await s.api("GET", "/readyz")).body.warnings).toEqual([]);
});

test("29 days before: one signed webhook, the metric, /readyz warnings and the alerts API", async () => {
  await moveTo(ROOT_EXPIRES - 29 * DAY);
  // Online roles are re-signed relative to the moved clock, like a real server running 11 days later.
  await s.api("POST", "/api/v1/jobs/resign-expiring/run");
  await s.app.publisher.idle();
  expect(await checkAlerts()).toContain("1 active; 1 new or changed");
  expect(receiver.received.length).toBe(1);
  const hook = receiver.received[0]!;
  expect(hook.path).toBe("/slack/T1/B1/x");
  expect(hook.json.text).toContain("root expires in 29 days (2036-01-01T00:00:00Z)");
  expect(hook.json.state).toBe("firing");
  expect(hook.json.alert).toMatchObject({ kind: "offline_role_expiring", subject: "root", severity: "warning" });
  const mac = createHmac("sha256", SECRET).update(`${hook.headers["x-tufbox-timestamp"]}.${hook.body}`);
  expect(hook.headers["x-tufbox-signature"]).toBe(`sha256=${mac.digest("hex")}`);

  const text = await metrics();
  expect(text).toContain('tufbox_alert_active{kind="offline_role_expiring",subject="root",severity="warning"} 1');
  expect(text).toContain('tufbox_alert_webhook_deliveries_total{result="delivered"} 1');

  const ready = await s.api("GET", "/readyz");
  expect(ready.status).toBe(200);
  expect(ready.body.warnings).toEqual([
    { key: "offline_role_expiring:root", severity: "warning", summary: expect.stringContaining("29 days") },
  ]);

  const api = await s.api("GET", "/api/v1/alerts");
  expect(api.body.data.alerts.map((a: any) => a.key)).toEqual(["offline_role_expiring:root"]);
  expect(api.body.data.webhooks.deliveries[0]).toMatchObject({
    target: receiver.url,
    event: "firing",
    state: "delivered",
    attempts: 1,
    last_status: 200,
  });
  // The webhook's credential-bearing path is not shown.
  expect(JSON.stringify(api.body)).not.toContain("/slack/T1/B1/x");
});

test("tufbox status lists the alert and what to do; without a token it says which token to give", async () => {
  const t = serverTerm(s.url);
  await statusCommand([], t.term, new Date(clock.now()));
  const text = t.out.join("\n");
  expect(text).toContain("alerts:\n  WARNING: root expires in 29 days (2036-01-01T00:00:00Z)");
  expect(text).toContain("    what to do: build and sign root N+1");
  // Every /api/v1 read needs a token with scope read (access control): status
  // refuses with the reason and the hint instead of a partial answer.
  const anonymous = serverTerm(s.url, { token: null });
  await expect(statusCommand([], anonymous.term, new Date(clock.now()))).rejects.toThrow(/refused the request \(401\)/);
});

test("checking again does not repeat the webhook; escalation to critical does, once", async () => {
  await checkAlerts();
  expect(receiver.received.length).toBe(1);
  await moveTo(ROOT_EXPIRES - 5 * DAY);
  await s.api("POST", "/api/v1/jobs/resign-expiring/run");
  await s.app.publisher.idle();
  await checkAlerts();
  await checkAlerts();
  expect(receiver.received.length).toBe(2);
  expect(receiver.received[1]!.json.alert.severity).toBe("critical");
});

test("a failed delivery is retried by the clock and shows its state", async () => {
  receiver.script.push(503);
  // Back out of the window: the alert resolves and a "resolved" delivery goes out (and fails once).
  await moveTo(ROOT_EXPIRES - 60 * DAY);
  await checkAlerts();
  expect(receiver.received.length).toBe(3);
  let d = (await s.api("GET", "/api/v1/alerts")).body.data.webhooks.deliveries[0];
  expect(d).toMatchObject({ event: "resolved", state: "pending", attempts: 1, last_status: 503 });
  clock.advance(10_000);
  await s.app.alerts.webhooks.pump();
  d = (await s.api("GET", "/api/v1/alerts")).body.data.webhooks.deliveries[0];
  expect(d).toMatchObject({ event: "resolved", state: "delivered", attempts: 2, last_status: 200 });
  expect(receiver.received[3]!.json.text).toStartWith("[tufbox] RESOLVED: root expires in");
});
