/**
 * JWT access tokens (RFC 9068) verified locally against the authorization
 * server's JWKS, with `jose`: no round trip per request once the keys are
 * known.
 *
 * - Only asymmetric algorithms are accepted (config refuses HS256 and the like, and "none"): with a
 *   shared-secret algorithm anyone holding the JWKS' "key" could mint tokens,
 *   and an `alg` taken from the token itself would let an attacker choose.
 * - `iss` and `aud` must match the configuration; `exp`/`nbf` are checked with
 *   the configured clock skew.
 * - A token signed with a key id the cached JWKS lacks makes jose fetch the
 *   JWKS again (key rotation at the AS), at most once per cooldown so a flood
 *   of made-up key ids cannot turn into a flood of fetches.
 * - JWKS endpoint unreachable, timing out or answering garbage → unavailable
 *   (503 with Retry-After), never accepted.
 * - Scopes from `scope` (space-separated) or `scp`, mapped like introspection.
 */
import type { createRemoteJWKSet } from "jose";

/**
 * jose, loaded by the first JwtVerifier: ~1.5 MiB of an idle server's heap
 * that a server without JWT authentication never needs.
 */
const jose = (): typeof import("jose") => require("jose");
import type { ExternalCheck } from "./introspection.ts";
import type { Principal } from "./principal.ts";
import { mapScopes, scopeClaim, type Scope } from "./scopes.ts";

export { ASYMMETRIC_ALGORITHMS } from "./algorithms.ts";

export interface JwtOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  algorithms: readonly string[];
  clockSkewSeconds: number;
  /** least time between two JWKS fetches caused by an unknown key id */
  refreshCooldownSeconds: number;
  timeoutMs: number;
  scopeNames: Record<Scope, readonly string[]>;
}

export interface JwtStats {
  verified: number;
  unavailable: number;
}

/** Three base64url segments, the first decoding to a JSON header with `alg`: a JWS compact serialization. */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || parts[0] === "") return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && typeof header.alg === "string";
  } catch {
    return false;
  }
}

export class JwtVerifier {
  readonly #opts: JwtOptions;
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly stats: JwtStats = { verified: 0, unavailable: 0 };

  constructor(opts: JwtOptions) {
    this.#opts = opts;
    this.#jwks = jose().createRemoteJWKSet(new URL(opts.jwksUrl), {
      timeoutDuration: opts.timeoutMs,
      cooldownDuration: opts.refreshCooldownSeconds * 1000,
    });
  }

  async check(token: string): Promise<ExternalCheck> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jose().jwtVerify(token, this.#jwks, {
        issuer: this.#opts.issuer,
        audience: this.#opts.audience,
        algorithms: [...this.#opts.algorithms],
        clockTolerance: this.#opts.clockSkewSeconds,
      }));
    } catch (err) {
      return this.#failure(err);
    }
    this.stats.verified++;
    const subject = str(payload.sub) ?? str(payload.client_id) ?? "unknown";
    const principal: Principal = {
      kind: "jwt",
      id: `jwt:${subject}`,
      name: str(payload.client_id) ?? str(payload.azp) ?? subject,
      scopes: mapScopes(scopeClaim(payload), this.#opts.scopeNames),
    };
    return { ok: true, principal };
  }

  #failure(err: unknown): ExternalCheck {
    const { errors } = jose();
    if (err instanceof errors.JWTExpired) return { ok: false, kind: "invalid", reason: "token expired" };
    if (err instanceof errors.JWTClaimValidationFailed)
      return { ok: false, kind: "invalid", reason: `token claim "${err.claim}" is not acceptable (${err.reason})` };
    if (err instanceof errors.JOSEAlgNotAllowed)
      return { ok: false, kind: "invalid", reason: "token signed with an algorithm that is not allowed" };
    if (err instanceof errors.JWKSNoMatchingKey)
      return { ok: false, kind: "invalid", reason: "token signed by a key the JWKS does not have" };
    if (
      err instanceof errors.JWSSignatureVerificationFailed ||
      err instanceof errors.JWSInvalid ||
      err instanceof errors.JWTInvalid ||
      err instanceof errors.JOSENotSupported ||
      err instanceof errors.JWKSMultipleMatchingKeys
    )
      return { ok: false, kind: "invalid", reason: "token signature or format is invalid" };
    // JWKSTimeout, JWKSInvalid, a non-200 JWKS answer, connection errors.
    this.stats.unavailable++;
    const e = err as { code?: string; message?: string };
    return { ok: false, kind: "unavailable", reason: `JWKS unavailable: ${e.code ?? e.message ?? String(err)}` };
  }
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}
