/**
 * GET /api/v1/roles and /api/v1/roles/history: every top-level role and
 * custom delegation with its version, expiry, keys and threshold, the hash
 * bins summarised (16384 rows would say nothing), the publisher and health —
 * what the dashboard's Overview and Expiry timeline draw.
 */
import type { App } from "../../core.ts";
import { isOfflineDelegation } from "../../alerts/sources.ts";
import { CLIENT_MAX_BYTES } from "../../tuf/limits.ts";
import { TOP_LEVEL_ROLES, isTopLevelRole } from "../../tuf/roles.ts";
import { effectiveResignWindowMs } from "../../scheduler.ts";
import { binsAdviceOf } from "./bins-advice.ts";

export interface RoleView {
  name: string;
  kind: "top-level" | "delegated";
  version: number;
  expires: string;
  expires_in_seconds: number;
  signing: "online" | "offline";
  keyids: string[];
  threshold: number;
  /** offline roles: days before expiry at which tufbox alerts */
  alert_days?: number;
  paths?: string[];
}

function secondsUntil(expires: string, now: Date): number {
  return Math.round((new Date(expires).getTime() - now.getTime()) / 1000);
}

export async function rolesOverview(app: App) {
  const now = new Date(app.clock.now());
  const repo = app.repo;
  const heads = new Map(repo.heads().map((h) => [h.role, h]));
  const root = repo.root?.signed;
  const onlineKeyId = repo.settings?.onlineKeyId;
  // Each online role may have a key of its own (issue 17): keyids only, never key material.
  const onlineKeys = repo.onlineKeys();
  const onlineIds = repo.onlineKeyIds();
  const days = app.config.alerts.offline_expiry_days;
  const roles: RoleView[] = [];
  for (const name of TOP_LEVEL_ROLES) {
    const head = heads.get(name);
    if (!head || !root) continue;
    roles.push({
      name,
      kind: "top-level",
      version: head.version,
      expires: head.expires,
      expires_in_seconds: secondsUntil(head.expires, now),
      signing: name === "root" ? "offline" : "online",
      keyids: root.roles[name].keyids,
      threshold: root.roles[name].threshold,
      ...(name === "root" ? { alert_days: days.root ?? 30 } : {}),
    });
  }
  const targets = await app.latestTargets.get(heads.get("targets")?.version);
  for (const r of targets?.delegations?.roles ?? []) {
    const head = heads.get(r.name);
    if (!head) continue;
    const offline = isOfflineDelegation(r, onlineIds);
    roles.push({
      name: r.name,
      kind: "delegated",
      version: head.version,
      expires: head.expires,
      expires_in_seconds: secondsUntil(head.expires, now),
      signing: offline ? "offline" : "online",
      keyids: r.keyids,
      threshold: r.threshold,
      ...(offline ? { alert_days: days[r.name] ?? days.default ?? 14 } : {}),
      ...(r.paths ? { paths: r.paths } : {}),
    });
  }
  const bins = repo.binsOf();
  let binsView: Record<string, unknown> | null = null;
  if (bins && repo.settings?.bins) {
    let count = 0;
    let minVersion = Infinity;
    let maxVersion = 0;
    let soonest: { role: string; expires: string } | undefined;
    let latest: { role: string; expires: string } | undefined;
    for (const h of heads.values()) {
      if (!bins.isBin(h.role)) continue;
      count++;
      minVersion = Math.min(minVersion, h.version);
      maxVersion = Math.max(maxVersion, h.version);
      if (!soonest || h.expires < soonest.expires) soonest = h;
      if (!latest || h.expires > latest.expires) latest = h;
    }
    binsView = {
      count: repo.settings.bins.count,
      published: count,
      prefix: repo.settings.bins.prefix,
      bit_length: repo.settings.bins.bitLength,
      keyids: onlineKeys.bins ? [onlineKeys.bins] : [],
      threshold: 1,
      signing: "online",
      expiration_days: repo.settings.expiration.bins,
      versions: count ? { min: minVersion, max: maxVersion } : null,
      soonest: soonest ? { ...soonest, expires_in_seconds: secondsUntil(soonest.expires, now) } : null,
      latest: latest ? { ...latest, expires_in_seconds: secondsUntil(latest.expires, now) } : null,
    };
  }
  const largest = repo.largestTargetsRole();
  const [store, pending, binsAdvice, pause] = await Promise.all([
    app.store.ping().catch(() => false),
    app.store.countPendingChanges().catch(() => null),
    binsAdviceOf(app),
    repo.publisherState().catch(() => null),
  ]);
  const expired = roles.filter((r) => r.expires_in_seconds <= 0).map((r) => r.name);
  const binsLeft = (binsView?.soonest as { expires_in_seconds: number } | null | undefined)?.expires_in_seconds;
  if (binsLeft !== undefined && binsLeft <= 0) expired.push("bins");
  const lastError = app.publisher.lastError;
  return {
    now: now.toISOString(),
    bootstrapped: repo.bootstrapped,
    bootstrap_state: repo.bootstrapRecord?.state ?? null,
    online_keyid: onlineKeyId ?? null,
    online_keys: onlineKeys,
    consistent_snapshot: repo.settings?.consistentSnapshot ?? null,
    resign_window_seconds: Math.round(
      effectiveResignWindowMs({
        periodSeconds: app.config.scheduler.period_seconds,
        resignWindowHours: app.config.scheduler.resign_window_hours,
        taskRetentionHours: app.config.tasks.retention_hours,
      }) / 1000,
    ),
    roles,
    bins: binsView,
    largest_targets_role: largest ? { ...largest, client_limit: CLIENT_MAX_BYTES.targets } : null,
    bins_advice: binsAdvice,
    publisher: {
      // Paused (repository/pause.ts): changes queue up; online roles are still re-signed.
      state: lastError ? "failing" : pause?.paused ? "paused" : (pending ?? 0) > 0 ? "publishing" : "idle",
      paused: pause?.paused ?? null,
      paused_since: pause?.since ?? null,
      paused_by: pause?.by ?? null,
      paused_reason: pause?.reason ?? null,
      pending_changes: pending,
      batches: app.publisher.batches,
      last_error: lastError,
    },
    health: {
      store,
      bootstrapped: repo.bootstrapped,
      expired_roles: expired,
      ready: store && repo.bootstrapped && expired.length === 0,
      scheduler_leader: app.scheduler.leading,
    },
  };
}

