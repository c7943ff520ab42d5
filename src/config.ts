/**
 * Configuration: one typed `Config`, built from (lowest to highest)
 *   defaults < YAML file (--config / TUFBOX_CONFIG) < TUFBOX_* env < flags.
 *
 * Everything is driven by the KEYS table below — one line per key with its
 * YAML path, env var(s), flag, secrecy, default and parser — so adding a key
 * is one table line plus one field in `Config` (the `key()` helper makes the
 * compiler check that the parser and default produce that field's type).
 *
 * Rules, and why:
 * - Every value is validated, wherever it comes from, even when a higher
 *   source overrides it: a broken file stays broken. All problems are
 *   reported at once, each naming the key, the value, where it came from and
 *   what is allowed.
 * - Unknown YAML keys are errors (with a "did you mean"): a typo such as
 *   `sheduler:` must not silently leave the default in place.
 * - An env var set to the empty string counts as unset; orchestrators often
 *   render missing values as `FOO=`.
 * - Secrets (online key, admin token, credentials in URLs) have no flags —
 *   argv is visible to every user in `ps` — and accept `…_FILE` so they can
 *   be mounted as files (Docker/Kubernetes secrets). Their values are never
 *   echoed in errors or in `describeConfig`.
 * - `loadConfig` is pure apart from reading the files it is told about; it
 *   returns warnings instead of logging them, because the logger is built
 *   from the config.
 */
import { join } from "node:path";
import { LOG_LEVELS } from "./log.ts";
import { DEFAULT_OFFLINE_EXPIRY_DAYS, parseOfflineExpiryDays, parseWebhooks } from "./alerts/config.ts";
import { CUSTOM_MAX_BYTES_DEFAULT, CUSTOM_MAX_BYTES_RANGE } from "./tuf/limits.ts";

import { authChecks, crossChecks } from "./config/checks.ts";
import { endpoints, showEndpoint } from "./config/endpoints.ts";
import { type Config, ConfigError, type ConfigProblem, type Settings } from "./config/types.ts";
import {
  type Candidate,
  configFile,
  type Env,
  envCandidate,
  type Flags,
  flagCandidate,
  normalizeFlags,
  readYaml,
  redactUrl,
  showRaw,
  sourceLabel,
  warnUnknownEnv,
} from "./config/sources.ts";
import {
  algorithms,
  bool,
  contentHashes,
  database,
  external,
  globs,
  int,
  Invalid,
  num,
  listen,
  names,
  nonEmpty_,
  nonEmptyText,
  oneOf,
  path,
  pem,
  redis,
  s3Prefix,
  secureUrl,
  showListen,
  size,
  token,
  url,
  type Ctx,
  type Parser,
} from "./config/values.ts";

export type { DisabledEndpoint } from "./config/endpoints.ts";
export type { Listen } from "./config/values.ts";
export type { Config, ConfigMeta, ConfigProblem, StorageSettings } from "./config/types.ts";
export { ConfigError } from "./config/types.ts";
export { effectiveResignWindowSeconds } from "./config/checks.ts";
export { I_KNOW_AUTH_IS_DISABLED } from "./config/sources.ts";

// ---------------------------------------------------------------- the table

/** The type at a dotted path of Settings ("scheduler.period_seconds" → number). */
type At<T, P extends string> = P extends `${infer H}.${infer R}`
  ? H extends keyof T
    ? At<T[H], R>
    : never
  : P extends keyof T
    ? T[P]
    : never;

type Get = <P extends string>(path: P) => At<Settings, P>;

/**
 * `secret: "value"` — never shown, `_FILE` accepted, no flag.
 * `secret: "url"` — a URL whose password is masked when shown; `_FILE` accepted.
 */
export type Secrecy = "value" | "url";

interface KeySpec<T> {
  /** Env var names, first set wins (e.g. TUFBOX_ before the RSTUF_ alias). */
  env: readonly string[];
  flag?: string;
  secret?: Secrecy;
  default: T | ((get: Get, ctx: Ctx) => T);
  parse: Parser<T>;
  /** Printable form for describeConfig, when the value is not plain. */
  show?: (v: T) => unknown;
}

export interface AnyKeySpec {
  path: string;
  env: readonly string[];
  flag?: string;
  secret?: Secrecy;
  default: unknown;
  parse: Parser<unknown>;
  show?: (v: unknown) => unknown;
}

function key<P extends string>(path: P, spec: KeySpec<At<Settings, P>>): AnyKeySpec {
  return { path, ...spec } as unknown as AnyKeySpec;
}

