import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import {
  CONFIG_FLAGS,
  CONFIG_KEYS,
  ConfigError,
  describeConfig,
  effectiveResignWindowSeconds,
  loadConfig,
  type Config,
} from "../src/config.ts";
import { isEndpointDisabled } from "../src/config/endpoints.ts";
import { createLogger } from "../src/log.ts";

const dir = mkdtempSync(join(tmpdir(), "tufbox-config-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: string, name = `f${n++}.yaml`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

type Opts = Parameters<typeof loadConfig>[0];
function load(opts: Partial<Opts> = {}): Config {
  return loadConfig({ flags: {}, env: {}, stderrIsTTY: false, ...opts });
}

function loadError(opts: Partial<Opts>): ConfigError {
  try {
    load(opts);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

const PEM = [
  "-----BEGIN PRIVATE KEY-----",
  "MC4CAQAwBQYDK2VwBCIEIHb1S9mK3Jp0eQx8Yk2Xo3Z6h7V0Qk9d3J2n1c4e5f6g",
  "-----END PRIVATE KEY-----",
].join("\n");
const TOKEN = "0123456789abcdef0123456789abcdef";

describe("defaults", () => {
  test("every key has a value and the documented default", () => {
    const c = load();
    expect(c.data_dir).toBe("./tufbox-data");
    expect(c.listen).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(c.tls).toEqual({ cert: null, key: null });
    expect(c.database).toBe("sqlite:tufbox-data/tufbox.db");
    expect(c.redis).toBeNull();
    expect(c.online_key_dir).toBe("tufbox-data/keys");
    expect(c.online_key).toBeNull();
    expect(c.auth).toEqual({
      admin_token: null,
      insecure_disable: false,
      metrics_public: true,
      failures: { max: 10, window_seconds: 60 },
      scope_names: {
        read: ["tufbox:read"],
        artifacts_write: ["tufbox:artifacts:write"],
        metadata_sign: ["tufbox:metadata:sign"],
        admin: ["tufbox:admin"],
      },
      oauth: {
        introspection_url: null,
        client_id: null,
        client_secret: null,
        audience: null,
        cache_seconds: 60,
        timeout_ms: 5000,
      },
      jwt: {
        jwks_url: null,
        issuer: null,
        audience: null,
        algorithms: ["RS256", "PS256", "ES256", "EdDSA"],
        clock_skew_seconds: 30,
        jwks_refresh_cooldown_seconds: 5,
        timeout_ms: 5000,
      },
    });
    expect(c.audit).toEqual({ retention_days: 365 });
    expect(c.tasks.retention_hours).toBe(24);
    expect(c.publisher).toEqual({ max_batch: 200000, linger_ms: 5, burst_wait_ms: 5000, poll_ms: 1000 });
    expect(c.scheduler).toEqual({ period_seconds: 60, resign_window_hours: 6 });
    expect(c.targets).toEqual({ dir: "tufbox-data/targets", serve: true });
    expect(c.limits).toEqual({
      max_body_bytes: 16 * 1024 * 1024,
      max_artifacts_per_request: 10000,
      max_custom_bytes: 16 * 1024,
      body_timeout_seconds: 30,
      upload_min_bytes_per_second: 64 * 1024,
      idle_timeout_seconds: 10,
      max_connections_per_source: 128,
      max_upload_bytes: 2 * 1024 ** 3,
    });
    expect(c.disable_endpoints).toEqual([]);
    expect(c.log).toEqual({ level: "info", format: "json" });
    expect(c.meta.file).toBeNull();
    expect(c.meta.warnings).toEqual([]);
    for (const k of CONFIG_KEYS) expect(c.meta.sources[k.path]).toBe("default");
  });

  test("derived defaults follow data_dir, explicit values do not", () => {
    const c = load({ env: { TUFBOX_DATA_DIR: "/srv/tuf", TUFBOX_TARGETS_DIR: "/mnt/targets" } });
    expect(c.database).toBe("sqlite:/srv/tuf/tufbox.db");
    expect(c.online_key_dir).toBe("/srv/tuf/keys");
    expect(c.targets.dir).toBe("/mnt/targets");
  });

  test("log format defaults to text on a terminal and json otherwise; auto does the same", () => {
    expect(load({ stderrIsTTY: true }).log.format).toBe("text");
    expect(load({ stderrIsTTY: false }).log.format).toBe("json");
    expect(load({ stderrIsTTY: true, env: { TUFBOX_LOG_FORMAT: "auto" } }).log.format).toBe("text");
    expect(load({ stderrIsTTY: true, env: { TUFBOX_LOG_FORMAT: "json" } }).log.format).toBe("json");
  });

  test("the returned config does not share objects with the defaults table", () => {
    const a = load();
    a.listen.port = 1;
    a.disable_endpoints.push({ path: "/x" });
    const b = load();
    expect(b.listen.port).toBe(8080);
    expect(b.disable_endpoints).toEqual([]);
  });
});

describe("precedence: defaults < file < env < flag", () => {
  const yaml = file(
    "data_dir: /from-file\nlisten: 10.0.0.1:9000\nlog:\n  level: warn\nscheduler:\n  period_seconds: 30\n",
  );

  test("file overrides defaults", () => {
    const c = load({ flags: { config: yaml } });
    expect(c.data_dir).toBe("/from-file");
    expect(c.listen).toEqual({ host: "10.0.0.1", port: 9000 });
    expect(c.log.level).toBe("warn");
    expect(c.scheduler.period_seconds).toBe(30);
    expect(c.meta.file).toBe(yaml);
    expect(c.meta.sources.data_dir).toBe(`${yaml} line 1`);
    expect(c.meta.sources["log.level"]).toBe(`${yaml} line 4`);
  });

  test("env overrides file", () => {
    const c = load({
      flags: { config: yaml },
      env: { TUFBOX_DATA_DIR: "/from-env", TUFBOX_LOG_LEVEL: "error", TUFBOX_SCHEDULER_PERIOD_SECONDS: "45" },
    });
    expect(c.data_dir).toBe("/from-env");
    expect(c.log.level).toBe("error");
    expect(c.scheduler.period_seconds).toBe(45);
    expect(c.listen.port).toBe(9000); // not overridden: still from the file
    expect(c.meta.sources.data_dir).toBe("env TUFBOX_DATA_DIR");
  });

  test("flags override env and file", () => {
    const c = load({
      flags: { config: yaml, "data-dir": "/from-flag", listen: "[::1]:7000", "log-level": "debug" },
      env: { TUFBOX_DATA_DIR: "/from-env", TUFBOX_LISTEN: "0.0.0.0:1234", TUFBOX_LOG_LEVEL: "error" },
    });
    expect(c.data_dir).toBe("/from-flag");
    expect(c.listen).toEqual({ host: "::1", port: 7000 });
    expect(c.log.level).toBe("debug");
    expect(c.meta.sources.data_dir).toBe("flag --data-dir");
    expect(c.database).toBe("sqlite:/from-flag/tufbox.db");
  });

  test("TUFBOX_CONFIG names the file; --config beats it", () => {
    const other = file("data_dir: /other\n");
    expect(load({ env: { TUFBOX_CONFIG: yaml } }).data_dir).toBe("/from-file");
    expect(load({ env: { TUFBOX_CONFIG: yaml }, flags: { "--config": other } }).data_dir).toBe("/other");
  });

  test("an empty environment variable counts as unset", () => {
    const c = load({ flags: { config: yaml }, env: { TUFBOX_DATA_DIR: "", TUFBOX_REDIS_URL: "" } });
    expect(c.data_dir).toBe("/from-file");
    expect(c.redis).toBeNull();
  });

  test("a bad value is reported even when a higher source overrides it", () => {
    const bad = file("scheduler:\n  period_seconds: 1\n");
    const e = loadError({ flags: { config: bad }, env: { TUFBOX_SCHEDULER_PERIOD_SECONDS: "60" } });
    expect(e.message).toContain(`scheduler.period_seconds = 1 (from ${bad} line 2)`);
  });

  test("flags: booleans, repeated flags, flags without a value", () => {
    expect(load({ flags: { "insecure-disable-auth": true } }).auth.insecure_disable).toBe(true);
    expect(
      load({ flags: { "insecure-disable-auth": "false" }, env: { TUFBOX_INSECURE_DISABLE_AUTH: "yes" } }).auth
        .insecure_disable,
    ).toBe(false);
    expect(load({ flags: { listen: ["127.0.0.1:1", "127.0.0.1:2"] } }).listen.port).toBe(2);
    const e = loadError({ flags: { "data-dir": true } });
    expect(e.message).toContain("data_dir = (no value) (from --data-dir): expected a path");
  });

  test("flags that are not config flags are left alone (they belong to commands)", () => {
    expect(load({ flags: { upstream: "https://example.org", force: true } }).data_dir).toBe("./tufbox-data");
  });

  test("CONFIG_FLAGS plugs into util.parseArgs", () => {
    const { values } = parseArgs({
      args: ["--data-dir", "/d", "--insecure-disable-auth", "--listen=0.0.0.0:9999"],
      options: CONFIG_FLAGS,
      strict: true,
    });
    // Off loopback, the development flag needs the explicit acknowledgement (test/auth/config.test.ts).
    const c = load({ flags: values as Record<string, string | boolean>, env: { TUFBOX_I_KNOW_AUTH_IS_DISABLED: "1" } });
    expect(c.data_dir).toBe("/d");
    expect(c.auth.insecure_disable).toBe(true);
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 9999 });
  });
});

describe("secrets", () => {
  test("_FILE variants read the file and trim it", () => {
    const tokenFile = file(`  ${TOKEN}\n\n`, "token");
    const keyFile = file(`${PEM}\n`, "online.pem");
    const dbFile = file("postgres://tufbox:hunter2hunter2@db:5432/tufbox\n", "db-url");
    const c = load({
      env: { TUFBOX_ADMIN_TOKEN_FILE: tokenFile, TUFBOX_ONLINE_KEY_FILE: keyFile, TUFBOX_DATABASE_URL_FILE: dbFile },
    });
    expect(c.auth.admin_token).toBe(TOKEN);
    expect(c.online_key).toBe(PEM);
    expect(c.database).toBe("postgres://tufbox:hunter2hunter2@db:5432/tufbox");
    expect(c.meta.sources["auth.admin_token"]).toBe(`env TUFBOX_ADMIN_TOKEN_FILE=${tokenFile}`);
  });

  test("the plain variable works too, and setting both is an error", () => {
    expect(load({ env: { TUFBOX_ADMIN_TOKEN: TOKEN } }).auth.admin_token).toBe(TOKEN);
    const e = loadError({ env: { TUFBOX_ADMIN_TOKEN: TOKEN, TUFBOX_ADMIN_TOKEN_FILE: file(TOKEN) } });
    expect(e.message).toContain("auth.admin_token (from TUFBOX_ADMIN_TOKEN and TUFBOX_ADMIN_TOKEN_FILE): set only one");
  });

  test("an unreadable _FILE names the variable and the path", () => {
    const missing = join(dir, "does-not-exist");
    const e = loadError({ env: { TUFBOX_ONLINE_KEY_FILE: missing } });
    expect(e.message).toContain(`online_key (from TUFBOX_ONLINE_KEY_FILE=${missing}): cannot read the file (ENOENT)`);
  });

  test("secret values never appear in error messages", () => {
    const weak = "hunter2";
    const notPem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHb1S9mK3Jp0eQx8"; // truncated key
    const e = loadError({
      env: {
        TUFBOX_ADMIN_TOKEN: weak,
        TUFBOX_ONLINE_KEY: notPem,
        TUFBOX_DATABASE_URL: "mysql://root:s3cr3tpassword@db/x",
        TUFBOX_REDIS_URL: "http://u:r3dispassword@cache",
      },
    });
    expect(e.problems.map((p) => p.key).sort()).toEqual(["auth.admin_token", "database", "online_key", "redis"]);
    expect(e.message).toContain(
      "auth.admin_token = <redacted> (from TUFBOX_ADMIN_TOKEN): expected at least 16 characters",
    );
    expect(e.message).toContain("online_key = <redacted> (from TUFBOX_ONLINE_KEY): expected PEM text");
    expect(e.message).toContain(`database = "mysql://root:<redacted>@db/x"`);
    for (const secret of [weak, "MC4CAQAwBQYDK2VwBCIEIHb1S9mK3Jp0eQx8", "s3cr3tpassword", "r3dispassword"]) {
      expect(e.message).not.toContain(secret);
    }
  });

  test("secrets have no command-line flags (argv is visible in ps)", () => {
    for (const k of CONFIG_KEYS) if (k.secret === "value") expect(k.flag).toBeUndefined();
  });
});

describe("validation: every error names the key, the value, the source and what is allowed", () => {
  // [env var, bad value, key, expected text]
  const envCases: [string, string, string, string][] = [
    ["TUFBOX_SCHEDULER_PERIOD_SECONDS", "abc", "scheduler.period_seconds", "expected an integer between 5 and 3600"],
    ["TUFBOX_SCHEDULER_PERIOD_SECONDS", "4", "scheduler.period_seconds", "expected an integer between 5 and 3600"],
    [
      "TUFBOX_SCHEDULER_RESIGN_WINDOW_HOURS",
      "1.5",
      "scheduler.resign_window_hours",
      "expected an integer between 1 and 8760",
    ],
    ["TUFBOX_TASKS_RETENTION_HOURS", "0", "tasks.retention_hours", "expected an integer between 1 and 8760"],
    ["TUFBOX_PUBLISHER_MAX_BATCH", "-1", "publisher.max_batch", "expected an integer between 1 and 1000000"],
    ["TUFBOX_PUBLISHER_LINGER_MS", "60001", "publisher.linger_ms", "expected an integer between 0 and 60000"],
    ["TUFBOX_PUBLISHER_BURST_WAIT_MS", "-1", "publisher.burst_wait_ms", "expected an integer between 0 and 60000"],
    ["TUFBOX_MAX_BODY_BYTES", "16 furlongs", "limits.max_body_bytes", "expected a size between 1 KiB and 2 GiB"],
    ["TUFBOX_MAX_BODY_BYTES", "3GiB", "limits.max_body_bytes", "expected a size between 1 KiB and 2 GiB"],
    [
      "TUFBOX_MAX_ARTIFACTS_PER_REQUEST",
      "lots",
      "limits.max_artifacts_per_request",
      "expected an integer between 1 and 1000000",
    ],
    ["TUFBOX_LISTEN", "localhost", "listen", "expected HOST:PORT"],
    ["TUFBOX_LISTEN", "127.0.0.1:65536", "listen", "expected a port between 0 and 65535"],
    ["TUFBOX_LISTEN", "::1:8080", "listen", "expected HOST:PORT such as 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080"],
    ["TUFBOX_LISTEN", ":8080", "listen", "write 0.0.0.0:8080 to listen on every interface"],
    ["TUFBOX_DATABASE_URL", "mysql://db/x", "database", "expected sqlite:PATH"],
    ["TUFBOX_DATABASE_URL", "sqlite://tufbox.db", "database", "expected sqlite:PATH"],
    ["TUFBOX_DATABASE_URL", "sqlite:", "database", "expected sqlite:PATH"],
    ["TUFBOX_REDIS_URL", "localhost:6379", "redis", "expected redis://"],
    ["TUFBOX_INSECURE_DISABLE_AUTH", "maybe", "auth.insecure_disable", "expected true or false"],
    ["TUFBOX_TARGETS_SERVE", "2", "targets.serve", "expected true or false"],
    ["TUFBOX_LOG_LEVEL", "verbose", "log.level", "expected one of debug, info, warn, error"],
    ["TUFBOX_LOG_FORMAT", "xml", "log.format", "expected one of auto, json, text"],
    ["TUFBOX_DATA_DIR", "   ", "data_dir", "expected a non-empty path"],
    ["TUFBOX_DISABLE_ENDPOINTS", "api/v1/token", "disable_endpoints", "is not a path"],
    ["RSTUF_DISABLE_ENDPOINTS", "{'FETCH'}/api/v1/token", "disable_endpoints", "methods must be among GET, HEAD"],
  ];
  test.each(envCases)("%s=%p", (envName, value, key, expected) => {
    const e = loadError({ env: { [envName]: value } });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]!.key).toBe(key);
    expect(e.message).toStartWith(`invalid config: ${key} = ${JSON.stringify(value)} (from ${envName}): `);
    expect(e.message).toContain(expected);
  });

  test("the example from the design doc, verbatim", () => {
    const e = loadError({ env: { TUFBOX_SCHEDULER_PERIOD_SECONDS: "abc" } });
    expect(e.message).toBe(
      'invalid config: scheduler.period_seconds = "abc" (from TUFBOX_SCHEDULER_PERIOD_SECONDS): expected an integer between 5 and 3600',
    );
  });

  test("flag values are validated and named by flag", () => {
    const e = loadError({ flags: { "log-level": "loud" } });
    expect(e.message).toBe(
      'invalid config: log.level = "loud" (from --log-level): expected one of debug, info, warn, error',
    );
  });

  test("YAML values are validated and named by file and line", () => {
    const f = file("publisher:\n  max_batch: 0\n  linger_ms: fast\nlimits:\n  max_body_bytes: 12.5\ndata_dir: 42\n");
    const e = loadError({ flags: { config: f } });
    expect(e.problems).toHaveLength(4);
    expect(e.message).toStartWith("invalid config (4 problems):\n");
    expect(e.message).toContain(
      `publisher.max_batch = 0 (from ${f} line 2): expected an integer between 1 and 1000000`,
    );
    expect(e.message).toContain(
      `publisher.linger_ms = "fast" (from ${f} line 3): expected an integer between 0 and 60000`,
    );
    expect(e.message).toContain(`limits.max_body_bytes = 12.5 (from ${f} line 5): expected a size`);
    expect(e.message).toContain(`data_dir = 42 (from ${f} line 6): expected a path (quote it in YAML)`);
  });

  test("all problems are reported at once", () => {
    const e = loadError({ env: { TUFBOX_LOG_LEVEL: "x", TUFBOX_LISTEN: "y", TUFBOX_PUBLISHER_MAX_BATCH: "z" } });
    expect(e.problems.map((p) => p.key).sort()).toEqual(["listen", "log.level", "publisher.max_batch"]);
  });

  test("tls.cert and tls.key: both or neither", () => {
    const e = loadError({ flags: { "tls-cert": "/etc/tufbox/cert.pem" } });
    expect(e.message).toBe(
      "invalid config: tls.key: must be set together with tls.cert (from --tls-cert): set both or neither",
    );
    expect(load({ env: { TUFBOX_TLS_CERT: "/c.pem", TUFBOX_TLS_KEY: "/k.pem" } }).tls).toEqual({
      cert: "/c.pem",
      key: "/k.pem",
    });
  });

  test("accepted forms", () => {
    const c = load({
      env: {
        TUFBOX_MAX_BODY_BYTES: "512KiB",
        TUFBOX_TARGETS_SERVE: "off",
        TUFBOX_LISTEN: "[fe80::1%eth0]:0",
        TUFBOX_DATABASE_URL: "postgresql://tufbox@db.internal:5432/tufbox?sslmode=require",
        TUFBOX_REDIS_URL: "rediss://:pw@cache:6380/2",
        TUFBOX_LOG_LEVEL: "DEBUG",
      },
    });
    expect(c.limits.max_body_bytes).toBe(512 * 1024);
    expect(c.targets.serve).toBe(false);
    expect(c.listen).toEqual({ host: "fe80::1%eth0", port: 0 });
    expect(c.redis).toBe("rediss://:pw@cache:6380/2");
    expect(c.log.level).toBe("debug");
    expect(load({ env: { TUFBOX_DATABASE_URL: "sqlite::memory:" } }).database).toBe("sqlite::memory:");
    expect(load({ env: { TUFBOX_MAX_BODY_BYTES: "1MB" } }).limits.max_body_bytes).toBe(1_000_000);
  });
});