/**
 * Versions over time of each top-level role, each custom delegation, and the
 * bin that expires first (standing for all bins): each version is a bar from
 * its publication to its expiry, so re-signing shows as overlapping bars.
 */
export async function rolesHistory(app: App, limit: number) {
  const heads = app.repo.heads();
  const bins = app.repo.binsOf();
  const names: { name: string; label: string }[] = TOP_LEVEL_ROLES.filter((r) => heads.some((h) => h.role === r)).map(
    (r) => ({ name: r, label: r }),
  );
  const delegated = heads.filter((h) => !isTopLevelRole(h.role) && !bins?.isBin(h.role));
  for (const h of delegated.slice(0, 50)) names.push({ name: h.role, label: h.role });
  if (bins) {
    const soonest = heads.filter((h) => bins.isBin(h.role)).sort((a, b) => (a.expires < b.expires ? -1 : 1))[0];
    if (soonest) names.push({ name: soonest.role, label: `bins (${soonest.role}, first to expire)` });
  }
  const roles = await Promise.all(
    names.map(async ({ name, label }) => ({
      name,
      label,
      versions: (await app.store.listRoleVersions(name, limit)).map((v) => ({
        version: v.version,
        expires: v.expires,
        published_at: v.publishedAt,
      })),
    })),
  );
  return { now: new Date(app.clock.now()).toISOString(), roles };
}
