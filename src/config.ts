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
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";
import { DEFAULT_OFFLINE_EXPIRY_DAYS, parseOfflineExpiryDays, parseWebhooks } from "./alerts/config.ts";
import type { WebhookConfig } from "./alerts/webhooks.ts";
import { CUSTOM_MAX_BYTES_DEFAULT, CUSTOM_MAX_BYTES_RANGE } from "./tuf/limits.ts";

import { type DisabledEndpoint, endpoints, showEndpoint } from "./config/endpoints.ts";
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
  bool,
  type Ctx,
  database,
  external,
  FETCH_BAD_PORTS,
  globs,
  Invalid,
  int,
  type Listen,
  num,
  listen,
  oneOf,
  type Parser,
  path,
  pem,
  redis,
  size,
  token,
  url,
} from "./config/values.ts";

export type { DisabledEndpoint } from "./config/endpoints.ts";
export type { Listen } from "./config/values.ts";

// ---------------------------------------------------------------- types

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
  auth: { admin_token: string | null; insecure_disable: boolean };
  tasks: { retention_hours: number };
  /** grace_hours: how long superseded metadata versions outlive every snapshot/timestamp that could point to them */
  retention: { grace_hours: number };
  /** poll_ms: how often the publisher looks for work other replicas queued (notifications usually come first) */
  publisher: { max_batch: number; linger_ms: number; poll_ms: number };
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
  };
  disable_endpoints: DisabledEndpoint[];
  log: { level: LogLevel; format: LogFormat };
  /** offline_expiry_days: role → days before expiry to warn (`root`, `default` always present) */
  alerts: { offline_expiry_days: Record<string, number>; webhooks: WebhookConfig[]; webhook_max_attempts: number };
  /** `tufbox mirror` (src/cli/mirror.ts): upstream base URL, trusted root file, prefetch globs, sync interval */
  mirror: { upstream: string | null; root: string | null; prefetch: string[]; interval_seconds: number };
  meta: ConfigMeta;
}

export interface ConfigMeta {
  /** The YAML file read, if any. */
  file: string | null;
  /** For each key path: "default", "FILE line N", "env NAME", "flag --name". */
  sources: Record<string, string>;
  /** Things worth logging at start-up that are not errors. */
  warnings: string[];
}

type Settings = Omit<Config, "meta">;

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
  key("tasks.retention_hours", { env: ["TUFBOX_TASKS_RETENTION_HOURS"], default: 24, parse: int(1, 8760) }),
  key("retention.grace_hours", { env: ["TUFBOX_RETENTION_GRACE_HOURS"], default: 24, parse: num(0, 8760) }),
  key("publisher.max_batch", { env: ["TUFBOX_PUBLISHER_MAX_BATCH"], default: 200000, parse: int(1, 1_000_000) }),
  key("publisher.linger_ms", { env: ["TUFBOX_PUBLISHER_LINGER_MS"], default: 5, parse: int(0, 60_000) }),
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

function showListen(l: Listen): string {
  return l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

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
  warnUnknownEnv(env, warnings, KEYS);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function crossChecks(config: Config, problems: ConfigProblem[], warnings: string[]): void {
  const src = config.meta.sources;
  if ((config.tls.cert === null) !== (config.tls.key === null)) {
    const [set, unset] = config.tls.cert !== null ? ["tls.cert", "tls.key"] : ["tls.key", "tls.cert"];
    problems.push({
      key: unset,
      source: undefined,
      expected: `must be set together with ${set} (from ${sourceLabel(src[set]!)}): set both or neither`,
    });
  }
  if (FETCH_BAD_PORTS.has(config.listen.port)) {
    warnings.push(
      `listen port ${config.listen.port} is on the fetch standard's "bad ports" list: browsers, Node's fetch and so tuf-js refuse to connect to it; choose another port`,
    );
  }
  if (config.auth.insecure_disable) {
    warnings.push(
      "auth.insecure_disable is true: every API route, including the mutating ones, is open to anyone who can reach it. Development only.",
    );
  }
  const window = effectiveResignWindowSeconds(config);
  if (window > config.scheduler.resign_window_hours * 3600) {
    warnings.push(
      `scheduler.resign_window_hours (${config.scheduler.resign_window_hours}) is shorter than one scheduler period plus a margin; re-signing ${window} seconds before expiry instead`,
    );
  }
}

/**
 * How long before expiry an online role must be re-signed: never less than
 * one scheduler period plus a margin (a minute, or a whole period if longer),
 * so a role cannot expire between two runs even when one run is slow.
 * Same rule as `effectiveResignWindowMs` in src/scheduler.ts.
 */
export function effectiveResignWindowSeconds(config: Pick<Config, "scheduler">): number {
  const { period_seconds: period, resign_window_hours: hours } = config.scheduler;
  return Math.max(hours * 3600, period + Math.max(60, period));
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
