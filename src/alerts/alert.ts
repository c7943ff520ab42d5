/**
 * An alert: something an operator must act on before it becomes an outage
 * (DESIGN.md "Published metadata never expires while the service runs" —
 * except for what only a human can sign). Alerts are computed, not stored:
 * each source looks at the current state and says what is wrong now; the
 * engine (alerts.ts) turns changes into webhook deliveries.
 *
 * Plugging in a new kind (the drop directory's failed batches, a stale
 * mirror): implement `AlertSource` and call `app.alerts.register(source)`
 * once at start-up. Its alerts then reach every channel — the
 * `tufbox_alert_active` metric, /readyz `warnings`, the dashboard banner,
 * `tufbox status` and the webhooks — with nothing else to wire.
 */

export type Severity = "warning" | "critical";

/** Kinds known today; sources may add their own (snake_case, stable: they are metric labels). */
export type AlertKind =
  | "offline_role_expiring"
  | "online_role_overdue"
  | "publisher_failing"
  | "job_failing"
  | "targets_role_near_cap"
  | "drop_dir_failed"
  | "mirror_stale"
  | "alert_source_failed"
  | (string & {});

export interface Alert {
  /** stable identity across evaluations: `${kind}:${subject}` */
  key: string;
  kind: AlertKind;
  severity: Severity;
  /** what it is about: a role, a job, a directory, an upstream */
  subject: string;
  /** one line for humans, also the webhook's `text` */
  summary: string;
  /** what to do about it */
  hint?: string;
  /** the number the alert is about (seconds left, bytes, failed batches…) */
  value?: number;
  /** when the condition started, if the source knows (ISO) */
  since?: string;
}

export interface AlertSource {
  /** for logs and the alert_source_failed alert */
  readonly name: string;
  /** what is wrong at `now`; an empty list when all is well. Must not throw for ordinary states. */
  evaluate(now: Date): Alert[] | Promise<Alert[]>;
}

export function alert(a: Omit<Alert, "key">): Alert {
  return { key: `${a.kind}:${a.subject}`, ...a };
}

const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, warning: 1 };

/** critical first, then by kind and subject: a stable order for every channel */
export function sortAlerts(alerts: Alert[]): Alert[] {
  return alerts.sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
      (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0),
  );
}

/** "29 days", "5 h", "12 min" */
export function duration(seconds: number): string {
  const abs = Math.abs(seconds);
  if (abs >= 2 * 86_400) return `${Math.floor(abs / 86_400)} days`;
  if (abs >= 2 * 3600) return `${Math.floor(abs / 3600)} h`;
  if (abs >= 120) return `${Math.floor(abs / 60)} min`;
  return `${Math.floor(abs)} s`;
}
