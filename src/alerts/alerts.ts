/**
 * The alert engine: every registered source is evaluated on demand (metrics,
 * /readyz, the API, the dashboard all see the same list), and `check()` — run
 * by the scheduler leader as the `check-alerts` job — turns changes into
 * webhook deliveries: an alert that starts firing, changes severity, or
 * resolves is sent once. What was last sent is kept in the store, so a
 * restart or a new leader does not repeat every open alert.
 */
import { hostname } from "node:os";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { alert, sortAlerts, type Alert, type AlertSource } from "./alert.ts";
import { WebhookSender, type WebhookConfig } from "./webhooks.ts";

const NOTIFIED_KEY = "alerts_notified";

interface Notified {
  severity: Alert["severity"];
  summary: string;
  kind: string;
  subject: string;
  firedAt: string;
}

export interface AlertsOptions {
  clock: Clock;
  log: Logger;
  store: Store;
  webhooks: WebhookConfig[];
  webhookMaxAttempts?: number;
  webhookBackoffMs?: number;
}

export class Alerts {
  readonly #sources: AlertSource[] = [];
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store: Store;
  readonly webhooks: WebhookSender;
  #checking: Promise<string> | null = null;

  constructor(opts: AlertsOptions) {
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#store = opts.store;
    this.webhooks = new WebhookSender({
      webhooks: opts.webhooks,
      clock: opts.clock,
      log: opts.log,
      maxAttempts: opts.webhookMaxAttempts,
      backoffMs: opts.webhookBackoffMs,
    });
  }

  /** Add a source (once, at start-up): drop directory, mirror, … */
  register(source: AlertSource): void {
    this.#sources.push(source);
  }

  get sources(): readonly string[] {
    return this.#sources.map((s) => s.name);
  }

  /** What is wrong now, critical first. A source that throws becomes an alert itself. */
  async current(): Promise<Alert[]> {
    const now = new Date(this.#clock.now());
    const lists = await Promise.all(
      this.#sources.map(async (s) => {
        try {
          return await s.evaluate(now);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          this.#log.warn("alert source failed", { source: s.name, error: message });
          return [
            alert({
              kind: "alert_source_failed",
              subject: s.name,
              severity: "warning",
              summary: `could not check ${s.name}: ${message}`,
            }),
          ];
        }
      }),
    );
    return sortAlerts(lists.flat());
  }

  /**
   * Evaluate and notify changes since the last check. Concurrent calls share
   * one run. Returns a one-line summary (the job's result).
   */
  check(): Promise<string> {
    if (this.#checking) return this.#checking;
    const run = this.#check().finally(() => {
      this.#checking = null;
    });
    this.#checking = run;
    return run;
  }

  async #check(): Promise<string> {
    const alerts = await this.current();
    const before = (await this.#store.getSetting<Record<string, Notified>>(NOTIFIED_KEY)) ?? {};
    const after: Record<string, Notified> = {};
    const now = new Date(this.#clock.now()).toISOString();
    let fired = 0;
    let resolved = 0;
    for (const a of alerts) {
      const was = before[a.key];
      if (was && was.severity === a.severity) {
        after[a.key] = was;
        continue;
      }
      after[a.key] = { severity: a.severity, summary: a.summary, kind: a.kind, subject: a.subject, firedAt: now };
      fired++;
      this.#send("firing", a.key, {
        text: `[tufbox] ${a.severity.toUpperCase()}: ${a.summary}${a.hint ? `\nWhat to do: ${a.hint}` : ""}`,
        alert: a,
      });
    }
    for (const [key, was] of Object.entries(before)) {
      if (after[key]) continue;
      resolved++;
      this.#send("resolved", key, {
        text: `[tufbox] RESOLVED: ${was.summary}`,
        alert: { key, kind: was.kind, subject: was.subject, severity: was.severity, summary: was.summary },
        fired_at: was.firedAt,
      });
    }
    if (fired > 0 || resolved > 0) await this.#store.setSettings({ [NOTIFIED_KEY]: after });
    await this.webhooks.pump();
    return alerts.length === 0 && fired === 0 && resolved === 0
      ? "no alerts"
      : `${alerts.length} active; ${fired} new or changed, ${resolved} resolved${this.webhooks.configured === 0 ? " (no webhooks configured)" : ""}`;
  }

  #send(event: "firing" | "resolved", key: string, body: Record<string, unknown>): void {
    if (event === "firing") this.#log.warn(`alert: ${String(body.text)}`, { alert: key });
    else this.#log.info(`alert resolved: ${key}`, { alert: key });
    if (this.webhooks.configured === 0) return;
    this.webhooks.enqueue(event, key, {
      ...body,
      state: event,
      source: "tufbox",
      host: hostname(),
      sent_at: new Date(this.#clock.now()).toISOString(),
    });
  }

  start(): void {
    this.webhooks.start();
  }

  stop(): void {
    this.webhooks.stop();
  }
}
