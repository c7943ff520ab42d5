/**
 * Notifications over Redis pub/sub (Bun's built-in client), for deployments
 * that configure `redis`: see notifier.ts for what the messages mean.
 *
 * Two connections: one publishes (and answers ping), one subscribes (a
 * subscribed connection can run nothing else). Bun's own reconnection is
 * turned off: a reconnected subscriber does not subscribe again by itself,
 * so on any loss both connections are dropped and this class reconnects
 * them, with backoff, until it is closed. While Redis is away, announcements
 * are skipped (not queued), errors are logged at most every 30 s, and the
 * publishers' poll keeps everything moving; nothing is lost.
 */
import { RedisClient } from "bun";
import type { Logger } from "../log.ts";
import { BaseNotifier, RateLimitedLog, errorText, withTimeout, type Notifier } from "./notifier.ts";

export interface RedisNotifierOptions {
  /** channel names start with this, e.g. "tufbox:prod" → "tufbox:prod:wake" */
  channelPrefix: string;
  /** connect timeout in ms (default 2000) */
  connectTimeoutMs?: number;
  /** first and largest pause between reconnection attempts (defaults 100 ms, 5 s) */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** how often both connections are pinged, to notice a silently dead one (default 15 s) */
  healthCheckMs?: number;
  /** how long ping() waits (default 1000 ms) */
  pingTimeoutMs?: number;
}

export class RedisNotifier extends BaseNotifier implements Notifier {
  readonly kind = "redis" as const;
  readonly #url: string;
  readonly #opts: Required<RedisNotifierOptions>;
  readonly #wakeChannel: string;
  readonly #publishedChannel: string;
  readonly #errors: RateLimitedLog;
  #pub: RedisClient | null = null;
  #sub: RedisClient | null = null;
  #closed = false;
  #connecting: Promise<void> | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #healthTimer: ReturnType<typeof setInterval> | null = null;
  #backoffMs: number;

  constructor(url: string, log: Logger, opts: RedisNotifierOptions) {
    super(log);
    this.#url = url;
    this.#opts = {
      connectTimeoutMs: 2000,
      minBackoffMs: 100,
      maxBackoffMs: 5000,
      healthCheckMs: 15_000,
      pingTimeoutMs: 1000,
      ...opts,
    };
    this.#wakeChannel = `${opts.channelPrefix}:wake`;
    this.#publishedChannel = `${opts.channelPrefix}:published`;
    this.#errors = new RateLimitedLog(log);
    this.#backoffMs = this.#opts.minBackoffMs;
  }

  /** Redis URL without its password, for messages. */
  get where(): string {
    try {
      const u = new URL(this.#url);
      if (u.password) u.password = "***";
      return u.toString();
    } catch {
      return "(unparsable Redis URL)";
    }
  }

  get connected(): boolean {
    return this.#pub?.connected === true && this.#sub?.connected === true;
  }

  async start(): Promise<void> {
    await this.#connect();
    this.#healthTimer = setInterval(() => void this.#healthCheck(), this.#opts.healthCheckMs);
    this.#healthTimer.unref?.();
  }

  announceChange(): void {
    this.#publish(this.#wakeChannel, this.wakeMessage());
  }

  announcePublished(version: number): void {
    this.#publish(this.#publishedChannel, this.publishedMessage(version));
  }

  async ping(): Promise<boolean> {
    const pub = this.#pub;
    if (!pub?.connected || !this.#sub?.connected) return false;
    return withTimeout(
      pub.ping().then((r) => r === "PONG"),
      this.#opts.pingTimeoutMs,
      false,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    this.#retryTimer = null;
    this.#healthTimer = null;
    await this.#connecting?.catch(() => undefined);
    this.#drop();
  }

  #publish(channel: string, message: string): void {
    const pub = this.#pub;
    // Skipped, not queued, while disconnected: the poll covers it.
    if (!pub?.connected) return;
    pub.publish(channel, message).catch((err) => this.#lost(err));
  }

  /** One connection attempt at a time; on failure, schedules the next. */
  #connect(): Promise<void> {
    this.#connecting ??= this.#attempt().finally(() => (this.#connecting = null));
    return this.#connecting;
  }

  async #attempt(): Promise<void> {
    if (this.#closed) return;
    const options = { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: this.#opts.connectTimeoutMs };
    const pub = new RedisClient(this.#url, options);
    const sub = new RedisClient(this.#url, options);
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe([this.#wakeChannel, this.#publishedChannel], (message, channel) =>
        this.received(channel === this.#wakeChannel ? "wake" : "published", message),
      );
    } catch (err) {
      pub.close();
      sub.close();
      this.#errors.failure(`Redis at ${this.where} is unreachable; replicas fall back to polling until it is back`, {
        error: errorText(err),
      });
      this.#scheduleRetry();
      return;
    }
    if (this.#closed) {
      pub.close();
      sub.close();
      return;
    }
    this.#pub = pub;
    this.#sub = sub;
    pub.onclose = (err) => this.#lost(err, pub);
    sub.onclose = (err) => this.#lost(err, sub);
    this.#backoffMs = this.#opts.minBackoffMs;
    this.#errors.recovered(`Redis at ${this.where} is reachable again`);
    this.log.debug("subscribed to Redis notifications", {
      redis: this.where,
      channels: [this.#wakeChannel, this.#publishedChannel],
    });
    // Whatever was announced while we were away is lost: catch up now.
    this.received("wake", null);
  }

  /** A connection failed or closed: drop both, reconnect with backoff. */
  #lost(err: unknown, client?: RedisClient): void {
    if (this.#closed) return;
    // A late close of a client already replaced is not news.
    if (client && client !== this.#pub && client !== this.#sub) return;
    if (!this.#pub && !this.#sub) return;
    this.#errors.failure(
      `lost the connection to Redis at ${this.where}; replicas fall back to polling until it is back`,
      { error: errorText(err) },
    );
    this.#drop();
    this.#scheduleRetry();
  }

  #drop(): void {
    const clients = [this.#pub, this.#sub];
    this.#pub = null;
    this.#sub = null;
    for (const c of clients) {
      if (!c) continue;
      c.onclose = null;
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#opts.maxBackoffMs);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, delay);
  }

  async #healthCheck(): Promise<void> {
    const pub = this.#pub;
    const sub = this.#sub;
    if (!pub || !sub || this.#connecting) return;
    const ok = await withTimeout(
      Promise.all([pub.ping(), sub.ping()]).then(() => true),
      this.#opts.pingTimeoutMs * 3,
      false,
    );
    if (!ok) this.#lost(new Error("Redis did not answer a ping"), pub);
  }
}
