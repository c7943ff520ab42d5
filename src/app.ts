/**
 * The composition root: creates the App (src/core.ts says what it holds)
 * once, from the configuration, wires its parts together, starts them in
 * order and stops them in the reverse order. Only main's commands (serve,
 * quickstart) and tests import this file; everything else gets the App passed down.
 */
import type { App, RunningApp } from "./core.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { openStore } from "./store/index.ts";
import { metadataFileName, parseMetadataFileName } from "./tuf/file-names.ts";
import { isTopLevelRole } from "./tuf/roles.ts";
import { OnlineKeys } from "./repository/online-key.ts";
import { Repository } from "./repository/repository.ts";
import { Publisher } from "./repository/publisher.ts";
import { Scheduler } from "./scheduler.ts";
import { Authenticator, type AuthOptions } from "./auth/authenticator.ts";
import { Guard } from "./server/auth/guard.ts";
import { createApi } from "./server/api/index.ts";
import { PublishedMetadata } from "./server/published.ts";
import { closeTimestampEvents } from "./server/events.ts";
import { startHttpServer, type HttpServer } from "./server/http.ts";
import { SystemClock, type Clock } from "./clock.ts";
import { TimestampFreshness } from "./freshness.ts";
import { listenError, prepareDataDir, resignWindowWarnings } from "./startup.ts";
import { isSignedByOnlineKey } from "./tuf/roles.ts";
import { createNotifier, type Notifier } from "./notify/index.ts";
import { LocalLeadership, type Leadership } from "./store/leadership.ts";
import { PostgresLeadership } from "./store/postgres/leadership.ts";
import { createStorage } from "./storage/index.ts";
import { ArtifactContent } from "./storage/content.ts";
import { collectContent, defaultGraceMs, describeGc } from "./storage/gc.ts";
import { DropDirectory } from "./ingest/drop-dir.ts";
import { createAlerts } from "./alerts/index.ts";
import { LatestTargets } from "./repository/latest-targets.ts";

export interface AppOptions {
  /** default: the system clock */
  clock?: Clock;
}

/** The bound listener, before the App serves: requests answer 503 until startApp hands them over. */
export interface Listener {
  readonly http: HttpServer;
  /** `source` is the client address (the guard limits failed authentications by it) */
  serve(handler: (req: Request, source?: string) => Response | Promise<Response>): void;
}

