/**
 * The composition root: creates the App (src/core.ts says what it holds)
 * once, from the configuration, wires its parts together, starts them in
 * order and stops them in the reverse order. Only main's commands (serve,
 * quickstart) and tests import this file; everything else gets the App passed down.
 */
import { mkdirSync } from "node:fs";
import type { App, RunningApp } from "./core.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { openStore } from "./store/index.ts";
import { metadataFileName, parseMetadataFileName } from "./tuf/file-names.ts";
import { OnlineKeys } from "./repository/online-key.ts";
import { Repository } from "./repository/repository.ts";
import { Publisher } from "./repository/publisher.ts";
import { Scheduler } from "./scheduler.ts";
import { Auth } from "./server/auth.ts";
import { createApi } from "./server/api/index.ts";
import { PublishedMetadata } from "./server/published.ts";
import { startHttpServer } from "./server/http.ts";
import { createNotifier, type Notifier } from "./notify/index.ts";
import { LocalLeadership, type Leadership } from "./store/leadership.ts";
import { PostgresLeadership } from "./store/postgres/leadership.ts";
import { createStorage } from "./storage/index.ts";
import { ArtifactContent } from "./storage/content.ts";
import { collectContent, defaultGraceMs, describeGc } from "./storage/gc.ts";
import { DropDirectory } from "./ingest/drop-dir.ts";

/** Open the store and load the repository; nothing listens yet. */
export async function createApp(config: Config, log: Logger): Promise<App> {
  mkdirSync(config.data_dir, { recursive: true });
  const store = await openStore(config.database);
  const metadata = new PublishedMetadata({
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
  });
  await repo.open();
  const publisher = new Publisher(repo, log.child({ component: "publisher" }), {
    lingerMs: config.publisher.linger_ms,
    pollMs: config.publisher.poll_ms,
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
    { repo, store, log: log.child({ component: "scheduler" }), leader },
    {
      periodSeconds: config.scheduler.period_seconds,
      resignWindowHours: config.scheduler.resign_window_hours,
      taskRetentionHours: config.tasks.retention_hours,
    },
  );
  const auth = new Auth(store, { adminToken: config.auth.admin_token, disabled: config.auth.insecure_disable });
  const storage = createStorage(config.storage);
  await storage.open();
  const content = new ArtifactContent(storage, store.contents, {
    hashes: config.storage.hashes,
    maxUploadBytes: config.limits.max_upload_bytes,
  });
  const gcLog = log.child({ component: "storage" });
  scheduler.register({
    name: "gc-artifact-content",
    description:
      "delete stored artifact bytes no artifact has listed for the grace period (storage.gc_grace_hours), and stale upload staging files",
    periodSeconds: Math.max(config.scheduler.period_seconds, 600),
    run: async () =>
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
  });
  const dropDir =
    config.ingest.drop_dir === null
      ? null
      : new DropDirectory(
          { store, repo, content, log: log.child({ component: "drop-dir" }) },
          { dir: config.ingest.drop_dir, scanSeconds: config.ingest.scan_seconds, parallel: config.ingest.parallel },
        );
  return { config, log, store, repo, publisher, scheduler, auth, metadata, notifier, leader, content, dropDir };
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

/** Start background work and the HTTP server. */
export async function startApp(app: App): Promise<RunningApp> {
  const generatedToken = await app.auth.init(app.log);
  await app.notifier.start();
  app.publisher.start();
  app.scheduler.start();
  await app.repo.resume();
  // Catch up at once on anything that expired while the service was down
  // (the scheduler leader does, if this replica is not it).
  void app.scheduler.runIfLeader("resign-expiring");
  // Resumes directories a crash left in tuf_processing_, then watches.
  await app.dropDir?.start();
  const api = createApi(app);
  const { config } = app;
  const http = startHttpServer({
    hostname: config.listen.host,
    port: config.listen.port,
    metadata: app.metadata,
    targetsDir: config.targets.serve ? config.targets.dir : undefined,
    content: config.targets.serve ? app.content : undefined,
    api,
    tls: config.tls.cert && config.tls.key ? { cert: config.tls.cert, key: config.tls.key } : undefined,
    // Our handlers answer a JSON 413 naming the limit; Bun's own cut-off is only a backstop
    // (uploads stream their bodies, so a large limit holds nothing in memory).
    maxRequestBodySize:
      Math.max(config.limits.max_body_bytes * 2, config.limits.max_upload_bytes + 64 * 1024) + 1024 * 1024,
  });
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
      app.scheduler.stop();
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
