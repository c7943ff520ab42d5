/** The auth.* and audit.* configuration keys: parsing, companions, secrets. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";
import { ConfigError, describeConfig, loadConfig } from "../../src/config.ts";

const dir = mkdtempSync(join(tmpdir(), "tufbox-auth-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const load = (env: Record<string, string>, flags: Record<string, string> = {}) =>
  loadConfig({ flags, env, stderrIsTTY: false });

function problems(env: Record<string, string>, flags: Record<string, string> = {}): string {
  try {
    load(env, flags);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

const OAUTH = {
  TUFBOX_OAUTH_URL: "https://sso.example.com/realms/r/protocol/openid-connect/token/introspect",
  TUFBOX_OAUTH_CLIENT_ID: "tufbox",
  TUFBOX_OAUTH_CLIENT_SECRET: "s3cret-value",
};

describe("OAuth2 introspection keys", () => {
  test("the RDFM-style variables, and _FILE for the secret and the client id", () => {
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, "from-a-file\n");
    const idFile = join(dir, "id");
    writeFileSync(idFile, "tufbox-from-file\n");
    const c = load({
      TUFBOX_OAUTH_URL: OAUTH.TUFBOX_OAUTH_URL,
      TUFBOX_OAUTH_CLIENT_ID_FILE: idFile,
      TUFBOX_OAUTH_CLIENT_SECRET_FILE: secretFile,
      TUFBOX_OAUTH_CACHE_SECONDS: "30",
    });
    expect(c.auth.oauth).toMatchObject({
      introspection_url: OAUTH.TUFBOX_OAUTH_URL,
      client_id: "tufbox-from-file",
      client_secret: "from-a-file",
      cache_seconds: 30,
    });
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain("from-a-file");
  });

  test("a URL needs its client id and secret", () => {
    const m = problems({ TUFBOX_OAUTH_URL: OAUTH.TUFBOX_OAUTH_URL });
    expect(m).toContain("auth.oauth.client_id");
    expect(m).toContain("auth.oauth.client_secret");
  });

  test("credentials never travel in clear text, except to loopback", () => {
    expect(problems({ ...OAUTH, TUFBOX_OAUTH_URL: "http://sso.example.com/introspect" })).toContain("https://");
    expect(load({ ...OAUTH, TUFBOX_OAUTH_URL: "http://127.0.0.1:9000/introspect" }).auth.oauth.introspection_url).toBe(
      "http://127.0.0.1:9000/introspect",
    );
    expect(problems({ ...OAUTH, TUFBOX_OAUTH_URL: "ftp://sso.example.com/x" })).toContain(
      "auth.oauth.introspection_url",
    );
  });

  test("the cache ceiling is bounded", () => {
    expect(problems({ ...OAUTH, TUFBOX_OAUTH_CACHE_SECONDS: "3601" })).toContain("auth.oauth.cache_seconds");
    expect(load({ ...OAUTH, TUFBOX_OAUTH_CACHE_SECONDS: "0" }).auth.oauth.cache_seconds).toBe(0);
  });
});

describe("JWT keys", () => {
  const JWT = {
    TUFBOX_JWT_JWKS_URL: "https://sso.example.com/jwks",
    TUFBOX_JWT_ISSUER: "https://sso.example.com",
    TUFBOX_JWT_AUDIENCE: "tufbox",
  };

  test("a JWKS URL needs an issuer and an audience", () => {
    const m = problems({ TUFBOX_JWT_JWKS_URL: JWT.TUFBOX_JWT_JWKS_URL });
    expect(m).toContain("auth.jwt.issuer");
    expect(m).toContain("auth.jwt.audience");
    expect(load(JWT).auth.jwt.algorithms).toEqual(["RS256", "PS256", "ES256", "EdDSA"]);
  });

  test("only asymmetric algorithms", () => {
    expect(load({ ...JWT, TUFBOX_JWT_ALGORITHMS: "ES384, RS512 EdDSA" }).auth.jwt.algorithms).toEqual([
      "ES384",
      "RS512",
      "EdDSA",
    ]);
    for (const alg of ["HS256", "none", "HS512"]) {
      const m = problems({ ...JWT, TUFBOX_JWT_ALGORITHMS: `ES256,${alg}` });
      expect(m).toContain(`"${alg}" is not allowed`);
    }
  });
});

describe("scope names, failures, metrics, audit", () => {
  test("scope names as a string list or a YAML list", () => {
    const file = join(dir, "scopes.yaml");
    writeFileSync(
      file,
      "auth:\n  scope_names:\n    admin: [rdfm_admin_rw]\n    read: [rdfm_admin_ro, rdfm_admin_rw]\n",
    );
    const c = loadConfig({
      flags: { config: file },
      env: { TUFBOX_SCOPE_NAMES_ARTIFACTS_WRITE: "ci:push, ci:upload" },
      stderrIsTTY: false,
    });
    expect(c.auth.scope_names).toEqual({
      read: ["rdfm_admin_ro", "rdfm_admin_rw"],
      artifacts_write: ["ci:push", "ci:upload"],
      metadata_sign: ["tufbox:metadata:sign"],
      admin: ["rdfm_admin_rw"],
    });
    expect(problems({ TUFBOX_SCOPE_NAMES_READ: " , " })).toContain("auth.scope_names.read");
  });

  test("limits are checked", () => {
    expect(problems({ TUFBOX_AUTH_FAILURES_MAX: "0" })).toContain("auth.failures.max");
    expect(problems({ TUFBOX_AUDIT_RETENTION_DAYS: "0" })).toContain("audit.retention_days");
    expect(load({ TUFBOX_AUDIT_RETENTION_DAYS: "30", TUFBOX_METRICS_PUBLIC: "false" })).toMatchObject({
      audit: { retention_days: 30 },
      auth: { metrics_public: false },
    });
  });
});
