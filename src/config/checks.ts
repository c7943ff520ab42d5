/**
 * Checks across keys, after each key's own parser: settings that must come
 * together (tls.cert and tls.key, OAuth client id and secret), refusals
 * (auth disabled on a non-loopback address) and start-up warnings.
 */
import { type Env, I_KNOW_AUTH_IS_DISABLED, sourceLabel } from "./sources.ts";
import type { Config, ConfigProblem } from "./types.ts";
import { FETCH_BAD_PORTS, isLoopbackHost, showListen } from "./values.ts";

export function crossChecks(config: Config, problems: ConfigProblem[], warnings: string[]): void {
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

export function authChecks(config: Config, env: Env, problems: ConfigProblem[]): void {
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
