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
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";
import { ASYMMETRIC_ALGORITHMS } from "./auth/algorithms.ts";
import { DEFAULT_OFFLINE_EXPIRY_DAYS, parseOfflineExpiryDays, parseWebhooks } from "./alerts/config.ts";
import type { WebhookConfig } from "./alerts/webhooks.ts";
import { CUSTOM_MAX_BYTES_DEFAULT, CUSTOM_MAX_BYTES_RANGE } from "./tuf/limits.ts";

// ---------------------------------------------------------------- types

export interface Listen {
  /** Without brackets for IPv6 (`::1`), as Bun.serve expects. */
  host: string;
  port: number;
}

/** One `disable_endpoints` rule: a path prefix, optionally only some methods. */
export interface DisabledEndpoint {
  methods?: string[];
  path: string;
}

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

// ---------------------------------------------------------------- parsers

/** Thrown by parsers; the loader adds key, value and source. */
class Invalid extends Error {}

interface Ctx {
  stderrIsTTY: boolean;
}
type Parser<T> = (raw: unknown, ctx: Ctx) => T;

/** A parser living next to its feature, which throws plain Errors. */
const external =
  <T>(fn: (raw: unknown) => T): Parser<T> =>
  (raw) => {
    try {
      return fn(raw);
    } catch (e) {
      throw new Invalid(e instanceof Error ? e.message : String(e));
    }
  };

function text(raw: unknown, what = "a string"): string {
  if (typeof raw !== "string")
    throw new Invalid(`expected ${what}${typeof raw === "number" ? " (quote it in YAML)" : ""}`);
  return raw;
}

const path: Parser<string> = (raw) => {
  const s = text(raw, "a path").trim();
  if (s === "") throw new Invalid("expected a non-empty path");
  return s;
};

const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const expected = `expected an integer between ${min} and ${max}`;
    let n: number;
    if (typeof raw === "number") n = raw;
    else if (typeof raw === "string" && /^\s*[+-]?\d+\s*$/.test(raw)) n = Number(raw);
    else throw new Invalid(expected);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid(expected);
    return n;
  };

const bool: Parser<boolean> = (raw) => {
  if (typeof raw === "boolean") return raw;
  if (typeof raw === "string") {
    const s = raw.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(s)) return true;
    if (["false", "0", "no", "off"].includes(s)) return false;
  }
  throw new Invalid("expected true or false");
};

const oneOf =
  <T extends string>(allowed: readonly T[]): Parser<T> =>
  (raw) => {
    const s = typeof raw === "string" ? raw.trim().toLowerCase() : raw;
    if (typeof s === "string" && (allowed as readonly string[]).includes(s)) return s as T;
    throw new Invalid(`expected one of ${allowed.join(", ")}`);
  };

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const size =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const expected = `expected a size between ${showSize(min)} and ${showSize(max)}: bytes, or a number with KiB/MiB/GiB (or KB/MB/GB), e.g. 16MiB`;
    const m =
      typeof raw === "number"
        ? ["", String(raw), ""]
        : /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(typeof raw === "string" ? raw : "");
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new Invalid(expected);
    const n = Number(m[1]) * unit;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid(expected);
    return n;
  };

function showSize(n: number): string {
  for (const [u, f] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (n >= f && n % f === 0) return `${n / f} ${u}`;
  }
  return `${n} bytes`;
}

const contentHashes: Parser<("sha256" | "sha512")[]> = (raw) => {
  const expected = "expected sha256, or sha256 and sha512 (a list, or comma-separated)";
  const list = typeof raw === "string" ? raw.split(",") : Array.isArray(raw) ? raw : null;
  if (list === null || list.some((x) => typeof x !== "string")) throw new Invalid(expected);
  const names = [...new Set((list as string[]).map((x) => x.trim().toLowerCase()).filter((x) => x !== ""))];
  if (!names.includes("sha256") || names.some((x) => x !== "sha256" && x !== "sha512")) throw new Invalid(expected);
  return names.includes("sha512") ? ["sha256", "sha512"] : ["sha256"];
};

const s3Prefix: Parser<string> = (raw) => {
  const s = text(raw, "a key prefix").trim();
  if (s.startsWith("/") || s.includes("//") || /[\\\0]/.test(s))
    throw new Invalid("expected a key prefix such as tufbox/ (no leading slash, no empty segments)");
  return s === "" || s.endsWith("/") ? s : `${s}/`;
};

const nonEmptyText: Parser<string> = (raw) => {
  const s = text(raw).trim();
  if (s === "") throw new Invalid("expected a non-empty string");
  return s;
};

