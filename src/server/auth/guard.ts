/**
 * The one guard in front of every API route: finds the request's line in the
 * route → scope table, authenticates the bearer token and checks its scopes,
 * before the route reads a byte of the body.
 *
 * - no/invalid token → 401 (RFC 6750 `WWW-Authenticate: Bearer`);
 * - valid token without the scope → 403 (`error="insufficient_scope"`);
 * - too many failures from this address → 429 with Retry-After;
 * - authorization server unreachable → 503 with Retry-After (never open).
 *
 * Failures are logged with the address, route and reason — never the token.
 * A request whose path has no table line goes on to the router, which
 * answers 404; should the router nevertheless have a route for it (a route
 * added without a table line), `requireDecision` refuses it: a forgotten
 * line closes the route instead of opening it.
 */
import type { Authenticator } from "../../auth/authenticator.ts";
import { actorFor, type Principal } from "../../auth/principal.ts";
import { grants } from "../../auth/scopes.ts";
import type { Logger } from "../../log.ts";
import type { AuditActor } from "../../store/store.ts";
import { detail } from "../errors.ts";
import { ROUTE_SCOPES, RouteTable, type Access } from "./route-scopes.ts";

export interface GuardDeps {
  auth: Authenticator;
  log: Logger;
  /** `auth.metrics_public`: /metrics without a token */
  metricsPublic: boolean;
}

interface Decision {
  route: string;
  principal: Principal | null;
  source: string;
}

const REALM = 'Bearer realm="tufbox"';

export class Guard {
  readonly #deps: GuardDeps;
  readonly #table: RouteTable;
  readonly #decisions = new WeakMap<Request, Decision>();

  constructor(deps: GuardDeps, table: Record<string, Access> = ROUTE_SCOPES) {
    this.#deps = deps;
    this.#table = new RouteTable(table);
  }

  /** A response refusing the request, or undefined to let it through (its decision remembered). */
  async check(request: Request, pathname: string, source: string): Promise<Response | undefined> {
    const line = this.#table.find(request.method, pathname);
    if (!line) return undefined;
    const access = line.access === "metrics" ? (this.#deps.metricsPublic ? "public" : "read") : line.access;
    if (access === "public") {
      this.#decisions.set(request, { route: line.key, principal: null, source });
      return undefined;
    }
    const outcome = await this.#deps.auth.authenticate(request.headers.get("authorization"), source);
    if (!outcome.ok) {
      if (outcome.status === 401) {
        this.#deps.log.warn("authentication failed", { source, route: line.key, reason: outcome.reason });
        return detail(401, "Unauthorized", outcome.reason, { "www-authenticate": REALM });
      }
      if (outcome.status === 429) {
        return detail(429, "Too Many Requests", outcome.reason, { "retry-after": String(outcome.retryAfter) });
      }
      this.#deps.log.error("token verification unavailable", { source, route: line.key, reason: outcome.reason });
      return detail(503, "Service Unavailable", outcome.reason, { "retry-after": String(outcome.retryAfter) });
    }
    const principal = outcome.principal;
    if (!grants(principal.scopes, access)) {
      this.#deps.log.warn("insufficient scope", { source, route: line.key, principal: principal.id, needs: access });
      return detail(
        403,
        "Forbidden",
        `${line.key} needs the "${access}" scope; this token has ${principal.scopes.length ? principal.scopes.map((s) => `"${s}"`).join(", ") : "none"}`,
        { "www-authenticate": `${REALM}, error="insufficient_scope", scope="${access}"` },
      );
    }
    this.#decisions.set(request, { route: line.key, principal, source });
    return undefined;
  }

  /** The audit actor of a request the guard let through (public routes: none). */
  actorOf(request: Request): AuditActor | undefined {
    const d = this.#decisions.get(request);
    return d?.principal ? actorFor(d.principal, d.source, d.route) : undefined;
  }

  /** Who the guard let through (public routes and refused requests: none); the dashboard's whoami reports it. */
  principalOf(request: Request): Principal | undefined {
    return this.#decisions.get(request)?.principal ?? undefined;
  }

  /** For routes the router matched: refuse any the table does not cover. */
  requireDecision(request: Request): Response | undefined {
    if (this.#decisions.has(request)) return undefined;
    this.#deps.log.error("route has no line in the route → scope table; refused", {
      route: `${request.method} ${new URL(request.url).pathname}`,
    });
    return detail(403, "Forbidden", "this route has no access rule (server misconfiguration)");
  }
}
