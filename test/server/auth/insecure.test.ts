/**
 * --insecure-disable-auth is loud: refused off loopback unless acknowledged,
 * and visible in /readyz, /metrics and a header on every API answer.
 * Also: failed authentications are limited per address, logged without the
 * token, and counted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FailureLimiter } from "../../../src/auth/failures.ts";
import { ConfigError, loadConfig } from "../../../src/config.ts";
import { binsPayload } from "../../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer } from "../../helpers/server.ts";

const load = (flags: Record<string, string | boolean>, env: Record<string, string> = {}) =>
  loadConfig({ flags, env, stderrIsTTY: false });

describe("the development flag is refused off loopback", () => {
  test.each(["127.0.0.1:8080", "127.1.2.3:0", "localhost:8080", "[::1]:8080"])("allowed on %s", (listen) => {
    expect(load({ "insecure-disable-auth": true, listen }).auth.insecure_disable).toBe(true);
  });

  test.each(["0.0.0.0:8080", "[::]:8080", "192.168.1.10:8080", "tuf.example.com:443"])("refused on %s", (listen) => {
    let err: unknown;
    try {
      load({ "insecure-disable-auth": true, listen });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("auth.insecure_disable");
    expect((err as Error).message).toContain("TUFBOX_I_KNOW_AUTH_IS_DISABLED=1");
    // The acknowledgement lets it start; without the flag the variable changes nothing.
    expect(
      load({ "insecure-disable-auth": true, listen }, { TUFBOX_I_KNOW_AUTH_IS_DISABLED: "1" }).auth.insecure_disable,
    ).toBe(true);
    expect(load({ listen }, { TUFBOX_I_KNOW_AUTH_IS_DISABLED: "1" }).meta.warnings).toEqual([]);
  });

  test("the env form of the flag is refused the same way", () => {
    expect(() => load({ listen: "0.0.0.0:1" }, { TUFBOX_INSECURE_DISABLE_AUTH: "true" })).toThrow(ConfigError);
  });
});

describe("a server with authentication disabled", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ flags: { "insecure-disable-auth": true } });
  });
  afterAll(() => s?.stop());

  test("says so in /readyz, /metrics and a header on every API answer", async () => {
    const ready = await fetch(`${s.url}/readyz`);
    expect(((await ready.json()) as any).auth).toBe("disabled");
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain("tufbox_auth_disabled 1");
    for (const path of ["/healthz", "/readyz", "/metrics", "/api/v1/bootstrap", "/api/v1/nothing-here"]) {
      const r = await fetch(s.url + path);
      expect({ path, header: r.headers.get("x-tufbox-insecure") }).toEqual({ path, header: "auth-disabled" });
    }
  });

  test("changes go through without a token, recorded as anonymous", async () => {
    const r = await fetch(`${s.url}/api/v1/bootstrap`, { method: "POST", body: JSON.stringify(binsPayload(4)) });
    expect(r.status).toBe(202);
    expect(r.headers.get("x-tufbox-insecure")).toBe("auth-disabled");
    const log: any = await (await fetch(`${s.url}/api/v1/audit`)).json();
    expect(log.data.entries.at(-1)).toMatchObject({ principal: "anonymous", action: "bootstrap" });
  });
});

describe("a server with authentication on", () => {
  test("says so too, and sends no insecure header", async () => {
    const s = await startTestServer();
    try {
      const ready = await fetch(`${s.url}/readyz`);
      expect(((await ready.json()) as any).auth).toBe("enabled");
      expect(ready.headers.get("x-tufbox-insecure")).toBeNull();
      expect(await (await fetch(`${s.url}/metrics`)).text()).toContain("tufbox_auth_disabled 0");
    } finally {
      await s.stop();
    }
  });

  test("/metrics needs the read scope when auth.metrics_public is false", async () => {
    const s = await startTestServer({ env: { TUFBOX_METRICS_PUBLIC: "false" } });
    try {
      expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
      expect((await s.api("GET", "/metrics")).status).toBe(200);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});

describe("failed authentications", () => {
  test("are limited per address, logged without the token, counted in /metrics", async () => {
    const lines: string[] = [];
    const s = await startTestServer({
      logLines: lines,
      env: { TUFBOX_AUTH_FAILURES_MAX: "3", TUFBOX_AUTH_FAILURES_WINDOW_SECONDS: "3600" },
    });
    try {
      const guesses = ["tufbox_guess-number-one", "not-even-a-tufbox-token", "tufbox_guess-number-three"];
      // Missing credentials are counted but not held against the address.
      for (let i = 0; i < 5; i++) expect((await fetch(`${s.url}/api/v1/config`)).status).toBe(401);
      for (const g of guesses) {
        const r = await s.api("GET", "/api/v1/config", undefined, { authorization: `Bearer ${g}` });
        expect(r.status).toBe(401);
      }
      // The address is now refused, even with the right token, until the window passes.
      const blocked = await s.api("GET", "/api/v1/config");
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(3000);
      expect(blocked.body.detail.error).toContain("too many failed authentications");

      const failures = lines.filter((l) => l.includes("authentication failed"));
      expect(failures.length).toBe(8);
      expect(JSON.parse(failures[0]!)).toMatchObject({ source: "127.0.0.1", route: "GET /api/v1/config" });
      for (const g of [...guesses, TOKEN]) expect(lines.join("\n")).not.toContain(g);

      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toContain('tufbox_auth_failures_total{reason="invalid"} 3');
      expect(metrics).toContain('tufbox_auth_failures_total{reason="missing"} 5');
      expect(metrics).toContain("tufbox_auth_rate_limited_total 1");
    } finally {
      await s.stop();
    }
  });

  test("the window slides, and the number of addresses tracked is bounded", () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter({ max: 2, windowSeconds: 10, maxSources: 3, now: () => now });
    limiter.record("a");
    now += 4000;
    limiter.record("a");
    expect(limiter.retryAfter("a")).toBe(6);
    expect(limiter.retryAfter("b")).toBe(0);
    now += 6000;
    expect(limiter.retryAfter("a")).toBe(0);
    limiter.record("a");
    expect(limiter.retryAfter("a")).toBe(4);
    for (const src of ["b", "c", "d"]) {
      limiter.record(src);
      limiter.record(src);
    }
    // "a" failed least recently: forgotten to keep three addresses.
    expect(limiter.retryAfter("a")).toBe(0);
    expect(limiter.retryAfter("d")).toBe(10);
  });
});