// The WHATWG fetch "bad port" list: browsers, Node's fetch (and so tuf-js and
// python clients behind proxies that follow it) refuse these outright.
const FETCH_BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

const listen: Parser<Listen> = (raw) => {
  const s = text(raw, "HOST:PORT").trim();
  const m = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]:(\d{1,5})$/.exec(s) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  if (!m) {
    const hint = s.startsWith(":") ? " (write 0.0.0.0" + s + " to listen on every interface)" : "";
    throw new Invalid(`expected HOST:PORT such as 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080${hint}`);
  }
  const port = Number(m[2]);
  if (port > 65535) throw new Invalid("expected a port between 0 and 65535 in HOST:PORT");
  return { host: m[1]!, port };
};

function url(raw: unknown, schemes: readonly string[], expected: string): string {
  const s = text(raw, expected).trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Invalid(`expected ${expected}`);
  }
  if (!schemes.includes(u.protocol.slice(0, -1)) || (u.hostname === "" && !u.protocol.includes("unix"))) {
    throw new Invalid(`expected ${expected}`);
  }
  return s;
}

const database: Parser<string> = (raw) => {
  const expected =
    "expected sqlite:PATH (e.g. sqlite:/var/lib/tufbox/tufbox.db) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB";
  const s = text(raw, "a database URL").trim();
  if (s.startsWith("sqlite:")) {
    // `sqlite://x` is ambiguous (host? relative? absolute with 3 or 4
    // slashes?) between conventions, so refuse it rather than guess.
    if (s.length === "sqlite:".length || s.startsWith("sqlite://")) throw new Invalid(expected);
    return s;
  }
  return url(s, ["postgres", "postgresql"], expected.slice("expected ".length));
};

const redis: Parser<string> = (raw) =>
  url(
    raw,
    ["redis", "rediss", "redis+tls", "redis+unix", "redis+tls+unix"],
    "redis://[USER:PASSWORD@]HOST[:PORT][/DB] or rediss://…",
  );

const pem: Parser<string> = (raw) => {
  const s = text(raw, "PEM text").trim();
  if (!/^-----BEGIN [A-Z0-9 ]+-----\r?\n[\s\S]+\n-----END [A-Z0-9 ]+-----$/.test(s)) {
    throw new Invalid(
      "expected PEM text (-----BEGIN … -----END …); to point at a file use TUFBOX_ONLINE_KEY_FILE or online_key_dir",
    );
  }
  return s;
};

const token: Parser<string> = (raw) => {
  const s = text(raw, "a token").trim();
  if (s.length < 16 || /\s/.test(s)) {
    throw new Invalid("expected at least 16 characters without whitespace (e.g. the output of `openssl rand -hex 32`)");
  }
  return s;
};

/** A list: YAML sequence, or a string separated by commas and/or spaces. */
const names: Parser<string[]> = (raw) => {
  const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/[\s,]+/) : null;
  if (items === null || items.some((x) => typeof x !== "string"))
    throw new Invalid("expected a list of names (a YAML list, or a string separated by commas or spaces)");
  const out = (items as string[]).map((x) => x.trim()).filter((x) => x !== "");
  if (out.length === 0) throw new Invalid("expected at least one name");
  return out;
};

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host);
}

/** https://, or http:// to a loopback host only: credentials and signing keys must not cross a network in clear. */
const secureUrl: Parser<string> = (raw) => {
  const expected = "expected an https:// URL (http:// only to 127.0.0.1, ::1 or localhost)";
  const s = url(raw, ["http", "https"], expected.slice("expected ".length));
  const u = new URL(s);
  if (u.protocol === "http:" && !isLoopbackHost(u.hostname)) throw new Invalid(expected);
  return s;
};

const nonEmpty_: Parser<string> = (raw) => {
  const s = text(raw).trim();
  if (s === "") throw new Invalid("expected a non-empty string");
  return s;
};