// Order matters only for derived defaults: data_dir comes first.
const KEYS: readonly AnyKeySpec[] = [
  key("data_dir", { env: ["TUFBOX_DATA_DIR"], flag: "data-dir", default: "./tufbox-data", parse: path }),
  key("listen", {
    env: ["TUFBOX_LISTEN"],
    flag: "listen",
    default: { host: "127.0.0.1", port: 8080 },
    parse: listen,
    show: showListen,
  }),
  key("tls.cert", { env: ["TUFBOX_TLS_CERT"], flag: "tls-cert", default: null, parse: path }),
  key("tls.key", { env: ["TUFBOX_TLS_KEY"], flag: "tls-key", default: null, parse: path }),
  key("database", {
    env: ["TUFBOX_DATABASE_URL"],
    flag: "database",
    secret: "url",
    default: (get) => `sqlite:${join(get("data_dir"), "tufbox.db")}`,
    parse: database,
  }),
  key("redis", { env: ["TUFBOX_REDIS_URL"], flag: "redis", secret: "url", default: null, parse: redis }),
  key("online_key_dir", {
    env: ["TUFBOX_ONLINE_KEY_DIR"],
    flag: "online-key-dir",
    default: (get) => join(get("data_dir"), "keys"),
    parse: path,
  }),
  key("online_key", { env: ["TUFBOX_ONLINE_KEY"], secret: "value", default: null, parse: pem }),
  key("auth.admin_token", { env: ["TUFBOX_ADMIN_TOKEN"], secret: "value", default: null, parse: token }),
  key("auth.insecure_disable", {
    env: ["TUFBOX_INSECURE_DISABLE_AUTH"],
    flag: "insecure-disable-auth",
    default: false,
    parse: bool,
  }),
  key("auth.metrics_public", { env: ["TUFBOX_METRICS_PUBLIC"], default: true, parse: bool }),
  key("auth.failures.max", { env: ["TUFBOX_AUTH_FAILURES_MAX"], default: 10, parse: int(1, 1_000_000) }),
  key("auth.failures.window_seconds", {
    env: ["TUFBOX_AUTH_FAILURES_WINDOW_SECONDS"],
    default: 60,
    parse: int(1, 86_400),
  }),
  key("auth.scope_names.read", { env: ["TUFBOX_SCOPE_NAMES_READ"], default: ["tufbox:read"], parse: names }),
  key("auth.scope_names.artifacts_write", {
    env: ["TUFBOX_SCOPE_NAMES_ARTIFACTS_WRITE"],
    default: ["tufbox:artifacts:write"],
    parse: names,
  }),
  key("auth.scope_names.metadata_sign", {
    env: ["TUFBOX_SCOPE_NAMES_METADATA_SIGN"],
    default: ["tufbox:metadata:sign"],
    parse: names,
  }),
  key("auth.scope_names.admin", { env: ["TUFBOX_SCOPE_NAMES_ADMIN"], default: ["tufbox:admin"], parse: names }),
  key("auth.oauth.introspection_url", { env: ["TUFBOX_OAUTH_URL"], default: null, parse: secureUrl }),
  key("auth.oauth.client_id", { env: ["TUFBOX_OAUTH_CLIENT_ID"], secret: "value", default: null, parse: nonEmpty_ }),
  key("auth.oauth.client_secret", {
    env: ["TUFBOX_OAUTH_CLIENT_SECRET"],
    secret: "value",
    default: null,
    parse: nonEmpty_,
  }),
  key("auth.oauth.audience", { env: ["TUFBOX_OAUTH_AUDIENCE"], default: null, parse: nonEmpty_ }),
  key("auth.oauth.cache_seconds", { env: ["TUFBOX_OAUTH_CACHE_SECONDS"], default: 60, parse: int(0, 3600) }),
  key("auth.oauth.timeout_ms", { env: ["TUFBOX_OAUTH_TIMEOUT_MS"], default: 5000, parse: int(100, 60_000) }),
  key("auth.jwt.jwks_url", { env: ["TUFBOX_JWT_JWKS_URL"], default: null, parse: secureUrl }),
  key("auth.jwt.issuer", { env: ["TUFBOX_JWT_ISSUER"], default: null, parse: nonEmpty_ }),
  key("auth.jwt.audience", { env: ["TUFBOX_JWT_AUDIENCE"], default: null, parse: nonEmpty_ }),
  key("auth.jwt.algorithms", {
    env: ["TUFBOX_JWT_ALGORITHMS"],
    default: ["RS256", "PS256", "ES256", "EdDSA"],
    parse: algorithms,
  }),
  key("auth.jwt.clock_skew_seconds", { env: ["TUFBOX_JWT_CLOCK_SKEW_SECONDS"], default: 30, parse: int(0, 600) }),
  key("auth.jwt.jwks_refresh_cooldown_seconds", {
    env: ["TUFBOX_JWT_JWKS_REFRESH_COOLDOWN_SECONDS"],
    default: 5,
    parse: int(0, 3600),
  }),
  key("auth.jwt.timeout_ms", { env: ["TUFBOX_JWT_TIMEOUT_MS"], default: 5000, parse: int(100, 60_000) }),
  key("audit.retention_days", { env: ["TUFBOX_AUDIT_RETENTION_DAYS"], default: 365, parse: int(1, 36_500) }),
  key("tasks.retention_hours", { env: ["TUFBOX_TASKS_RETENTION_HOURS"], default: 24, parse: int(1, 8760) }),
  key("retention.grace_hours", { env: ["TUFBOX_RETENTION_GRACE_HOURS"], default: 24, parse: num(0, 8760) }),
  key("publisher.max_batch", { env: ["TUFBOX_PUBLISHER_MAX_BATCH"], default: 200000, parse: int(1, 1_000_000) }),
  key("publisher.linger_ms", { env: ["TUFBOX_PUBLISHER_LINGER_MS"], default: 5, parse: int(0, 60_000) }),
  key("publisher.burst_wait_ms", { env: ["TUFBOX_PUBLISHER_BURST_WAIT_MS"], default: 5000, parse: int(0, 60_000) }),
  // Several replicas share a PostgreSQL queue: poll it more often than a lone SQLite process.
  key("publisher.poll_ms", {
    env: ["TUFBOX_PUBLISHER_POLL_MS"],
    default: (get) => (/^postgres(ql)?:/i.test(get("database")) ? 250 : 1000),
    parse: int(10, 600_000),
  }),
  key("scheduler.period_seconds", { env: ["TUFBOX_SCHEDULER_PERIOD_SECONDS"], default: 60, parse: int(5, 3600) }),
  key("scheduler.resign_window_hours", {
    env: ["TUFBOX_SCHEDULER_RESIGN_WINDOW_HOURS"],
    default: 6,
    parse: int(1, 8760),
  }),
  key("targets.dir", {
    env: ["TUFBOX_TARGETS_DIR"],
    flag: "targets-dir",
    default: (get) => join(get("data_dir"), "targets"),
    parse: path,
  }),
  key("targets.serve", { env: ["TUFBOX_TARGETS_SERVE"], default: true, parse: bool }),
  key("limits.max_body_bytes", {
    env: ["TUFBOX_MAX_BODY_BYTES"],
    default: 16 * 1024 ** 2,
    parse: size(1024, 2 * 1024 ** 3),
  }),
  key("limits.max_upload_bytes", {
    env: ["TUFBOX_MAX_UPLOAD_BYTES"],
    default: 2 * 1024 ** 3,
    parse: size(1, 1024 ** 4),
  }),
  key("storage.driver", { env: ["TUFBOX_STORAGE_DRIVER"], default: "local", parse: oneOf(["local", "s3"] as const) }),
  key("storage.local_dir", {
    env: ["TUFBOX_STORAGE_LOCAL_DIR"],
    default: (get) => join(get("data_dir"), "content"),
    parse: path,
  }),
  key("storage.hashes", {
    env: ["TUFBOX_STORAGE_HASHES"],
    default: ["sha256"],
    parse: contentHashes,
    show: (v) => v.join(","),
  }),
  key("storage.gc_grace_hours", { env: ["TUFBOX_STORAGE_GC_GRACE_HOURS"], default: null, parse: int(1, 87600) }),
  key("storage.s3.bucket", { env: ["TUFBOX_S3_BUCKET"], default: null, parse: nonEmptyText }),
  key("storage.s3.endpoint", {
    env: ["TUFBOX_S3_ENDPOINT"],
    default: null,
    parse: (raw) => url(raw, ["http", "https"], "an http(s):// endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com"),
  }),
  key("storage.s3.region", { env: ["TUFBOX_S3_REGION"], default: null, parse: nonEmptyText }),
  key("storage.s3.prefix", { env: ["TUFBOX_S3_PREFIX"], default: "", parse: s3Prefix }),
  key("storage.s3.access_key_id", {
    env: ["TUFBOX_S3_ACCESS_KEY_ID"],
    secret: "value",
    default: null,
    parse: nonEmptyText,
  }),
  key("storage.s3.secret_access_key", {
    env: ["TUFBOX_S3_SECRET_ACCESS_KEY"],
    secret: "value",
    default: null,
    parse: nonEmptyText,
  }),
  key("storage.s3.download", {
    env: ["TUFBOX_S3_DOWNLOAD"],
    default: "redirect",
    parse: oneOf(["redirect", "proxy"] as const),
  }),
  key("storage.s3.presign_seconds", { env: ["TUFBOX_S3_PRESIGN_SECONDS"], default: 300, parse: int(60, 604800) }),
  key("ingest.drop_dir", { env: ["TUFBOX_DROP_DIR"], flag: "drop-dir", default: null, parse: path }),
  key("ingest.scan_seconds", { env: ["TUFBOX_DROP_DIR_SCAN_SECONDS"], default: 5, parse: int(1, 3600) }),
  key("ingest.parallel", { env: ["TUFBOX_DROP_DIR_PARALLEL"], default: 2, parse: int(1, 64) }),
  key("limits.max_artifacts_per_request", {
    env: ["TUFBOX_MAX_ARTIFACTS_PER_REQUEST"],
    default: 10000,
    parse: int(1, 1_000_000),
  }),
  key("limits.max_custom_bytes", {
    env: ["TUFBOX_MAX_CUSTOM_BYTES"],
    default: CUSTOM_MAX_BYTES_DEFAULT,
    parse: size(...CUSTOM_MAX_BYTES_RANGE),
  }),
  key("limits.body_timeout_seconds", { env: ["TUFBOX_BODY_TIMEOUT_SECONDS"], default: 30, parse: int(1, 3600) }),
  key("limits.upload_min_bytes_per_second", {
    env: ["TUFBOX_UPLOAD_MIN_BYTES_PER_SECOND"],
    default: 64 * 1024,
    parse: size(1024, 1024 ** 3),
  }),
  // Bun.serve's idleTimeout: at most 255 s.
  key("limits.idle_timeout_seconds", { env: ["TUFBOX_IDLE_TIMEOUT_SECONDS"], default: 10, parse: int(1, 255) }),
  key("limits.max_connections_per_source", {
    env: ["TUFBOX_MAX_CONNECTIONS_PER_SOURCE"],
    default: 128,
    parse: int(0, 1_000_000),
  }),
  key("disable_endpoints", {
    env: ["TUFBOX_DISABLE_ENDPOINTS", "RSTUF_DISABLE_ENDPOINTS"],
    default: [],
    parse: endpoints,
    show: (v) => v.map(showEndpoint),
  }),
  key("alerts.offline_expiry_days", {
    env: ["TUFBOX_ALERTS_OFFLINE_EXPIRY_DAYS"],
    default: DEFAULT_OFFLINE_EXPIRY_DAYS,
    parse: external(parseOfflineExpiryDays),
  }),
  // Secret: webhook URLs (Slack's) and their HMAC secrets are credentials.
  key("alerts.webhooks", {
    env: ["TUFBOX_ALERTS_WEBHOOKS"],
    secret: "value",
    default: [],
    parse: external(parseWebhooks),
  }),
  key("alerts.webhook_max_attempts", {
    env: ["TUFBOX_ALERTS_WEBHOOK_MAX_ATTEMPTS"],
    default: 6,
    parse: int(1, 100),
  }),
  key("log.level", { env: ["TUFBOX_LOG_LEVEL"], flag: "log-level", default: "info", parse: oneOf(LOG_LEVELS) }),
  key("log.format", {
    env: ["TUFBOX_LOG_FORMAT"],
    flag: "log-format",
    // Humans read terminals; everything else (journald, containers, CI) wants JSON.
    default: (_get, ctx) => (ctx.stderrIsTTY ? "text" : "json"),
    parse: (raw, ctx) => {
      const f = oneOf(["auto", "json", "text"] as const)(raw, ctx);
      return f === "auto" ? (ctx.stderrIsTTY ? "text" : "json") : f;
    },
  }),
  // `tufbox mirror` takes these as its own flags too (--upstream, --root, --prefetch, --interval).
  key("mirror.upstream", {
    env: ["TUFBOX_MIRROR_UPSTREAM"],
    default: null,
    parse: (raw) => url(raw, ["http", "https"], "the upstream's base URL, e.g. https://tuf.example.com"),
  }),
  key("mirror.root", { env: ["TUFBOX_MIRROR_ROOT"], default: null, parse: path }),
  key("mirror.prefetch", { env: ["TUFBOX_MIRROR_PREFETCH"], default: [], parse: globs }),
  key("mirror.interval_seconds", { env: ["TUFBOX_MIRROR_INTERVAL_SECONDS"], default: 60, parse: int(1, 86_400) }),
];

