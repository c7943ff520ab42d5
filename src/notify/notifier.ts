/**
 * Notifications between replicas (DESIGN.md "Storage and scale-out"): two
 * messages, both mere hints that make things happen sooner.
 *
 * - "wake": a replica accepted a change; every replica's publisher wakes up
 *   at once instead of at its next poll (whoever gets the publisher lock
 *   publishes it).
 * - "published N": a replica published timestamp version N; every replica
 *   catches up (Repository.syncFromStore) within milliseconds, so all of them
 *   serve the new metadata.
 *
 * Correctness never depends on them: the queue, the documents and the
 * publisher lock live in the database, and the publisher's poll picks up
 * whatever a lost message missed. Implementations:
 * - LocalNotifier (local.ts): one process (SQLite), nothing to tell anyone;
 * - PostgresNotifier (postgres.ts): LISTEN/NOTIFY on the store's database;
 * - RedisNotifier (redis.ts): Redis pub/sub, when `redis` is configured.
 */
import type { Logger } from "../log.ts";

export interface Notifier {
  /** "local", "postgres" (LISTEN/NOTIFY) or "redis" */
  readonly kind: "local" | "postgres" | "redis";
  /**
   * Connect and subscribe. Never fails because the backend is unreachable:
   * that is logged and retried in the background (the poll covers meanwhile).
   */
  start(): Promise<void>;
  /** Tell the other replicas that a change was accepted (fire and forget). */
  announceChange(): void;
  /** Tell the other replicas that this one published timestamp `version` (fire and forget). */
  announcePublished(version: number): void;
  /**
   * Another replica accepted a change; also called once after every
   * (re)connection, since messages sent while disconnected are lost.
   */
  onWake(listener: () => void): void;
  /** Another replica published timestamp `version`. */
  onPublished(listener: (version: number) => void): void;
  /** Is the backend reachable right now? (/readyz reports it for Redis.) */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Listener lists and the message format every implementation shares. */
export abstract class BaseNotifier {
  /** tells this process's own messages apart from the others' (pub/sub echoes them back) */
  protected readonly origin = crypto.randomUUID().slice(0, 8);
  readonly #wake: (() => void)[] = [];
  readonly #published: ((version: number) => void)[] = [];
  protected readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  onWake(listener: () => void): void {
    this.#wake.push(listener);
  }

  onPublished(listener: (version: number) => void): void {
    this.#published.push(listener);
  }

  protected wakeMessage(): string {
    return this.origin;
  }

  protected publishedMessage(version: number): string {
    return `${this.origin} ${version}`;
  }

  /** A "wake" message arrived (or we reconnected and may have missed some). */
  protected received(kind: "wake" | "published", message: string | null): void {
    let version = 0;
    if (message !== null) {
      const [origin, v] = message.split(" ");
      if (origin === this.origin) return;
      version = Number(v ?? 0);
      if (kind === "published" && !(Number.isSafeInteger(version) && version > 0)) return;
    }
    const listeners = kind === "wake" ? this.#wake : this.#published;
    for (const l of listeners) {
      try {
        if (kind === "wake") (l as () => void)();
        else (l as (v: number) => void)(version);
      } catch (err) {
        this.log.error("notification listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
}

/**
 * Logs a recurring failure once, then at most once per `everyMs` with the
 * number of repeats in between, and once more when it clears: an outage of a
 * helper service must not flood the log.
 */
export class RateLimitedLog {
  readonly #log: Logger;
  readonly #everyMs: number;
  #failing = false;
  #lastLogged = 0;
  #suppressed = 0;

  constructor(log: Logger, everyMs = 30_000) {
    this.#log = log;
    this.#everyMs = everyMs;
  }

  get failing(): boolean {
    return this.#failing;
  }

  failure(message: string, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (this.#failing && now - this.#lastLogged < this.#everyMs) {
      this.#suppressed++;
      return;
    }
    this.#log.warn(message, this.#suppressed > 0 ? { ...fields, repeated: this.#suppressed } : fields);
    this.#failing = true;
    this.#lastLogged = now;
    this.#suppressed = 0;
  }

  recovered(message: string, fields: Record<string, unknown> = {}): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#suppressed = 0;
    this.#log.info(message, fields);
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves `fallback` if `p` takes longer than `ms` (p's own outcome is then ignored). */
export function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([p.catch(() => fallback), timeout]).finally(() => clearTimeout(timer));
}