describe("warnings", () => {
  test("ports that fetch clients refuse are allowed but warned about", () => {
    for (const port of [6000, 6665, 6669, 10080]) {
      const c = load({ env: { TUFBOX_LISTEN: `0.0.0.0:${port}` } });
      expect(c.listen.port).toBe(port);
      expect(c.meta.warnings.join("\n")).toContain(`listen port ${port} is on the fetch standard's "bad ports" list`);
    }
    expect(load({ env: { TUFBOX_LISTEN: "0.0.0.0:6670" } }).meta.warnings).toEqual([]);
  });

  test("insecure_disable is loud", () => {
    expect(load({ flags: { "insecure-disable-auth": true } }).meta.warnings.join("\n")).toContain(
      "auth.insecure_disable is true",
    );
  });

  test("unknown TUFBOX_ variables are warned about (typos), test-suite ones are not", () => {
    const c = load({
      env: { TUFBOX_SCHEDULER_PERIOD: "30", TUFBOX_TEST_DATABASE_URL: "postgres://x/y", PATH: "/bin" },
    });
    expect(c.meta.warnings).toEqual([
      "environment variable TUFBOX_SCHEDULER_PERIOD is not a tufbox setting and is ignored (typo?)",
    ]);
  });

  test("the effective re-sign window is never below one period plus a margin", () => {
    expect(effectiveResignWindowSeconds(load())).toBe(6 * 3600);
    expect(effectiveResignWindowSeconds({ scheduler: { period_seconds: 30, resign_window_hours: 0 } })).toBe(90);
    const c = load({ env: { TUFBOX_SCHEDULER_PERIOD_SECONDS: "3600", TUFBOX_SCHEDULER_RESIGN_WINDOW_HOURS: "1" } });
    expect(effectiveResignWindowSeconds(c)).toBe(7200);
    expect(c.meta.warnings.join("\n")).toContain(
      "scheduler.resign_window_hours (1) is shorter than one scheduler period plus a margin; re-signing 7200 seconds",
    );
  });
});

