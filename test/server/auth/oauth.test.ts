/**
 * OAuth2 token introspection (RFC 7662) and JWT access tokens (JWKS) against
 * a real authorization server, oidc-provider, started here on loopback
 * (test/helpers/oidc.ts): real client-credentials tokens, opaque and JWT.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { SignJWT } from "jose";
import { binsPayload } from "../../helpers/fixtures.ts";
import { AUDIENCE, startOidc, TUFBOX_CLIENT, type OidcServer } from "../../helpers/oidc.ts";
import { startTestServer, type TestServer } from "../../helpers/server.ts";

let oidc: OidcServer;
const servers: TestServer[] = [];
const item = (path: string) => ({ path, info: { length: 3, hashes: { sha256: "ab".repeat(32) } } });
const as = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  oidc = await startOidc();
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  await oidc?.stop();
});

function introspectionEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TUFBOX_OAUTH_URL: oidc.introspectionUrl,
    TUFBOX_OAUTH_CLIENT_ID: TUFBOX_CLIENT.id,
    TUFBOX_OAUTH_CLIENT_SECRET: TUFBOX_CLIENT.secret,
    ...extra,
  };
}

function jwtEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TUFBOX_JWT_JWKS_URL: oidc.jwksUrl,
    TUFBOX_JWT_ISSUER: oidc.issuer,
    TUFBOX_JWT_AUDIENCE: AUDIENCE,
    TUFBOX_JWT_ALGORITHMS: "ES256",
    TUFBOX_JWT_JWKS_REFRESH_COOLDOWN_SECONDS: "0",
    ...extra,
  };
}

async function server(env: Record<string, string>, bootstrap = false): Promise<TestServer> {
  const s = await startTestServer({ env: { TUFBOX_AUTH_FAILURES_MAX: "1000", ...env } });
  servers.push(s);
  if (bootstrap) {
    const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(4));
    await s.waitTask(r.body.data.task_id);
  }
  return s;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("OAuth2 token introspection", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await server(introspectionEnv(), true);
  });

  test("a client-credentials token's scopes are mapped: artifacts:write adds, and nothing more", async () => {
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:artifacts:write");
    const add = await s.api("POST", "/api/v1/artifacts", { artifacts: [item("oauth/a")] }, as(token));
    expect(add.status).toBe(202);
    expect((await s.api("GET", `/api/v1/task?task_id=${add.body.data.task_id}`, undefined, as(token))).status).toBe(
      200,
    );
    const config = await s.api("PUT", "/api/v1/config", { settings: { expiration: { timestamp: 2 } } }, as(token));
    expect(config.status).toBe(403);
    const entry = (await s.api("GET", "/api/v1/audit?principal=oauth:ci")).body.data.entries.at(-1);
    expect(entry).toMatchObject({ principal: "oauth:ci", principal_name: "ci", action: "add_artifacts" });
  });

  test("an admin token is admin", async () => {
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:admin");
    expect((await s.api("GET", "/api/v1/tokens", undefined, as(token))).status).toBe(200);
  });

  test("answers are cached: a second request does not ask the server again", async () => {
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:read");
    const before = oidc.introspections;
    for (let i = 0; i < 5; i++) expect((await s.api("GET", "/api/v1/config", undefined, as(token))).status).toBe(200);
    expect(oidc.introspections - before).toBe(1);
    expect(s.app.auth.stats.introspection!.cacheHits).toBeGreaterThanOrEqual(4);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/tufbox_auth_introspection_requests_total [1-9]/);
  });

  test("concurrent requests with one new token share one introspection", async () => {
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:read");
    const before = oidc.introspections;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => s.api("GET", "/api/v1/config", undefined, as(token))),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(oidc.introspections - before).toBe(1);
  });

  test("an unknown or revoked token is not active: 401", async () => {
    const r = await s.api("GET", "/api/v1/config", undefined, as("an-opaque-token-the-server-never-issued"));
    expect(r.status).toBe(401);
    expect(r.body.detail.error).toBe("token is not active");
    const uncached = await server(introspectionEnv({ TUFBOX_OAUTH_CACHE_SECONDS: "0" }));
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:read");
    expect((await uncached.api("GET", "/api/v1/tokens", undefined, as(token))).status).toBe(403);
    await oidc.revoke(token);
    expect((await uncached.api("GET", "/api/v1/tokens", undefined, as(token))).status).toBe(401);
  });

  test("the cache is bounded by the ceiling: a revoked token stops working once it passes", async () => {
    const short = await server(introspectionEnv({ TUFBOX_OAUTH_CACHE_SECONDS: "1" }));
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:read");
    expect((await short.api("GET", "/api/v1/config", undefined, as(token))).status).not.toBe(401);
    await oidc.revoke(token);
    // Within the ceiling the cached answer stands (documented: cache_seconds).
    expect((await short.api("GET", "/api/v1/config", undefined, as(token))).status).not.toBe(401);
    await Bun.sleep(1100);
    expect((await short.api("GET", "/api/v1/config", undefined, as(token))).status).toBe(401);
  });

  test("the cache is bounded by the token's lifetime: refused once it expires", async () => {
    const token = await oidc.token("urn:tufbox:short", "tufbox:read");
    expect((await s.api("GET", "/api/v1/config", undefined, as(token))).status).toBe(200);
    await Bun.sleep(2100);
    const r = await s.api("GET", "/api/v1/config", undefined, as(token));
    expect(r.status).toBe(401);
  });

  test("a configured audience must be in the token's aud", async () => {
    const strict = await server(introspectionEnv({ TUFBOX_OAUTH_AUDIENCE: "urn:somewhere-else" }));
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:read");
    const r = await strict.api("GET", "/api/v1/config", undefined, as(token));
    expect(r.status).toBe(401);
    expect(r.body.detail.error).toContain("audience");
    const right = await server(introspectionEnv({ TUFBOX_OAUTH_AUDIENCE: AUDIENCE }));
    expect((await right.api("GET", "/api/v1/bootstrap", undefined, as(token))).status).toBe(200);
  });

  test("scope names are configurable (an existing realm's names)", async () => {
    const mapped = await server(introspectionEnv({ TUFBOX_SCOPE_NAMES_ADMIN: "rdfm_admin_rw, tufbox:admin" }));
    const token = await oidc.token("urn:tufbox:opaque", "rdfm_admin_rw");
    expect((await mapped.api("GET", "/api/v1/tokens", undefined, as(token))).status).toBe(200);
    expect((await s.api("GET", "/api/v1/tokens", undefined, as(token))).status).toBe(403);
  });

  test("an unreachable authorization server is a 503 with Retry-After, never access", async () => {
    const down = await server({
      ...introspectionEnv(),
      TUFBOX_OAUTH_URL: `http://127.0.0.1:${await deadPort()}/introspect`,
    });
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:admin");
    const r = await down.api("GET", "/api/v1/tokens", undefined, as(token));
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("5");
    expect(r.body.detail.error).toContain("cannot verify the token now");
    expect(await (await fetch(`${down.url}/metrics`)).text()).toContain("tufbox_auth_unavailable_total 1");
    // tufbox tokens do not depend on the authorization server.
    expect((await down.api("GET", "/api/v1/tokens")).status).toBe(200);
  });

  test("wrong client credentials for tufbox are a 503 (the operator's problem), not a 401", async () => {
    const wrong = await server(introspectionEnv({ TUFBOX_OAUTH_CLIENT_SECRET: "not-the-secret" }));
    const token = await oidc.token("urn:tufbox:opaque", "tufbox:admin");
    const r = await wrong.api("GET", "/api/v1/tokens", undefined, as(token));
    expect(r.status).toBe(503);
    expect(r.body.detail.error).toContain("HTTP 401");
  });
});

describe("JWT access tokens (JWKS)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await server(jwtEnv(), true);
  });

  test("verified locally: scopes mapped, principal recorded", async () => {
    const token = await oidc.token("urn:tufbox:jwt", "tufbox:artifacts:write");
    expect(token.split(".")).toHaveLength(3);
    const before = oidc.introspections;
    const add = await s.api("POST", "/api/v1/artifacts", { artifacts: [item("jwt/a")] }, as(token));
    expect(add.status).toBe(202);
    expect((await s.api("POST", "/api/v1/metadata/online", {}, as(token))).status).toBe(403);
    expect(oidc.introspections).toBe(before);
    const entry = (await s.api("GET", "/api/v1/audit?principal=jwt:ci")).body.data.entries.at(-1);
    expect(entry).toMatchObject({ principal: "jwt:ci", principal_name: "ci", task_id: add.body.data.task_id });
  });

  test("wrong issuer or audience configured: 401", async () => {
    const token = await oidc.token("urn:tufbox:jwt", "tufbox:admin");
    const otherAud = await server(jwtEnv({ TUFBOX_JWT_AUDIENCE: "urn:other-service" }));
    const r1 = await otherAud.api("GET", "/api/v1/tokens", undefined, as(token));
    expect(r1.status).toBe(401);
    expect(r1.body.detail.error).toContain('"aud"');
    const otherIss = await server(jwtEnv({ TUFBOX_JWT_ISSUER: "https://login.example.com" }));
    const r2 = await otherIss.api("GET", "/api/v1/tokens", undefined, as(token));
    expect(r2.status).toBe(401);
    expect(r2.body.detail.error).toContain('"iss"');
  });

  test("expiry is checked with the configured clock skew", async () => {
    const strict = await server(jwtEnv({ TUFBOX_JWT_CLOCK_SKEW_SECONDS: "0" }));
    const lenient = await server(jwtEnv({ TUFBOX_JWT_CLOCK_SKEW_SECONDS: "120" }));
    const token = await oidc.token("urn:tufbox:short-jwt", "tufbox:read");
    expect((await strict.api("GET", "/api/v1/config", undefined, as(token))).status).not.toBe(401);
    await Bun.sleep(2100);
    const r = await strict.api("GET", "/api/v1/config", undefined, as(token));
    expect(r.status).toBe(401);
    expect(r.body.detail.error).toBe("token expired");
    expect((await lenient.api("GET", "/api/v1/config", undefined, as(token))).status).not.toBe(401);
  });

  test("symmetric and unsigned tokens are refused, even with the right claims", async () => {
    const claims = { scope: "tufbox:admin", client_id: "ci", sub: "ci" };
    const now = Math.floor(Date.now() / 1000);
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: oidc.kid })
      .setIssuer(oidc.issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode("a-shared-secret-anyone-could-guess"));
    const none = [
      Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url"),
      Buffer.from(JSON.stringify({ ...claims, iss: oidc.issuer, aud: AUDIENCE, exp: now + 300 })).toString("base64url"),
      "",
    ].join(".");
    for (const forged of [hs, none]) {
      const r = await s.api("GET", "/api/v1/tokens", undefined, as(forged));
      expect(r.status).toBe(401);
    }
    // A real token whose signature was tampered with.
    const real = await oidc.token("urn:tufbox:jwt", "tufbox:read");
    const [h, p, sig] = real.split(".");
    const other = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), scope: "tufbox:admin" }),
    );
    expect(
      (await s.api("GET", "/api/v1/tokens", undefined, as(`${h}.${other.toString("base64url")}.${sig}`))).status,
    ).toBe(401);
  });

  test("a key rotated at the server is fetched when a token names an unknown key id", async () => {
    const before = await oidc.token("urn:tufbox:jwt", "tufbox:read");
    expect((await s.api("GET", "/api/v1/config", undefined, as(before))).status).toBe(200);
    const oldKid = oidc.kid;
    await oidc.rotateKey();
    expect(oidc.kid).not.toBe(oldKid);
    const after = await oidc.token("urn:tufbox:jwt", "tufbox:read");
    expect(JSON.parse(Buffer.from(after.split(".")[0]!, "base64url").toString()).kid).toBe(oidc.kid);
    expect((await s.api("GET", "/api/v1/config", undefined, as(after))).status).toBe(200);
  });

  test("JWKS unreachable: 503 with Retry-After, never access", async () => {
    const token = await oidc.token("urn:tufbox:jwt", "tufbox:admin");
    const down = await server(jwtEnv({ TUFBOX_JWT_JWKS_URL: `http://127.0.0.1:${await deadPort()}/jwks` }));
    const r = await down.api("GET", "/api/v1/tokens", undefined, as(token));
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("5");
  });

  test("with both configured, JWTs are verified locally and opaque tokens introspected", async () => {
    const both = await server({ ...jwtEnv(), ...introspectionEnv() });
    const before = oidc.introspections;
    const jwt = await oidc.token("urn:tufbox:jwt", "tufbox:read");
    expect((await both.api("GET", "/api/v1/config", undefined, as(jwt))).status).not.toBe(401);
    expect(oidc.introspections).toBe(before);
    const opaque = await oidc.token("urn:tufbox:opaque", "tufbox:read");
    expect((await both.api("GET", "/api/v1/config", undefined, as(opaque))).status).not.toBe(401);
    expect(oidc.introspections).toBe(before + 1);
  });
});
