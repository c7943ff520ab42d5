/**
 * Notifications over PostgreSQL LISTEN/NOTIFY, for replicas on PostgreSQL
 * without Redis: see notifier.ts for what the messages mean.
 *
 * Its own small client (not the store's pool): Bun keeps LISTEN on one
 * dedicated connection, reconnects it with backoff and subscribes again by
 * itself (`onlisten` runs after every reconnection; we then catch up, since
 * notifications sent meanwhile are lost). NOTIFY goes through one pooled
 * connection. Channels are per database; the schema (search_path) is part of
 * their names so two tufbox instances in one database stay apart.
 */
import { SQL } from "bun";
import type { Logger } from "../log.ts";
import { BaseNotifier, RateLimitedLog, errorText, type Notifier } from "./notifier.ts";

type Subscription = Awaited<ReturnType<SQL["listen"]>>;

export class PostgresNotifier extends BaseNotifier implements Notifier {
  readonly kind = "postgres" as const;
  readonly #sql: SQL;
  readonly #wakeChannel: string;
  readonly #publishedChannel: string;
  readonly #errors: RateLimitedLog;
  #subscriptions: Subscription[] = [];
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #listening = false;

  constructor(url: string, log: Logger) {
    super(log);
    this.#sql = new SQL(url, { max: 1, connectionTimeout: 5 });
    const schema =
      new URL(url).searchParams
        .get("search_path")
        ?.split(",")[0]
        ?.trim()
        .replace(/[^A-Za-z0-9_]/g, "_") ?? "";
    const suffix = schema ? `_${schema}`.slice(0, 40) : "";
    this.#wakeChannel = `tufbox_wake${suffix}`;
    this.#publishedChannel = `tufbox_published${suffix}`;
    this.#errors = new RateLimitedLog(log);
  }

  async start(): Promise<void> {
    try {
      let first = true;
      const onlisten = () => {
        this.#listening = true;
        this.#errors.recovered("listening for PostgreSQL notifications again");
        // After a reconnection: whatever was announced meanwhile is lost.
        if (!first) this.received("wake", null);
      };
      this.#subscriptions.push(await this.#sql.listen(this.#wakeChannel, (m) => this.received("wake", m), onlisten));
      this.#subscriptions.push(await this.#sql.listen(this.#publishedChannel, (m) => this.received("published", m)));
      first = false;
    } catch (err) {
      // The store opened a moment ago, so this is rare: retry in the background.
      this.#errors.failure("cannot LISTEN for PostgreSQL notifications; replicas rely on polling until it works", {
        error: errorText(err),
      });
      await this.#unlisten();
      if (!this.#closed) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          void this.start();
        }, 5000);
      }
    }
  }

  announceChange(): void {
    this.#notify(this.#wakeChannel, this.wakeMessage());
  }

  announcePublished(version: number): void {
    this.#notify(this.#publishedChannel, this.publishedMessage(version));
  }

  /** The store's own ping covers the database; this only says whether LISTEN was set up. */
  async ping(): Promise<boolean> {
    return this.#listening;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    await this.#unlisten();
    await this.#sql.close({ timeout: 2 });
  }

  #notify(channel: string, message: string): void {
    if (this.#closed) return;
    this.#sql.notify(channel, message).then(
      () => this.#errors.recovered("PostgreSQL notifications are sent again"),
      (err) =>
        this.#errors.failure("could not send a PostgreSQL notification; replicas rely on polling", {
          error: errorText(err),
        }),
    );
  }

  async #unlisten(): Promise<void> {
    const subs = this.#subscriptions;
    this.#subscriptions = [];
    this.#listening = false;
    await Promise.all(subs.map((s) => s.unlisten().catch(() => undefined)));
  }
}