describe("YAML file", () => {
  test("unknown top-level key is rejected, named, located and a correction suggested", () => {
    const f = file("data_dir: /x\nsheduler:\n  period_seconds: 30\n");
    const e = loadError({ flags: { config: f } });
    expect(e.problems).toHaveLength(1);
    expect(e.message).toStartWith(
      `invalid config: sheduler (from ${f} line 2): unknown key (did you mean "scheduler"?)`,
    );
  });

  test("unknown nested key is rejected with its full path", () => {
    const f = file("scheduler:\n  period_second: 30\nauth:\n  token: x\n");
    const e = loadError({ flags: { config: f } });
    expect(e.message).toContain(
      `scheduler.period_second (from ${f} line 2): unknown key (did you mean "scheduler.period_seconds"?)`,
    );
    expect(e.message).toContain(`auth.token (from ${f} line 4): unknown key`);
    expect(e.message).toContain("allowed here: admin_token, insecure_disable");
  });

  test("a section given as a scalar is an error", () => {
    const e = loadError({ flags: { config: file("tls: /etc/cert.pem\n") } });
    expect(e.message).toContain('tls = "/etc/cert.pem"');
    expect(e.message).toContain("expected a mapping with keys cert, key");
  });

  test("invalid YAML, duplicate keys, non-mapping documents, missing files", () => {
    expect(loadError({ flags: { config: file("listen: [unclosed\n") } }).message).toContain("not valid YAML");
    expect(loadError({ flags: { config: file("listen: a:1\nlisten: b:2\n") } }).message).toContain("not valid YAML");
    expect(loadError({ flags: { config: file("- a\n- b\n") } }).message).toContain("expected a YAML mapping");
    const missing = join(dir, "nope.yaml");
    expect(loadError({ env: { TUFBOX_CONFIG: missing } }).message).toBe(
      `invalid config: config = ${JSON.stringify(missing)} (from TUFBOX_CONFIG): cannot read the file (ENOENT)`,
    );
  });

  test("empty file and null values mean 'not set here'", () => {
    expect(load({ flags: { config: file("") } }).data_dir).toBe("./tufbox-data");
    const c = load({ flags: { config: file("redis:\ndatabase: null\ntls:\n") } });
    expect(c.redis).toBeNull();
    expect(c.database).toBe("sqlite:tufbox-data/tufbox.db");
  });

  test("secrets in the file are accepted (and redacted when shown)", () => {
    const c = load({
      flags: { config: file(`auth:\n  admin_token: ${TOKEN}\nonline_key: |\n  ${PEM.split("\n").join("\n  ")}\n`) },
    });
    expect(c.auth.admin_token).toBe(TOKEN);
    expect(c.online_key).toBe(PEM);
  });
});

