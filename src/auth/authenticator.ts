/**
 * Who presented this bearer token? One entry point for every kind of token,
 * tried in an order that never leaks one kind to another party:
 *
 * 1. the bootstrap admin token (TUFBOX_ADMIN_TOKEN), compared in constant time;
 * 2. tufbox tokens (`tufbox_…`): the store, never an external server;
 * 3. a JWT (three base64url segments with an `alg` header), when a JWKS is
 *    configured: verified locally;
 * 4. anything else, when introspection is configured: RFC 7662 at the AS.
 *
 * Failures per source address are counted and limited here too (FailureLimiter),
 * so every path shares one budget; the HTTP guard turns outcomes into 401,
 * 403, 429 and 503.
 */
import { timingSafeEqual } from "node:crypto";
import type { Store } from "../store/store.ts";
import { FailureLimiter } from "./failures.ts";
import { Introspector, type IntrospectionStats } from "./introspection.ts";
import { JwtVerifier, looksLikeJwt, type JwtStats } from "./jwt.ts";
import { ANONYMOUS, type Principal } from "./principal.ts";
import { defaultScopeNames, type Scope } from "./scopes.ts";
import { TOKEN_PREFIX, Tokens, hashToken } from "./tokens.ts";

export interface AuthOptions {
  adminToken: string | null;
  disabled: boolean;
  failures: { max: number; windowSeconds: number };
  scopeNames?: Record<Scope, readonly string[]>;
  oauth?: {
    url: string;
    clientId: string;
    clientSecret: string;
    audience: string | null;
    cacheSeconds: number;
    timeoutMs: number;
  } | null;
  jwt?: {
    jwksUrl: string;
    issuer: string;
    audience: string;
    algorithms: readonly string[];
    clockSkewSeconds: number;
    refreshCooldownSeconds: number;
    timeoutMs: number;
  } | null;
}

export type AuthOutcome =
  | { ok: true; principal: Principal }
  /** 401: no usable credentials */
  | { ok: false; status: 401; reason: string; failure: FailureReason }
  /** 429: this address failed too often */
  | { ok: false; status: 429; reason: string; retryAfter: number }
  /** 503: the authorization server (or JWKS) cannot be asked; retry later */
  | { ok: false; status: 503; reason: string; retryAfter: number };

/** Label of tufbox_auth_failures_total. */
export type FailureReason = "missing" | "malformed" | "invalid" | "expired";

export interface AuthStats {
  failures: Record<FailureReason, number>;
  rateLimited: number;
  unavailable: number;
  introspection: IntrospectionStats | null;
  jwt: JwtStats | null;
}

/** Seconds a client is told to wait when the authorization server is unreachable. */
const UNAVAILABLE_RETRY_AFTER = 5;

export class Authenticator {
  readonly tokens: Tokens;
  readonly #disabled: boolean;
  readonly #adminHash: Buffer | null;
  readonly #introspector: Introspector | null;
  readonly #jwt: JwtVerifier | null;
  readonly #limiter: FailureLimiter;
  readonly #failures: Record<FailureReason, number> = { missing: 0, malformed: 0, invalid: 0, expired: 0 };
  #rateLimited = 0;
  #unavailable = 0;

  constructor(store: Store, opts: AuthOptions) {
    this.tokens = new Tokens(store);
    this.#disabled = opts.disabled;
    this.#adminHash = opts.adminToken ? Buffer.from(hashToken(opts.adminToken), "hex") : null;
    const scopeNames = opts.scopeNames ?? defaultScopeNames();
    this.#introspector = opts.oauth ? new Introspector({ ...opts.oauth, scopeNames }) : null;
    this.#jwt = opts.jwt ? new JwtVerifier({ ...opts.jwt, scopeNames }) : null;
    this.#limiter = new FailureLimiter(opts.failures);
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  /** Which token kinds are accepted, for the start-up log line. */
  describe(): string {
    if (this.#disabled) return "disabled";
    return [
      "tufbox tokens",
      ...(this.#jwt ? ["JWT access tokens (JWKS)"] : []),
      ...(this.#introspector ? ["OAuth2 introspection"] : []),
    ].join(", ");
  }

  get stats(): AuthStats {
    return {
      failures: { ...this.#failures },
      rateLimited: this.#rateLimited,
      unavailable: this.#unavailable,
      introspection: this.#introspector ? { ...this.#introspector.stats } : null,
      jwt: this.#jwt ? { ...this.#jwt.stats } : null,
    };
  }

  /**
   * At start-up: when no admin token is configured and none is stored,
   * generate one (returned to be printed once by the caller, never logged).
   */
  async init(): Promise<string | null> {
    if (this.#disabled || this.#adminHash) return null;
    return this.tokens.generateAdminIfNone();
  }

  /** The generated admin token was printed: nothing left to warn about. */
  async markShown(): Promise<void> {
    await this.tokens.markShown();
  }

  /** True when an admin token was generated at an earlier start but never printed. */
  async neverShown(): Promise<boolean> {
    if (this.#disabled || this.#adminHash) return false;
    return this.tokens.neverShown();
  }

  /** `authorization` is the request's Authorization header; `source` its client address. */
  async authenticate(authorization: string | null, source: string): Promise<AuthOutcome> {
    if (this.#disabled) return { ok: true, principal: ANONYMOUS };
    const wait = this.#limiter.retryAfter(source);
    if (wait > 0) {
      this.#rateLimited++;
      return {
        ok: false,
        status: 429,
        reason: `too many failed authentications from ${source}; retry in ${wait} s`,
        retryAfter: wait,
      };
    }
    const outcome = await this.#check(authorization);
    if (!outcome.ok && outcome.status === 401) {
      this.#failures[outcome.failure]++;
      // A request without credentials guesses nothing (a client that does not
      // send its token for reads, a browser): counted, not held against the address.
      if (outcome.failure !== "missing") this.#limiter.record(source);
    } else if (!outcome.ok && outcome.status === 503) this.#unavailable++;
    return outcome;
  }

  async #check(authorization: string | null): Promise<AuthOutcome> {
    if (!authorization) return fail("missing", "missing Authorization: Bearer <token> header");
    const m = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i.exec(authorization);
    if (!m) return fail("malformed", "Authorization header must be 'Bearer <token>'");
    const token = m[1]!;
    if (this.#adminHash && timingSafeEqual(this.#adminHash, Buffer.from(hashToken(token), "hex")))
      return {
        ok: true,
        principal: { kind: "admin", id: "admin", name: "admin (TUFBOX_ADMIN_TOKEN)", scopes: ["admin"] },
      };
    if (token.startsWith(TOKEN_PREFIX)) {
      const r = await this.tokens.check(token);
      return r.ok ? r : fail(r.reason.startsWith("token expired") ? "expired" : "invalid", r.reason);
    }
    const external = this.#jwt && looksLikeJwt(token) ? this.#jwt : this.#introspector;
    if (!external) return fail("invalid", "invalid token");
    const r = await external.check(token);
    if (r.ok) return r;
    if (r.kind === "unavailable")
      return {
        ok: false,
        status: 503,
        reason: `cannot verify the token now: ${r.reason}`,
        retryAfter: UNAVAILABLE_RETRY_AFTER,
      };
    return fail(r.reason === "token expired" ? "expired" : "invalid", r.reason);
  }
}

function fail(failure: FailureReason, reason: string): AuthOutcome {
  return { ok: false, status: 401, reason, failure };
}
