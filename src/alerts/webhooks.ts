/**
 * Webhook deliveries for alerts: a generic JSON body whose `text` field makes
 * it a valid Slack (and Mattermost, Rocket.Chat…) incoming-webhook message,
 * signed with HMAC-SHA256 when the webhook has a secret, retried with
 * exponential backoff, every delivery's state kept for the API and dashboard.
 *
 * Signature: `X-Tufbox-Signature: sha256=HEX` where HEX is
 * HMAC-SHA256(secret, `${X-Tufbox-Timestamp}.${body}`). Covering the
 * timestamp lets a receiver refuse replays of an old delivery (as Slack's and
 * Stripe's own signatures do); the body is sent byte for byte as signed.
 *
 * Time comes from the App's clock: backoff and "due" are decided by it, so a
 * test drives retries by moving its clock and calling `pump()`. A real timer
 * only calls `pump()` while something is pending.
 */
import { createHmac, randomUUID } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";

export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 key; no signature header without it */
  secret: string | null;
}

export type DeliveryState = "pending" | "delivered" | "failed";

export interface Delivery {
  id: string;
  /** index in alerts.webhooks */
  webhook: number;
  /** scheme://host of the webhook: its path often carries a credential (Slack) */
  target: string;
  event: "firing" | "resolved";
  alertKey: string;
  state: DeliveryState;
  attempts: number;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  /** exact body sent on every attempt */
  body: string;
}

export interface WebhookSenderOptions {
  webhooks: WebhookConfig[];
  clock: Clock;
  log: Logger;
  /** attempts before a delivery is given up (default 6) */
  maxAttempts?: number;
  /** first retry delay; doubles each attempt (default 10 s) */
  backoffMs?: number;
  /** longest delay between attempts (default 10 min) */
  maxBackoffMs?: number;
  /** per attempt (default 10 s) */
  timeoutMs?: number;
  /** finished deliveries kept for display (default 200) */
  keep?: number;
}

/** scheme://host[:port] only: Slack-style webhook URLs are secrets in their path. */
export function webhookTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export class WebhookSender {
  readonly #opts: Required<Omit<WebhookSenderOptions, "log" | "clock" | "webhooks">>;
  readonly #webhooks: WebhookConfig[];
  readonly #clock: Clock;
  readonly #log: Logger;
  #deliveries: Delivery[] = [];
  #pumping: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  /** totals since start (metrics) */
  readonly totals = { attempts: 0, delivered: 0, failed: 0 };

  constructor(opts: WebhookSenderOptions) {
    this.#webhooks = opts.webhooks;
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#opts = {
      maxAttempts: opts.maxAttempts ?? 6,
      backoffMs: opts.backoffMs ?? 10_000,
      maxBackoffMs: opts.maxBackoffMs ?? 600_000,
      timeoutMs: opts.timeoutMs ?? 10_000,
      keep: opts.keep ?? 200,
    };
  }

  get configured(): number {
    return this.#webhooks.length;
  }

  /** newest first; bodies included (they hold nothing secret) */
  deliveries(): Delivery[] {
    return [...this.#deliveries].reverse();
  }

  pending(): number {
    return this.#deliveries.filter((d) => d.state === "pending").length;
  }

  /** Queue one body for every webhook; sent by the next pump(). */
  enqueue(event: Delivery["event"], alertKey: string, body: Record<string, unknown>): Delivery[] {
    const now = new Date(this.#clock.now()).toISOString();
    const made = this.#webhooks.map((w, i): Delivery => {
      const id = randomUUID();
      return {
        id,
        webhook: i,
        target: webhookTarget(w.url),
        event,
        alertKey,
        state: "pending",
        attempts: 0,
        createdAt: now,
        lastAttemptAt: null,
        nextAttemptAt: now,
        deliveredAt: null,
        lastStatus: null,
        lastError: null,
        body: JSON.stringify({ ...body, delivery_id: id }),
      };
    });
    this.#deliveries.push(...made);
    this.#trim();
    this.#schedule();
    return made;
  }

  /** Attempt every delivery that is due by the clock. Calls are serialised. */
  pump(): Promise<void> {
    const run = this.#pumping.then(() => this.#pumpOnce());
    this.#pumping = run.catch(() => undefined);
    return run;
  }

  start(): void {
    this.#running = true;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #pumpOnce(): Promise<void> {
    const now = this.#clock.now();
    const due = this.#deliveries.filter(
      (d) => d.state === "pending" && d.nextAttemptAt !== null && new Date(d.nextAttemptAt).getTime() <= now,
    );
    await Promise.all(due.map((d) => this.#attempt(d)));
    this.#schedule();
  }

  async #attempt(d: Delivery): Promise<void> {
    const hook = this.#webhooks[d.webhook]!;
    const at = new Date(this.#clock.now());
    d.attempts++;
    d.lastAttemptAt = at.toISOString();
    this.totals.attempts++;
    const timestamp = String(Math.floor(at.getTime() / 1000));
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": `tufbox/${VERSION}`,
      "x-tufbox-event": `alert.${d.event}`,
      "x-tufbox-delivery": d.id,
      "x-tufbox-timestamp": timestamp,
    };
    if (hook.secret) headers["x-tufbox-signature"] = signBody(hook.secret, timestamp, d.body);
    let retry: boolean;
    try {
      const res = await fetch(hook.url, {
        method: "POST",
        headers,
        body: d.body,
        // A redirect would resend a signed alert somewhere not configured.
        redirect: "manual",
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      d.lastStatus = res.status;
      if (res.status >= 200 && res.status < 300) {
        d.state = "delivered";
        d.deliveredAt = new Date(this.#clock.now()).toISOString();
        d.nextAttemptAt = null;
        d.lastError = null;
        this.totals.delivered++;
        return;
      }
      // 408/429/5xx are the receiver's temporary trouble; any other answer
      // (404 for a revoked Slack hook, 400, a redirect) will not change.
      retry = res.status === 408 || res.status === 429 || res.status >= 500;
      d.lastError = `HTTP ${res.status}${retry ? "" : " (not retried: the receiver refused the delivery)"}`;
    } catch (err) {
      d.lastStatus = null;
      d.lastError = err instanceof Error ? err.message : String(err);
      retry = true;
    }
    if (retry && d.attempts < this.#opts.maxAttempts) {
      const delay = Math.min(this.#opts.backoffMs * 2 ** (d.attempts - 1), this.#opts.maxBackoffMs);
      d.nextAttemptAt = new Date(this.#clock.now() + delay).toISOString();
      this.#log.warn("alert webhook delivery failed; will retry", {
        target: d.target,
        attempt: d.attempts,
        error: d.lastError,
        next_attempt_at: d.nextAttemptAt,
      });
      return;
    }
    d.state = "failed";
    d.nextAttemptAt = null;
    this.totals.failed++;
    this.#log.error("alert webhook delivery failed for good", {
      target: d.target,
      attempts: d.attempts,
      error: d.lastError,
    });
  }

  /** While deliveries are pending, look again every second (the clock decides what is due). */
  #schedule(): void {
    if (!this.#running || this.#timer !== undefined || this.pending() === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.pump();
    }, 1000);
    this.#timer.unref?.();
  }

  #trim(): void {
    const excess = this.#deliveries.length - this.#opts.keep;
    if (excess <= 0) return;
    let dropped = 0;
    this.#deliveries = this.#deliveries.filter((d) => {
      if (dropped < excess && d.state !== "pending") {
        dropped++;
        return false;
      }
      return true;
    });
  }
}
