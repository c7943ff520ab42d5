/** Dates, sizes and urgency, as the dashboard shows them. */

const DAY = 86_400;

/** "in 29 d 4 h", "in 5 h 12 min", "expired 2 h ago" */
export function countdown(seconds: number): string {
  const abs = Math.abs(seconds);
  const d = Math.floor(abs / DAY);
  const hr = Math.floor((abs % DAY) / 3600);
  const min = Math.floor((abs % 3600) / 60);
  const s = Math.floor(abs % 60);
  const text =
    d >= 2
      ? `${d} d${d < 30 && hr ? ` ${hr} h` : ""}`
      : abs >= 3600
        ? `${d * 24 + hr} h ${min} min`
        : `${min} min ${s} s`;
  return seconds > 0 ? `in ${text}` : `expired ${text} ago`;
}

export type Urgency = "ok" | "warn" | "critical";

/**
 * Offline roles: warn inside their alert window (alerts.offline_expiry_days),
 * critical in its last quarter. Online roles are re-signed by the server:
 * only worry once less than half the re-sign window is left.
 */
export function urgency(
  seconds: number,
  role: { signing: "online" | "offline"; alert_days?: number },
  resignWindow: number,
): Urgency {
  if (seconds <= 0) return "critical";
  if (role.signing === "offline") {
    const window = (role.alert_days ?? 14) * DAY;
    if (seconds <= window / 4) return "critical";
    return seconds <= window ? "warn" : "ok";
  }
  if (seconds <= 600) return "critical";
  return seconds <= resignWindow / 2 ? "warn" : "ok";
}

export const URGENCY_LABEL: Record<Urgency, string> = { ok: "ok", warn: "soon", critical: "urgent" };

export function bytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** "2026-11-30 14:05:09 UTC" */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function ago(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return "never";
  const s = Math.round((nowMs - new Date(iso).getTime()) / 1000);
  if (s < 0) return countdown(-s);
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.floor(s / 60)} min ago`;
  if (s < 2 * DAY) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / DAY)} days ago`;
}

export function shortId(id: string, n = 12): string {
  return id.length > n ? `${id.slice(0, n)}…` : id;
}
