/**
 * OAuth 2.0 Token Introspection (RFC 7662) against the organisation's
 * authorization server (Keycloak, Okta, oidc-provider, …).
 *
 * - tufbox authenticates as a client (RFC 7662 §2.1 requires the protected
 *   resource to be authorized to call the endpoint), with HTTP Basic as
 *   RFC 6749 §2.3.1 writes it: id and secret form-urlencoded before base64.
 * - `active: false`, an `exp` in the past, an `nbf` in the future or (when
 *   configured) an `aud` without ours → 401 (§2.2: the AS may keep answering
 *   active for a token we must still refuse).
 * - Active answers are cached for at most the token's remaining lifetime and
 *   a ceiling (default 60 s): a token revoked at the AS stops working within
 *   the ceiling. Inactive answers are not cached: a token not yet valid may
 *   become so, and floods of bad tokens are bounded by the per-address
 *   failure limit instead.
 * - An AS that cannot be reached, times out, answers non-200 or not the
 *   RFC's JSON → "unavailable" (the guard answers 503 with Retry-After):
 *   never an open door, never a 401 that makes a client drop a good token.
 * - Identical lookups in flight share one request.
 */
import { createHash } from "node:crypto";
import type { Principal } from "./principal.ts";
import { mapScopes, scopeClaim, type Scope } from "./scopes.ts";

export interface IntrospectionOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  /** when set, the token's `aud` must include it */
  audience: string | null;
  /** longest an active answer is reused */
  cacheSeconds: number;
  timeoutMs: number;
  scopeNames: Record<Scope, readonly string[]>;
  /** cached answers kept at most (oldest dropped first) */
  maxCacheEntries?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

export type ExternalCheck =
  | { ok: true; principal: Principal }
  | { ok: false; kind: "invalid"; reason: string }
  | { ok: false; kind: "unavailable"; reason: string };

export interface IntrospectionStats {
  requests: number;
  cacheHits: number;
  unavailable: number;
}

interface Cached {
  principal: Principal;
  /** ms epoch until which the answer may be reused */
  until: number;
}

export class Introspector {
  readonly #opts: IntrospectionOptions;
  readonly #authorization: string;
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<ExternalCheck>>();
  readonly #now: () => number;
  readonly #fetch: typeof fetch;
  readonly stats: IntrospectionStats = { requests: 0, cacheHits: 0, unavailable: 0 };

  constructor(opts: IntrospectionOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#fetch = opts.fetch ?? fetch;
    const form = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
    this.#authorization = `Basic ${Buffer.from(`${form(opts.clientId)}:${form(opts.clientSecret)}`).toString("base64")}`;
  }

  async check(token: string): Promise<ExternalCheck> {
    // Keyed by hash: the raw token is not kept around as a map key.
    const key = createHash("sha256").update(token).digest("base64url");
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit) {
      if (hit.until > now) {
        this.stats.cacheHits++;
        return { ok: true, principal: hit.principal };
      }
      this.#cache.delete(key);
    }
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#introspect(token, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #introspect(token: string, key: string): Promise<ExternalCheck> {
    this.stats.requests++;
    let res: Response;
    try {
      res = await this.#fetch(this.#opts.url, {
        method: "POST",
        headers: {
          authorization: this.#authorization,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
        redirect: "error",
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      });
    } catch (err) {
      const e = err as { name?: string; code?: string; message?: string };
      return this.#unavailable(
        e.name === "TimeoutError" ? `no answer within ${this.#opts.timeoutMs} ms` : (e.code ?? e.message ?? "error"),
      );
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (res.status !== 200) {
      // 401/403 here means tufbox's own client credentials are wrong: an
      // operator problem, not the caller's.
      return this.#unavailable(`introspection endpoint answered HTTP ${res.status}`);
    }
    if (typeof body !== "object" || body === null || typeof (body as { active?: unknown }).active !== "boolean")
      return this.#unavailable("introspection endpoint answered without a boolean `active` (RFC 7662 §2.2)");
    const claims = body as Record<string, unknown>;
    if (claims.active !== true) return { ok: false, kind: "invalid", reason: "token is not active" };
    const now = this.#now();
    const exp = typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
    if (exp !== undefined && exp <= now) return { ok: false, kind: "invalid", reason: "token expired" };
    if (typeof claims.nbf === "number" && claims.nbf * 1000 > now)
      return { ok: false, kind: "invalid", reason: "token not yet valid" };
    const audience = this.#opts.audience;
    if (audience !== null) {
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!aud.includes(audience))
        return { ok: false, kind: "invalid", reason: `token audience does not include ${audience}` };
    }
    const subject = str(claims.sub) ?? str(claims.client_id) ?? "unknown";
    const principal: Principal = {
      kind: "oauth",
      id: `oauth:${subject}`,
      name: str(claims.username) ?? str(claims.client_id) ?? subject,
      scopes: mapScopes(scopeClaim(claims), this.#opts.scopeNames),
    };
    const until = Math.min(now + this.#opts.cacheSeconds * 1000, exp ?? Number.POSITIVE_INFINITY);
    if (until > now) this.#remember(key, { principal, until });
    return { ok: true, principal };
  }

  #unavailable(reason: string): ExternalCheck {
    this.stats.unavailable++;
    return { ok: false, kind: "unavailable", reason };
  }

  #remember(key: string, entry: Cached): void {
    const max = this.#opts.maxCacheEntries ?? 10_000;
    while (this.#cache.size >= max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, entry);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}