/** Open the store and load the repository; nothing listens yet. */
export async function createApp(config: Config, log: Logger, opts: AppOptions = {}): Promise<App> {
  const clock = opts.clock ?? new SystemClock();
  prepareDataDir(config, log);
  const store = await openStore(config.database, { server: true });
  const metadata = new PublishedMetadata({
    // Bins and delegated roles are served from a byte-bounded cache over the store.
    resident: isTopLevelRole,
    cacheBytes: 48 * 1024 * 1024,
    loader: async (name) => {
      if (name === "timestamp.json") return (await store.getLatestDocument("timestamp"))?.bytes;
      if (name === "root.json") return (await store.getLatestDocument("root"))?.bytes;
      const parsed = parseMetadataFileName(name);
      if (!parsed || parsed.version === null || parsed.role === "timestamp") return undefined;
      return (await store.getDocument(parsed.role, parsed.version))?.bytes;
    },
    lister: async () => {
      const docs = await store.listDocuments();
      const names = docs.filter((d) => d.role !== "timestamp").map((d) => metadataFileName(d.role, d.version));
      if (docs.some((d) => d.role === "timestamp")) names.push("timestamp.json");
      if (docs.some((d) => d.role === "root")) names.push("root.json");
      return names;
    },
  });
  const onlineKeys = new OnlineKeys({ dir: config.online_key_dir, pem: config.online_key ?? undefined });
  const repo = new Repository({
    store,
    onlineKeys,
    sink: metadata,
    log: log.child({ component: "repository" }),
    maxBatch: config.publisher.max_batch,
    now: () => new Date(clock.now()),
  });
  await repo.open();
  const publisher = new Publisher(repo, log.child({ component: "publisher" }), {
    lingerMs: config.publisher.linger_ms,
    pollMs: config.publisher.poll_ms,
    maxBatch: config.publisher.max_batch,
    maxGatherMs: config.publisher.burst_wait_ms,
  });
  const notifier = createNotifier({
    database: config.database,
    redis: config.redis,
    storeKind: store.kind,
    log: log.child({ component: "notify" }),
  });
  wireNotifier(repo, publisher, notifier, log);
  const leader: Leadership =
    store.kind === "postgres"
      ? new PostgresLeadership(config.database, log.child({ component: "scheduler" }))
      : new LocalLeadership();
  const scheduler = new Scheduler(
    { repo, store, log: log.child({ component: "scheduler" }), leader, clock },
    {
      periodSeconds: config.scheduler.period_seconds,
      resignWindowHours: config.scheduler.resign_window_hours,
      taskRetentionHours: config.tasks.retention_hours,
      retentionGraceHours: config.retention.grace_hours,
      auditRetentionDays: config.audit.retention_days,
    },
  );
  const auth = new Authenticator(store, authOptions(config));
  const guard = new Guard({ auth, log: log.child({ component: "auth" }), metricsPublic: config.auth.metrics_public });
  const storage = createStorage(config.storage);
  await storage.open();
  const content = new ArtifactContent(storage, store.contents, {
    hashes: config.storage.hashes,
    maxUploadBytes: config.limits.max_upload_bytes,
  });
  const gcLog = log.child({ component: "storage" });
  scheduler.register(
    "gc-artifact-content",
    "delete stored artifact bytes no artifact has listed for the grace period (storage.gc_grace_hours), and stale upload staging files",
    async () =>
      describeGc(
        await collectContent(
          { store, content, log: gcLog },
          {
            graceMs:
              config.storage.gc_grace_hours !== null
                ? config.storage.gc_grace_hours * 3_600_000
                : defaultGraceMs(repo.settings?.expiration),
          },
        ),
      ),
    Math.max(config.scheduler.period_seconds, 600),
  );
  const dropDir =
    config.ingest.drop_dir === null
      ? null
      : new DropDirectory(
          { store, repo, content, log: log.child({ component: "drop-dir" }) },
          { dir: config.ingest.drop_dir, scanSeconds: config.ingest.scan_seconds, parallel: config.ingest.parallel },
        );
  const freshness = new TimestampFreshness({ clock, repo, scheduler });
  const latestTargets = new LatestTargets(store);
  const alerts = createAlerts({
    config,
    clock,
    log: log.child({ component: "alerts" }),
    store,
    repo,
    publisher,
    scheduler,
    latestTargets,
  });
  return {
    config,
    log,
    store,
    repo,
    publisher,
    scheduler,
    auth,
    guard,
    metadata,
    notifier,
    leader,
    clock,
    alerts,
    latestTargets,
    freshness,
    content,
    dropDir,
  };
}

function authOptions(config: Config): AuthOptions {
  const a = config.auth;
  const { oauth, jwt } = a;
  return {
    adminToken: a.admin_token,
    disabled: a.insecure_disable,
    failures: { max: a.failures.max, windowSeconds: a.failures.window_seconds },
    scopeNames: {
      read: a.scope_names.read,
      "artifacts:write": a.scope_names.artifacts_write,
      "metadata:sign": a.scope_names.metadata_sign,
      admin: a.scope_names.admin,
    },
    // loadConfig refuses a URL without its companions, so these are all set together.
    oauth: oauth.introspection_url
      ? {
          url: oauth.introspection_url,
          clientId: oauth.client_id!,
          clientSecret: oauth.client_secret!,
          audience: oauth.audience,
          cacheSeconds: oauth.cache_seconds,
          timeoutMs: oauth.timeout_ms,
        }
      : null,
    jwt: jwt.jwks_url
      ? {
          jwksUrl: jwt.jwks_url,
          issuer: jwt.issuer!,
          audience: jwt.audience!,
          algorithms: jwt.algorithms,
          clockSkewSeconds: jwt.clock_skew_seconds,
          refreshCooldownSeconds: jwt.jwks_refresh_cooldown_seconds,
          timeoutMs: jwt.timeout_ms,
        }
      : null,
  };
}

/**
 * Bind the port (TLS loaded) before anything is generated or bootstrapped:
 * a taken port or a bad certificate stops start-up with nothing changed.
 * Until `serve` is called the API answers 503; metadata is served as soon as
 * there is any.
 */
