/**
 * The typed configuration (`Config`: one field per key of the table in
 * ../config.ts) and the error that lists every invalid key.
 */
import type { LogFormat, LogLevel } from "../log.ts";
import type { WebhookConfig } from "../alerts/webhooks.ts";
import type { DisabledEndpoint } from "./endpoints.ts";
import type { Listen } from "./values.ts";

export interface Config {
  data_dir: string;
  listen: Listen;
  tls: { cert: string | null; key: string | null };
  /** `sqlite:PATH` or `postgres://…` / `postgresql://…`. */
  database: string;
  redis: string | null;
  online_key_dir: string;
  /** PEM text of the online private key, when given inline. */
  online_key: string | null;
  auth: {
    admin_token: string | null;
    insecure_disable: boolean;
    /** /metrics without a token (else it needs `read`) */
    metrics_public: boolean;
    /** failed authentications allowed per source address within the window, then 429 */
    failures: { max: number; window_seconds: number };
    /** external (OAuth2 / JWT) scope names that grant each tufbox scope */
    scope_names: { read: string[]; artifacts_write: string[]; metadata_sign: string[]; admin: string[] };
    oauth: {
      introspection_url: string | null;
      client_id: string | null;
      client_secret: string | null;
      audience: string | null;
      cache_seconds: number;
      timeout_ms: number;
    };
    jwt: {
      jwks_url: string | null;
      issuer: string | null;
      audience: string | null;
      algorithms: string[];
      clock_skew_seconds: number;
      jwks_refresh_cooldown_seconds: number;
      timeout_ms: number;
    };
  };
  audit: { retention_days: number };
  tasks: { retention_hours: number };
  /** grace_hours: how long superseded metadata versions outlive every snapshot/timestamp that could point to them */
  retention: { grace_hours: number };
  /** poll_ms: how often the publisher looks for work other replicas queued (notifications usually come first) */
  publisher: { max_batch: number; linger_ms: number; burst_wait_ms: number; poll_ms: number };
  scheduler: { period_seconds: number; resign_window_hours: number };
  targets: { dir: string; serve: boolean };
  /** request bounds; TUF-level bounds are constants in src/tuf/limits.ts */
  limits: {
    max_body_bytes: number;
    max_artifacts_per_request: number;
    max_custom_bytes: number;
    body_timeout_seconds: number;
    upload_min_bytes_per_second: number;
    idle_timeout_seconds: number;
    max_connections_per_source: number;
    max_upload_bytes: number;
  };
  /** artifact content (src/storage/): where uploaded bytes are kept */
  storage: StorageSettings;
  /** the drop directory (src/ingest/drop-dir.ts) */
  ingest: { drop_dir: string | null; scan_seconds: number; parallel: number };
  disable_endpoints: DisabledEndpoint[];
  log: { level: LogLevel; format: LogFormat };
  /** offline_expiry_days: role → days before expiry to warn (`root`, `default` always present) */
  alerts: { offline_expiry_days: Record<string, number>; webhooks: WebhookConfig[]; webhook_max_attempts: number };
  /** `tufbox mirror` (src/cli/mirror.ts): upstream base URL, trusted root file, prefetch globs, sync interval */
  mirror: { upstream: string | null; root: string | null; prefetch: string[]; interval_seconds: number };
  meta: ConfigMeta;
}

export interface StorageSettings {
  driver: "local" | "s3";
  /** content files (local driver) and the staging area of uploads (both drivers) */
  local_dir: string;
  /** hashes computed for uploaded content and listed in its metadata: sha256 always, sha512 optionally */
  hashes: ("sha256" | "sha512")[];
  /** how long removed content stays downloadable; null = one day longer than the longest timestamp/snapshot expiry */
  gc_grace_hours: number | null;
  s3: {
    bucket: string | null;
    endpoint: string | null;
    region: string | null;
    prefix: string;
    access_key_id: string | null;
    secret_access_key: string | null;
    download: "redirect" | "proxy";
    presign_seconds: number;
  };
}

export interface ConfigMeta {
  /** The YAML file read, if any. */
  file: string | null;
  /** For each key path: "default", "FILE line N", "env NAME", "flag --name". */
  sources: Record<string, string>;
  /** Things worth logging at start-up that are not errors. */
  warnings: string[];
}

export type Settings = Omit<Config, "meta">;

export interface ConfigProblem {
  key: string;
  /** Printable value, already redacted for secrets. */
  value?: string;
  source?: string;
  expected: string;
}

/** Invalid configuration: stops start-up. The message lists every problem. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      problems.length === 1
        ? `invalid config: ${formatProblem(problems[0]!)}`
        : `invalid config (${problems.length} problems):\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`,
    );
    this.problems = problems;
  }
}

function formatProblem(p: ConfigProblem): string {
  let s = p.key;
  if (p.value !== undefined) s += ` = ${p.value}`;
  if (p.source !== undefined) s += ` (from ${p.source})`;
  return `${s}: ${p.expected}`;
}