const algorithms: Parser<string[]> = (raw, ctx) => {
  const list = names(raw, ctx);
  const bad = list.find((a) => !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
  if (bad !== undefined)
    throw new Invalid(
      `"${bad}" is not allowed; only asymmetric JWS algorithms are: ${ASYMMETRIC_ALGORITHMS.join(", ")}`,
    );
  return list;
};

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const ENDPOINTS_EXPECTED =
  "expected a ':'-separated list of path prefixes, each optionally preceded by methods as RSTUF writes them " +
  "(e.g. {'POST'}/api/v1/bootstrap/:/api/v1/token/) or as `POST,DELETE /api/v1/artifacts`";

function endpointRule(entry: string): DisabledEndpoint {
  const s = entry.trim();
  // RSTUF prints FastAPI's method set: {'POST'} or {'GET', 'HEAD'}. Our own
  // form is "POST,DELETE /path"; glued without a space only in upper case, so
  // a path missing its leading slash ("api/v1/x") is not read as method "API".
  const m =
    /^\{([^}]*)\}\s*(\S+)$/.exec(s) ??
    /^([A-Za-z]+(?:\s*,\s*[A-Za-z]+)*)\s+(\/\S*)$/.exec(s) ??
    /^([A-Z]+(?:,[A-Z]+)*)(\/\S*)$/.exec(s);
  const methodsText = m ? m[1]! : undefined;
  const p = m ? m[2]! : s;
  const rule = endpointPath(p);
  if (methodsText !== undefined)
    rule.methods = endpointMethods(methodsText.split(",").map((x) => x.replace(/['"\s]/g, "")));
  return rule;
}

function endpointPath(p: string): DisabledEndpoint {
  if (!/^\/[^\s?#]*$/.test(p)) throw new Invalid(`${ENDPOINTS_EXPECTED}; ${JSON.stringify(p)} is not a path`);
  // RSTUF writes prefixes with a trailing slash; tufbox routes answer with and
  // without one, so compare without.
  return { path: p.length > 1 ? p.replace(/\/+$/, "") || "/" : p };
}

function endpointMethods(list: string[]): string[] {
  const methods = list.map((x) => x.toUpperCase()).filter((x) => x !== "");
  const bad = methods.find((x) => !HTTP_METHODS.includes(x));
  if (methods.length === 0 || bad !== undefined) {
    throw new Invalid(`${ENDPOINTS_EXPECTED}; methods must be among ${HTTP_METHODS.join(", ")}`);
  }
  return methods;
}

const endpoints: Parser<DisabledEndpoint[]> = (raw) => {
  if (typeof raw === "string")
    return raw
      .split(":")
      .filter((e) => e.trim() !== "")
      .map(endpointRule);
  if (!Array.isArray(raw)) throw new Invalid(ENDPOINTS_EXPECTED);
  return raw.map((item): DisabledEndpoint => {
    if (typeof item === "string") return endpointRule(item);
    if (typeof item === "object" && item !== null && !Array.isArray(item)) {
      const { path: p, methods, ...rest } = item as Record<string, unknown>;
      const extra = Object.keys(rest)[0];
      if (extra !== undefined)
        throw new Invalid(`unknown field ${JSON.stringify(extra)} in a rule; allowed: path, methods`);
      const rule = endpointPath(text(p, "a rule with a path"));
      if (methods !== undefined && methods !== null) {
        const list =
          typeof methods === "string" ? methods.split(",") : Array.isArray(methods) ? methods.map(String) : null;
        if (list === null) throw new Invalid("expected methods as a list such as [POST, DELETE]");
        rule.methods = endpointMethods(list);
      }
      return rule;
    }
    throw new Invalid(ENDPOINTS_EXPECTED);
  });
};

/** Whether a request is switched off by `disable_endpoints`. GET rules also cover HEAD. */
export function isEndpointDisabled(rules: readonly DisabledEndpoint[], method: string, pathname: string): boolean {
  const m = method.toUpperCase();
  const p = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  return rules.some(
    (r) =>
      (r.path === "/" || p === r.path || p.startsWith(r.path + "/")) &&
      (r.methods === undefined || r.methods.includes(m) || (m === "HEAD" && r.methods.includes("GET"))),
  );
}

function showEndpoint(r: DisabledEndpoint): string {
  return r.methods ? `${r.methods.join(",")} ${r.path}` : r.path;
}

/** Glob patterns: a YAML list, or one string with patterns separated by commas outside `{…}`. */
const globs: Parser<string[]> = (raw) => {
  const list = Array.isArray(raw) ? raw : typeof raw === "string" ? splitGlobs(raw) : null;
  if (list === null || list.some((g) => typeof g !== "string" || g.trim() === ""))
    throw new Invalid("expected glob patterns (a YAML list, or comma-separated), e.g. releases/**,*.tar.gz");
  return list.map((g: string) => g.trim());
};

function splitGlobs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const c of s) {
    if (c === "{") depth++;
    if (c === "}") depth = Math.max(0, depth - 1);
    if (c === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out.filter((g) => g.trim() !== "");
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
type Secrecy = "value" | "url";

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

interface AnyKeySpec {
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

type Env = Record<string, string | undefined>;
type Flags = Record<string, string | boolean | string[]>;

interface Candidate {
  raw: unknown;
  source: string;
}

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
  const fileValues = file ? readYaml(file.path, file.source, problems) : new Map<string, Candidate>();

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
  warnUnknownEnv(env, warnings);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function normalizeFlags(flags: Flags): Map<string, string | boolean> {
  const out = new Map<string, string | boolean>();
  for (const [k, v] of Object.entries(flags)) {
    // A repeated flag: the last one wins, as in most CLIs.
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out.set(k.replace(/^-+/, ""), last);
  }
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

function configFile(
  flags: Map<string, string | boolean>,
  env: Env,
  problems: ConfigProblem[],
): { path: string; source: string } | null {
  const flag = flags.get("config");
  if (typeof flag === "boolean") {
    problems.push({ key: "config", source: "--config", expected: "expected a file path after --config" });
    return null;
  }
  if (flag !== undefined) return { path: flag, source: "flag --config" };
  const fromEnv = nonEmpty(env.TUFBOX_CONFIG);
  return fromEnv !== undefined ? { path: fromEnv, source: "env TUFBOX_CONFIG" } : null;
}

function readYaml(file: string, source: string, problems: ConfigProblem[]): Map<string, Candidate> {
  const values = new Map<string, Candidate>();
  let textContent: string;
  try {
    textContent = readFileSync(file, "utf8");
  } catch (e) {
    problems.push({
      key: "config",
      value: JSON.stringify(file),
      source: sourceLabel(source),
      expected: `cannot read the file (${errCode(e)})`,
    });
    return values;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(textContent, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      problems.push({
        key: "config",
        value: JSON.stringify(file),
        expected: `not valid YAML: ${err.message.split("\n")[0]}`,
      });
    }
    return values;
  }
  const where = (node: unknown): string => {
    const range = isNode(node) ? node.range : undefined;
    return range ? `${file} line ${lineCounter.linePos(range[0]).line}` : file;
  };
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return values; // empty file
  if (!isMap(doc.contents)) {
    problems.push({
      key: "config",
      value: JSON.stringify(file),
      expected: "expected a YAML mapping of keys (see config/tufbox.example.yaml)",
    });
    return values;
  }
  const leaves = new Set(KEYS.map((k) => k.path));
  const walk = (map: YamlNode, prefix: string): void => {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const full = prefix + k;
      const valueNode = pair.value;
      const value = isNode(valueNode) ? valueNode.toJS(doc) : valueNode;
      if (leaves.has(full)) {
        // `key:` or `key: null` in the file means "not set here".
        if (value !== null && value !== undefined)
          values.set(full, { raw: value, source: where(valueNode ?? pair.key) });
      } else if ([...leaves].some((l) => l.startsWith(full + "."))) {
        if (isMap(valueNode)) walk(valueNode, full + ".");
        else if (value !== null && value !== undefined) {
          problems.push({
            key: full,
            value: showRaw(value),
            source: where(valueNode),
            expected: `expected a mapping with keys ${childKeys(full).join(", ")}`,
          });
        }
      } else {
        problems.push({
          key: full,
          source: where(pair.key),
          expected: `unknown key${suggest(full, leaves)}; allowed here: ${siblings(prefix).join(", ")}`,
        });
      }
    }
  };
  walk(doc.contents, "");
  return values;
}

function childKeys(section: string): string[] {
  return KEYS.filter((k) => k.path.startsWith(section + ".")).map((k) => k.path.slice(section.length + 1));
}

function siblings(prefix: string): string[] {
  const names = KEYS.filter((k) => k.path.startsWith(prefix)).map((k) => k.path.slice(prefix.length).split(".")[0]!);
  return [...new Set(names)];
}

function suggest(got: string, leaves: Set<string>): string {
  const candidates = new Set<string>();
  for (const l of leaves) {
    candidates.add(l);
    const dot = l.indexOf(".");
    if (dot > 0) candidates.add(l.slice(0, dot));
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(got, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(got.length / 4))
    ? ` (did you mean "${best}"?)`
    : "";
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function envCandidate(spec: AnyKeySpec, env: Env, problems: ConfigProblem[]): Candidate | undefined {
  for (const name of spec.env) {
    const direct = nonEmpty(env[name]);
    const fileName = `${name}_FILE`;
    const filePath = spec.secret ? nonEmpty(env[fileName]) : undefined;
    if (direct !== undefined && filePath !== undefined) {
      problems.push({ key: spec.path, source: `${name} and ${fileName}`, expected: "set only one of the two" });
      return undefined;
    }
    if (direct !== undefined) return { raw: direct, source: `env ${name}` };
    if (filePath !== undefined) {
      try {
        return { raw: readFileSync(filePath, "utf8").trim(), source: `env ${fileName}=${filePath}` };
      } catch (e) {
        problems.push({
          key: spec.path,
          source: `${fileName}=${filePath}`,
          expected: `cannot read the file (${errCode(e)})`,
        });
        return undefined;
      }
    }
  }
  return undefined;
}

function flagCandidate(spec: AnyKeySpec, flags: Map<string, string | boolean>): Candidate | undefined {
  if (spec.flag === undefined) return undefined;
  const v = flags.get(spec.flag);
  if (v === undefined) return undefined;
  // `--data-dir` with no value reaches us as `true`; the parser then says
  // what it expected instead of using the string "true".
  return { raw: v === true && spec.parse !== bool ? undefined : v, source: `flag --${spec.flag}` };
}

function sourceLabel(source: string): string {
  return source.replace(/^(env|flag) /, "");
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
  if (config.storage.driver === "s3" && config.storage.s3.bucket === null) {
    problems.push({
      key: "storage.s3.bucket",
      expected: `must be set when storage.driver is s3 (from ${sourceLabel(src["storage.driver"]!)}): name the bucket (env TUFBOX_S3_BUCKET)`,
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

/** Set to 1 to run with --insecure-disable-auth on an address other than loopback. */
export const I_KNOW_AUTH_IS_DISABLED = "TUFBOX_I_KNOW_AUTH_IS_DISABLED";

function authChecks(config: Config, env: Env, problems: ConfigProblem[]): void {
  const src = config.meta.sources;
  const { auth } = config;
  if (auth.insecure_disable && !isLoopbackHost(config.listen.host) && env[I_KNOW_AUTH_IS_DISABLED] !== "1") {
    problems.push({
      key: "auth.insecure_disable",
      value: "true",
      source: sourceLabel(src["auth.insecure_disable"]!),
      expected: `refused: listen is ${showListen(config.listen)}, not a loopback address, so anyone on the network could change the repository; listen on 127.0.0.1, or set ${I_KNOW_AUTH_IS_DISABLED}=1 if that is really what you want`,
    });
  }
  const oauth = auth.oauth;
  if (oauth.introspection_url !== null) {
    for (const k of ["client_id", "client_secret"] as const) {
      if (oauth[k] === null)
        problems.push({
          key: `auth.oauth.${k}`,
          expected: `required with auth.oauth.introspection_url (env TUFBOX_OAUTH_${k.toUpperCase()} or TUFBOX_OAUTH_${k.toUpperCase()}_FILE)`,
        });
    }
  }
  const jwt = auth.jwt;
  if (jwt.jwks_url !== null) {
    for (const k of ["issuer", "audience"] as const) {
      if (jwt[k] === null)
        problems.push({
          key: `auth.jwt.${k}`,
          expected: `required with auth.jwt.jwks_url: tokens meant for another issuer or service must be refused`,
        });
    }
  }
}

const KNOWN_ENV = new Set([
  "TUFBOX_CONFIG",
  I_KNOW_AUTH_IS_DISABLED,
  ...KEYS.flatMap((k) => k.env.flatMap((e) => (k.secret ? [e, `${e}_FILE`] : [e]))),
]);

function warnUnknownEnv(env: Env, warnings: string[]): void {
  for (const name of Object.keys(env)) {
    // TUFBOX_TEST_* belongs to the test suite, not to the service.
    if (
      name.startsWith("TUFBOX_") &&
      !name.startsWith("TUFBOX_TEST_") &&
      !KNOWN_ENV.has(name) &&
      nonEmpty(env[name]) !== undefined
    ) {
      warnings.push(`environment variable ${name} is not a tufbox setting and is ignored (typo?)`);
    }
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

function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/i, "$1:<redacted>@");
}

function showRaw(raw: unknown, secret?: Secrecy): string {
  if (raw === undefined) return "(no value)";
  if (secret === "value") return "<redacted>";
  let s =
    typeof raw === "string"
      ? JSON.stringify(secret === "url" ? redactUrl(raw) : raw)
      : (JSON.stringify(raw) ?? String(raw));
  if (s.length > 120) s = s.slice(0, 117) + "...";
  return s;
}

function errCode(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : e instanceof Error ? e.message : String(e);
}

function getAt(obj: Record<string, unknown>, p: string): unknown {
  let cur: unknown = obj;
  for (const part of p.split(".")) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

function setAt(obj: Record<string, unknown>, p: string, value: unknown): void {
  const parts = p.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) cur = (cur[part] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}
