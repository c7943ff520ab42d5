/** Builds the App's alert engine with tufbox's own sources (see alert.ts for plugging in more). */
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Repository } from "../repository/repository.ts";
import type { Publisher } from "../repository/publisher.ts";
import type { LatestTargets } from "../repository/latest-targets.ts";
import { effectiveResignWindowMs, type Scheduler } from "../scheduler.ts";
import type { Store } from "../store/store.ts";
import { Alerts } from "./alerts.ts";
import { builtinSources, type AlertState } from "./sources.ts";

export { Alerts } from "./alerts.ts";
export type { Alert, AlertSource, Severity } from "./alert.ts";

export function createAlerts(deps: {
  config: Config;
  clock: Clock;
  log: Logger;
  store: Store;
  repo: Repository;
  publisher: Publisher;
  scheduler: Scheduler;
  latestTargets: LatestTargets;
}): Alerts {
  const { config, repo } = deps;
  const alerts = new Alerts({
    clock: deps.clock,
    log: deps.log,
    store: deps.store,
    webhooks: config.alerts.webhooks,
    webhookMaxAttempts: config.alerts.webhook_max_attempts,
  });
  const state: AlertState = {
    bootstrapped: () => repo.bootstrapped,
    heads: () => repo.heads(),
    onlineKeyIds: () => repo.onlineKeyIds(),
    targets: () => deps.latestTargets.get(repo.heads().find((h) => h.role === "targets")?.version),
    isBin: (role) => repo.isHashBin(role),
    largestTargetsRole: () => repo.largestTargetsRole(),
    publisherError: () => deps.publisher.lastError,
    jobs: () => deps.scheduler.list(),
    resignWindowMs: effectiveResignWindowMs({
      periodSeconds: config.scheduler.period_seconds,
      resignWindowHours: config.scheduler.resign_window_hours,
      taskRetentionHours: config.tasks.retention_hours,
    }),
  };
  for (const source of builtinSources(state, config.alerts.offline_expiry_days)) alerts.register(source);
  deps.scheduler.register("check-alerts", "evaluate alerts and send webhooks for new, changed and resolved ones", () =>
    alerts.check(),
  );
  return alerts;
}
