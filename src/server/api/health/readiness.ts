/**
 * What /readyz reports (issue 10): the service is ready when the store
 * answers, the repository is bootstrapped, nothing it serves has expired, and
 * accepted changes are being published. A publisher that keeps failing (a
 * setting that cannot be signed, an online key that went missing) used to
 * leave /readyz at 200 while every accepted artifact waited forever.
 * Everything is computed live, so readiness comes back by itself once the
 * cause is fixed.
 *
 * A paused publisher (repository/pause.ts) is ready: it serves metadata and
 * targets, accepts changes (202) and keeps re-signing before expiry, which is
 * all a load balancer routes to it for; taking every replica out of rotation
 * because an operator paused publication would turn a maintenance step into
 * an outage. /readyz says `checks.publisher.paused` instead, and the queue
 * that grows meanwhile is not reported as a stalled publisher.
 */
import type { App } from "../../../core.ts";

/** Failed publish attempts in a row after which the publisher counts as failing (it retries about once a second). */
export const PUBLISHER_FAILING_ATTEMPTS = 3;
/** How long accepted changes may wait while the publisher does nothing before readiness reports it. */
export const PUBLISH_STALL_MS = 60_000;

export interface Readiness {
  ready: boolean;
  /** why not, one line each (empty when ready) */
  reasons: string[];
  checks: Record<string, unknown>;
}

export async function readiness(app: App): Promise<Readiness> {
  const [store, redis, pending, pause] = await Promise.all([
    app.store.ping().catch(() => false),
    app.config.redis ? app.notifier.ping().catch(() => false) : Promise.resolve(undefined),
    app.store.countPendingChanges().catch(() => null),
    app.repo.publisherState().catch(() => null),
  ]);
  const reasons: string[] = [];
  const bootstrapped = app.repo.bootstrapped;
  const now = app.clock.now();
  const expired = app.repo
    .heads()
    .filter((h) => new Date(h.expires).getTime() <= now)
    .map((h) => h.role);
  if (!store) reasons.push("the store does not answer");
  if (!bootstrapped) reasons.push("not bootstrapped");
  if (expired.length > 0)
    reasons.push(`expired: ${expired.slice(0, 5).join(", ")}${expired.length > 5 ? `, … (${expired.length})` : ""}`);
  const publisher = app.publisher;
  if (publisher.failures >= PUBLISHER_FAILING_ATTEMPTS)
    reasons.push(`publishing keeps failing (${publisher.failures} attempts in a row): ${publisher.lastError}`);
  else if (pending !== null && pending > 0 && !publisher.busy && !pause?.paused) {
    const idleMs = performance.now() - publisher.lastSuccessAt;
    if (idleMs > PUBLISH_STALL_MS)
      reasons.push(`${pending} accepted change(s) not published for ${Math.round(idleMs / 1000)} s`);
  }
  const checks: Record<string, unknown> = {
    store,
    bootstrapped,
    expired_roles: expired.slice(0, 20),
    pending_changes: pending,
    publisher: {
      failing_attempts: publisher.failures,
      last_error: publisher.lastError,
      paused: pause?.paused ?? null,
      paused_since: pause?.since ?? null,
    },
  };
  if (redis !== undefined) checks.redis = redis;
  return { ready: reasons.length === 0, reasons, checks };
}