describe("disable_endpoints", () => {
  test("RSTUF's env var and notation", () => {
    const c = load({
      env: {
        RSTUF_DISABLE_ENDPOINTS:
          "{'POST'}/api/v1/bootstrap/:/api/v1/metadata/:/api/v1/token/:{'DELETE'}/api/v1/targets/",
      },
    });
    expect(c.disable_endpoints).toEqual([
      { path: "/api/v1/bootstrap", methods: ["POST"] },
      { path: "/api/v1/metadata" },
      { path: "/api/v1/token" },
      { path: "/api/v1/targets", methods: ["DELETE"] },
    ]);
    expect(c.meta.sources.disable_endpoints).toBe("env RSTUF_DISABLE_ENDPOINTS");
  });

  test("TUFBOX_DISABLE_ENDPOINTS wins over RSTUF_DISABLE_ENDPOINTS", () => {
    const c = load({
      env: { TUFBOX_DISABLE_ENDPOINTS: "POST,delete /api/v1/artifacts", RSTUF_DISABLE_ENDPOINTS: "/api/v1/token/" },
    });
    expect(c.disable_endpoints).toEqual([{ path: "/api/v1/artifacts", methods: ["POST", "DELETE"] }]);
    expect(load({ env: { TUFBOX_DISABLE_ENDPOINTS: "POST/api/v1/x:/" } }).disable_endpoints).toEqual([
      { path: "/api/v1/x", methods: ["POST"] },
      { path: "/" },
    ]);
  });

  test("YAML list forms", () => {
    const f = file(
      "disable_endpoints:\n  - /api/v1/token/\n  - \"{'GET', 'HEAD'}/api/v1/task\"\n  - { path: /api/v1/metadata, methods: [post] }\n",
    );
    expect(load({ flags: { config: f } }).disable_endpoints).toEqual([
      { path: "/api/v1/token" },
      { path: "/api/v1/task", methods: ["GET", "HEAD"] },
      { path: "/api/v1/metadata", methods: ["POST"] },
    ]);
    const bad = loadError({ flags: { config: file("disable_endpoints:\n  - { path: /x, verbs: [GET] }\n") } });
    expect(bad.message).toContain('unknown field "verbs" in a rule');
  });

  test("matching: path prefixes on segment boundaries, methods, GET covers HEAD", () => {
    const rules = [
      { path: "/api/v1/bootstrap", methods: ["POST"] },
      { path: "/api/v1/token" },
      { path: "/api/v1/task", methods: ["GET"] },
    ];
    expect(isEndpointDisabled(rules, "POST", "/api/v1/bootstrap/")).toBe(true);
    expect(isEndpointDisabled(rules, "GET", "/api/v1/bootstrap")).toBe(false);
    expect(isEndpointDisabled(rules, "post", "/api/v1/token/new")).toBe(true);
    expect(isEndpointDisabled(rules, "GET", "/api/v1/tokens")).toBe(false);
    expect(isEndpointDisabled(rules, "HEAD", "/api/v1/task")).toBe(true);
    expect(isEndpointDisabled(rules, "POST", "/api/v1/task")).toBe(false);
  });
});