export function listen(app: App): Listener {
  const { config } = app;
  let handler: ((req: Request, source?: string) => Response | Promise<Response>) | null = null;
  let http: HttpServer;
  try {
    http = startHttpServer({
      hostname: config.listen.host,
      port: config.listen.port,
      metadata: app.metadata,
      targetsDir: config.targets.serve ? config.targets.dir : undefined,
      content: config.targets.serve ? app.content : undefined,
      log: app.log.child({ component: "http" }),
      api: (req, source) => (handler ? handler(req, source) : starting(req)),
      tls: config.tls.cert && config.tls.key ? { cert: config.tls.cert, key: config.tls.key } : undefined,
      // Our handlers answer a JSON 413 naming the limit; Bun's own cut-off is only a backstop
      // (uploads stream their bodies, so a large limit holds nothing in memory).
      maxRequestBodySize:
        Math.max(config.limits.max_body_bytes * 2, config.limits.max_upload_bytes + 64 * 1024) + 1024 * 1024,
      idleTimeoutSeconds: config.limits.idle_timeout_seconds,
      bodyDeadline: {
        timeoutMs: config.limits.body_timeout_seconds * 1000,
        minBytesPerSecond: config.limits.upload_min_bytes_per_second,
      },
      maxRequestsPerSource: config.limits.max_connections_per_source,
      freshness: app.freshness,
    });
  } catch (err) {
    throw listenError(err, config);
  }
  return {
    http,
    serve(h) {
      handler = h;
    },
  };
}

/**
 * Replicas tell each other (notify/notifier.ts): a local accept wakes every
 * publisher; a local publication makes every replica catch up at once. Only
 * hints: the poll does the same work, later.
 */
function wireNotifier(repo: Repository, publisher: Publisher, notifier: Notifier, log: Logger): void {
  repo.onWake((reason) => {
    if (reason === "accepted") notifier.announceChange();
  });
  repo.onPublished((version) => notifier.announcePublished(version));
  notifier.onWake(() => publisher.wake());
  notifier.onPublished((version) => {
    if (version <= repo.timestampVersion) return;
    repo.syncFromStore().catch((err) => {
      // The poll tries again shortly.
      log.debug("could not catch up after a notification", { error: err instanceof Error ? err.message : String(err) });
    });
  });
}

/** Start background work and the HTTP server (bound first, unless `listener` already is). */
export async function startApp(app: App, listener?: Listener): Promise<RunningApp> {
  const bound = listener ?? listen(app);
  const http = bound.http;
  if (app.auth.disabled)
    app.log.warn(
      "AUTHENTICATION IS DISABLED (--insecure-disable-auth): anyone who can reach this port can change the repository. Development use only.",
    );
  else app.log.info(`API authentication: ${app.auth.describe()}`);
  let generatedToken: string | null;
  try {
    generatedToken = await app.auth.init();
    await app.notifier.start();
  } catch (err) {
    await http.stop(true);
    throw err;
  }
  app.publisher.start();
  app.scheduler.start();
  app.alerts.start();
  await app.repo.resume();
  // Catch up at once on anything that expired while the service was down
  // (the scheduler leader does, if this replica is not it).
  void app.scheduler.runIfLeader("resign-expiring");
  // Resumes directories a crash left in tuf_processing_, then watches.
  await app.dropDir?.start();
  app.freshness.watch(http);
  for (const w of startupWarnings(app)) app.log.warn(w);
  bound.serve(createApi(app));
  let stopped = false;
  return {
    ...app,
    url: http.url,
    generatedToken,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Batches under way finish first: they need the store and the repository.
      await app.dropDir?.stop();
      app.freshness.stop();
      app.scheduler.stop();
      app.alerts.stop();
      // Event streams never end by themselves; the server would wait for them.
      closeTimestampEvents(app.metadata);
      await http.stop();
      await app.publisher.stop();
      // Tasks already accepted finish (or fail cleanly) before the store closes.
      await app.repo.drain();
      await app.notifier.close();
      await app.leader.close();
      app.repo.close();
      await app.content.storage.close();
      await app.store.close();
    },
  };
}

/** Before the App serves: alive (liveness probes pass), not ready. */
function starting(req: Request): Response {
  if (new URL(req.url).pathname === "/healthz") return Response.json({ status: "starting" });
  return Response.json(
    { detail: { message: "Starting", error: "tufbox is starting; retry shortly" } },
    { status: 503, headers: { "retry-after": "1" } },
  );
}

function startupWarnings(app: App): string[] {
  const settings = app.repo.settings;
  if (!settings) return [];
  const keys = app.repo.onlineKeyIds();
  const online = app.repo.delegatedRoles.filter((r) => isSignedByOnlineKey(r, keys));
  return resignWindowWarnings(app.config, settings, online);
}
