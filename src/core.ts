/**
 * The App: one object created once (src/app.ts builds it) holding every
 * long-lived part, passed down to routes, commands and jobs — no module-level
 * singletons. This module only says what the App is, so the layers that use
 * it (server/api) never import the composition root.
 */
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Notifier } from "./notify/notifier.ts";
import type { Publisher } from "./repository/publisher.ts";
import type { Repository } from "./repository/repository.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Authenticator } from "./auth/authenticator.ts";
import type { Guard } from "./server/auth/guard.ts";
import type { PublishedMetadata } from "./server/published.ts";
import type { Leadership } from "./store/leadership.ts";
import type { Store } from "./store/store.ts";
import type { ArtifactContent } from "./storage/content.ts";
import type { DropDirectory } from "./ingest/drop-dir.ts";
import type { Clock } from "./clock.ts";
import type { Alerts } from "./alerts/alerts.ts";
import type { LatestTargets } from "./repository/latest-targets.ts";
import type { TimestampFreshness } from "./freshness.ts";

export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  readonly repo: Repository;
  readonly publisher: Publisher;
  readonly scheduler: Scheduler;
  /** who presented a token: tufbox tokens, the admin token, JWT, OAuth2 introspection */
  readonly auth: Authenticator;
  /** the route → scope check in front of every API route */
  readonly guard: Guard;
  readonly metadata: PublishedMetadata;
  /** tells other replicas about accepted changes and new publications (in-process for SQLite) */
  readonly notifier: Notifier;
  /** whether this replica runs the scheduler's jobs (always, for SQLite) */
  readonly leader: Leadership;
  /** artifact bytes tufbox stores (upload API, drop directory), by sha256 */
  readonly content: ArtifactContent;
  /** the drop directory watcher (ingest.drop_dir), when configured */
  readonly dropDir: DropDirectory | null;
  /** the one clock every expiry decision reads (real unless a test drives it) */
  readonly clock: Clock;
  /** alerts before anything lapses: metrics, /readyz, dashboard, status, webhooks */
  readonly alerts: Alerts;
  /** the latest top-level targets, parsed once per version */
  readonly latestTargets: LatestTargets;
  /** keeps an expired timestamp from being served (freshness.ts) */
  readonly freshness: TimestampFreshness;
}

export interface RunningApp extends App {
  readonly url: string;
  /** admin token generated at first start (print once), or null */
  readonly generatedToken: string | null;
  stop(): Promise<void>;
}
