/**
 * Webhook deliveries against a real HTTP receiver on loopback, with a clock
 * the test moves: signature, Slack-compatible body, retries with backoff,
 * permanent refusals, giving up, and the delivery state the API shows.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { ManualClock } from "../../src/clock.ts";
import { silentLogger } from "../../src/log.ts";
import { WebhookSender, webhookTarget } from "../../src/alerts/webhooks.ts";
import { startReceiver } from "../helpers/receiver.ts";

const receiver = startReceiver();
afterAll(() => receiver.stop());

function sender(opts: { secret?: string | null; url?: string; maxAttempts?: number } = {}) {
  const clock = new ManualClock(Date.parse("2030-01-01T00:00:00Z"));
  const s = new WebhookSender({
    webhooks: [{ url: opts.url ?? `${receiver.url}/hook/T0/B0/secret-path`, secret: opts.secret ?? null }],
    clock,
    log: silentLogger(),
    maxAttempts: opts.maxAttempts ?? 4,
    backoffMs: 10_000,
    maxBackoffMs: 30_000,
  });
  return { s, clock };
}

function reset() {
  receiver.received.length = 0;
  receiver.script.length = 0;
}

describe("webhook deliveries", () => {
  test("signed with HMAC-SHA256 over timestamp and exact body; Slack-compatible text", async () => {
    reset();
    const { s, clock } = sender({ secret: "hook-secret-0123456789" });
    s.enqueue("firing", "offline_role_expiring:root", { text: "[tufbox] WARNING: root expires", alert: { a: 1 } });
    await s.pump();
    expect(receiver.received.length).toBe(1);
    const r = receiver.received[0]!;
    expect(r.path).toBe("/hook/T0/B0/secret-path");
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.json.text).toBe("[tufbox] WARNING: root expires");
    expect(r.json.alert).toEqual({ a: 1 });
    const ts = r.headers["x-tufbox-timestamp"]!;
    expect(Number(ts)).toBe(clock.now() / 1000);
    const expected = createHmac("sha256", "hook-secret-0123456789").update(`${ts}.${r.body}`).digest("hex");
    expect(r.headers["x-tufbox-signature"]).toBe(`sha256=${expected}`);
    expect(r.headers["x-tufbox-event"]).toBe("alert.firing");
    expect(r.headers["x-tufbox-delivery"]).toBe(r.json.delivery_id);
    const [d] = s.deliveries();
    expect(d).toMatchObject({ state: "delivered", attempts: 1, lastStatus: 200, target: receiver.url });
    expect(s.totals).toEqual({ attempts: 1, delivered: 1, failed: 0 });
  });

  test("a wrong secret does not verify (the receiver can tell)", async () => {
    reset();
    const { s } = sender({ secret: "right-secret-0123456789" });
    s.enqueue("firing", "k", { text: "x" });
    await s.pump();
    const r = receiver.received[0]!;
    const forged = createHmac("sha256", "wrong-secret").update(`${r.headers["x-tufbox-timestamp"]}.${r.body}`);
    expect(r.headers["x-tufbox-signature"]).not.toBe(`sha256=${forged.digest("hex")}`);
  });

  test("no secret, no signature header", async () => {
    reset();
    const { s } = sender();
    s.enqueue("resolved", "k", { text: "y" });
    await s.pump();
    expect(receiver.received[0]!.headers["x-tufbox-signature"]).toBeUndefined();
    expect(receiver.received[0]!.headers["x-tufbox-event"]).toBe("alert.resolved");
  });

  test("5xx and 429 are retried with exponential backoff, by the clock; the same body each time", async () => {
    reset();
    receiver.script.push(503, 429);
    const { s, clock } = sender();
    s.enqueue("firing", "k", { text: "retry me" });
    await s.pump();
    expect(receiver.received.length).toBe(1);
    let [d] = s.deliveries();
    expect(d).toMatchObject({ state: "pending", attempts: 1, lastStatus: 503, lastError: "HTTP 503" });
    expect(d!.nextAttemptAt).toBe("2030-01-01T00:00:10.000Z");
    // Not due yet: nothing is sent, however often pump runs.
    clock.advance(9_999);
    await s.pump();
    await s.pump();
    expect(receiver.received.length).toBe(1);
    clock.advance(1);
    await s.pump();
    expect(receiver.received.length).toBe(2);
    [d] = s.deliveries();
    expect(d).toMatchObject({ state: "pending", attempts: 2, lastStatus: 429 });
    // Second delay doubles: 20 s.
    expect(new Date(d!.nextAttemptAt!).getTime() - clock.now()).toBe(20_000);
    clock.advance(20_000);
    await s.pump();
    [d] = s.deliveries();
    expect(d).toMatchObject({ state: "delivered", attempts: 3, lastStatus: 200, lastError: null });
    expect(receiver.received.map((r) => r.body)).toEqual(Array(3).fill(receiver.received[0]!.body));
    expect(s.pending()).toBe(0);
  });

  test("a refusal (404) is not retried", async () => {
    reset();
    receiver.script.push(404);
    const { s, clock } = sender();
    s.enqueue("firing", "k", { text: "gone" });
    await s.pump();
    clock.advance(3_600_000);
    await s.pump();
    expect(receiver.received.length).toBe(1);
    expect(s.deliveries()[0]).toMatchObject({ state: "failed", attempts: 1, lastStatus: 404 });
    expect(s.deliveries()[0]!.lastError).toContain("not retried");
    expect(s.totals.failed).toBe(1);
  });

  test("an unreachable receiver is retried until max attempts, then failed; delays capped", async () => {
    // A port nobody listens on: bind one, note it, close it.
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: false, fetch: () => new Response() });
    const deadUrl = `http://127.0.0.1:${probe.port}/hook`;
    await probe.stop(true);
    const { s, clock } = sender({ url: deadUrl, maxAttempts: 4 });
    s.enqueue("firing", "k", { text: "nobody home" });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await s.pump();
      const d = s.deliveries()[0]!;
      expect(d.attempts).toBe(i + 1);
      expect(d.lastStatus).toBeNull();
      if (d.nextAttemptAt) {
        delays.push(new Date(d.nextAttemptAt).getTime() - clock.now());
        clock.advance(new Date(d.nextAttemptAt).getTime() - clock.now());
      }
    }
    expect(delays).toEqual([10_000, 20_000, 30_000]);
    expect(s.deliveries()[0]).toMatchObject({ state: "failed", attempts: 4, nextAttemptAt: null });
    expect(s.pending()).toBe(0);
  });

  test("the shown target is the origin only (Slack puts the credential in the path)", () => {
    expect(webhookTarget("https://hooks.slack.com/services/T000/B000/XXXX")).toBe("https://hooks.slack.com");
  });
});