/** Public view of the table, for docs, `tufbox config` and tests. */
export const CONFIG_KEYS: readonly { path: string; env: readonly string[]; flag?: string; secret?: Secrecy }[] =
  KEYS.map(({ path: p, env, flag, secret }) => ({ path: p, env, flag, secret }));

/**
 * Options to declare in `util.parseArgs` so every config flag is accepted by
 * every command. `config` names the YAML file.
 */
export const CONFIG_FLAGS: Record<string, { type: "string" | "boolean" }> = Object.fromEntries([
  ["config", { type: "string" as const }],
  ...KEYS.filter((k) => k.flag !== undefined).map((k) => [
    k.flag!,
    { type: k.parse === bool ? ("boolean" as const) : ("string" as const) },
  ]),
]);

// ---------------------------------------------------------------- loading

/**
 * Build the configuration. `flags` are parsed command-line values keyed by
 * flag name (`data-dir`, `--data-dir` or as util.parseArgs returns them with
 * CONFIG_FLAGS); flags that are not config flags are ignored, they belong to
 * the command. `env` defaults to process.env, `stderrIsTTY` (for the log
 * format default) to process.stderr.isTTY. Throws ConfigError listing every
 * problem; returns warnings in `meta.warnings` for the caller to log.
 */
export function loadConfig(opts: { flags: Flags; env?: Env; stderrIsTTY?: boolean }): Config {
  const env = opts.env ?? process.env;
  const flags = normalizeFlags(opts.flags);
  const ctx: Ctx = { stderrIsTTY: opts.stderrIsTTY ?? process.stderr.isTTY === true };
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];

  const file = configFile(flags, env, problems);
  const fileValues = file ? readYaml(file.path, file.source, problems, KEYS) : new Map<string, Candidate>();

  const settings: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const get = ((p: string) => getAt(settings, p)) as Get;

  for (const spec of KEYS) {
    const candidates = [fileValues.get(spec.path), envCandidate(spec, env, problems), flagCandidate(spec, flags)];
    let chosen: { value: unknown; source: string } | undefined;
    for (const c of candidates) {
      if (c === undefined) continue;
      try {
        chosen = { value: spec.parse(c.raw, ctx), source: c.source };
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        problems.push({
          key: spec.path,
          value: showRaw(c.raw, spec.secret),
          source: sourceLabel(c.source),
          expected: e.message,
        });
      }
    }
    if (chosen === undefined) {
      const d = spec.default;
      chosen = {
        value: typeof d === "function" ? (d as (g: Get, c: Ctx) => unknown)(get, ctx) : structuredClone(d),
        source: "default",
      };
    }
    setAt(settings, spec.path, chosen.value);
    sources[spec.path] = chosen.source;
  }

  const config = { ...(settings as unknown as Settings), meta: { file: file?.path ?? null, sources, warnings } };
  crossChecks(config, problems, warnings);
  authChecks(config, env, problems);
  warnUnknownEnv(env, warnings, KEYS);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

// ---------------------------------------------------------------- display

/**
 * The configuration as a nested object shaped like the YAML file, safe to
 * print or log: secrets become "<set>" (or null when unset) and passwords in
 * URLs "<redacted>". Where each value came from is in `config.meta.sources`.
 */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of KEYS) {
    const v = getAt(config as unknown as Record<string, unknown>, spec.path);
    let shown: unknown;
    if (v === null || v === undefined) shown = null;
    else if (spec.secret === "value") shown = Array.isArray(v) && v.length === 0 ? [] : "<set>";
    else if (spec.secret === "url") shown = redactUrl(String(v));
    else shown = spec.show ? spec.show(v) : v;
    setAt(out, spec.path, shown);
  }
  return out;
}

function getAt(obj: Record<string, unknown>, p: string): unknown {
  let cur: unknown = obj;
  for (const part of p.split(".")) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

function setAt(obj: Record<string, unknown>, p: string, value: unknown): void {
  const parts = p.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}