describe("describeConfig", () => {
  test("secrets are redacted; everything else is shown as the YAML would say it", () => {
    const c = load({
      env: {
        TUFBOX_ADMIN_TOKEN: TOKEN,
        TUFBOX_ONLINE_KEY: PEM,
        TUFBOX_DATABASE_URL: "postgres://tufbox:hunter2hunter2@db:5432/tufbox",
        TUFBOX_REDIS_URL: "redis://:redispass@cache:6379",
        TUFBOX_LISTEN: "[::]:8443",
        TUFBOX_DISABLE_ENDPOINTS: "{'POST'}/api/v1/bootstrap",
      },
    });
    const d = describeConfig(c);
    expect(d.auth).toMatchObject({ admin_token: "<set>", insecure_disable: false });
    expect(d.online_key).toBe("<set>");
    expect(d.database).toBe("postgres://tufbox:<redacted>@db:5432/tufbox");
    expect(d.redis).toBe("redis://:<redacted>@cache:6379");
    expect(d.listen).toBe("[::]:8443");
    expect(d.disable_endpoints).toEqual(["POST /api/v1/bootstrap"]);
    const printed = JSON.stringify(d);
    for (const secret of [TOKEN, "PRIVATE KEY", "MC4CAQAw", "hunter2hunter2", "redispass"])
      expect(printed).not.toContain(secret);
  });

  test("even the raw Config, logged by mistake, leaks no secret", () => {
    const c = load({
      env: {
        TUFBOX_ADMIN_TOKEN: TOKEN,
        TUFBOX_ONLINE_KEY: PEM,
        TUFBOX_DATABASE_URL: "postgres://tufbox:hunter2hunter2@db:5432/tufbox",
      },
    });
    const lines: string[] = [];
    createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }).info("config", { config: c });
    for (const secret of [TOKEN, "MC4CAQAw", "hunter2hunter2"]) expect(lines[0]).not.toContain(secret);
  });

  test("unset secrets show as null, not as <set>", () => {
    const d = describeConfig(load());
    expect(d.online_key).toBeNull();
    expect((d.auth as Record<string, unknown>).admin_token).toBeNull();
  });
});

describe("config/tufbox.example.yaml", () => {
  const examplePath = join(import.meta.dir, "..", "config", "tufbox.example.yaml");
  const exampleText = readFileSync(examplePath, "utf8");

  function leaves(obj: Record<string, unknown>, prefix = ""): string[] {
    return Object.entries(obj).flatMap(([k, v]) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? leaves(v as Record<string, unknown>, `${prefix}${k}.`)
        : [`${prefix}${k}`],
    );
  }

  test("documents every key, and only known keys", () => {
    expect(leaves(parseYaml(exampleText)).sort()).toEqual(CONFIG_KEYS.map((k) => k.path).sort());
  });

  test("mentions every environment variable and flag", () => {
    for (const k of CONFIG_KEYS) {
      for (const e of k.env) expect(exampleText).toContain(e);
      if (k.flag) expect(exampleText).toContain(`--${k.flag}`);
    }
  });

  test("loads, and its values are the defaults", () => {
    for (const tty of [true, false]) {
      const fromExample = load({ flags: { config: examplePath }, stderrIsTTY: tty });
      const defaults = load({ stderrIsTTY: tty });
      expect({ ...fromExample, meta: null }).toEqual({ ...defaults, meta: null });
    }
  });
});
