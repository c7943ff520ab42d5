/** Prometheus text lines for alerts and webhook deliveries (appended to GET /metrics). */
import type { Alert } from "./alert.ts";
import type { WebhookSender } from "./webhooks.ts";

/** Label values escaped as the exposition format requires: backslash, quote, newline. */
function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

function family(
  out: string[],
  name: string,
  help: string,
  type: "gauge" | "counter",
  samples: [Record<string, string>, number][],
) {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [l, v] of samples) out.push(`${name}${labels(l)} ${v}`);
}

export function alertMetricLines(alerts: Alert[], webhooks: WebhookSender): string[] {
  const out: string[] = [];
  const count = (s: Alert["severity"]) => alerts.filter((a) => a.severity === s).length;
  family(out, "tufbox_alerts_active", "alerts active now, by severity", "gauge", [
    [{ severity: "critical" }, count("critical")],
    [{ severity: "warning" }, count("warning")],
  ]);
  family(
    out,
    "tufbox_alert_active",
    "1 for each active alert (kind, subject, severity)",
    "gauge",
    alerts.map((a) => [{ kind: a.kind, subject: a.subject, severity: a.severity }, 1]),
  );
  family(out, "tufbox_alert_webhooks_configured", "alert webhooks configured", "gauge", [[{}, webhooks.configured]]);
  family(out, "tufbox_alert_webhook_pending", "alert webhook deliveries waiting for a (re)try", "gauge", [
    [{}, webhooks.pending()],
  ]);
  family(out, "tufbox_alert_webhook_attempts_total", "alert webhook delivery attempts", "counter", [
    [{}, webhooks.totals.attempts],
  ]);
  family(out, "tufbox_alert_webhook_deliveries_total", "alert webhook deliveries finished, by result", "counter", [
    [{ result: "delivered" }, webhooks.totals.delivered],
    [{ result: "failed" }, webhooks.totals.failed],
  ]);
  return out;
}
