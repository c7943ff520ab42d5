/**
 * The HTTP API: RSTUF v1 routes plus tufbox's own. Every route answers with
 * and without a trailing slash (Elysia matches both). Disabled endpoints
 * (disable_endpoints / RSTUF_DISABLE_ENDPOINTS) answer 404 before routing;
 * then the guard (server/auth/guard.ts) checks the token against the route →
 * scope table, before Elysia parses anything.
 */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { isEndpointDisabled } from "../../config.ts";
import { bootstrapRoutes } from "./bootstrap.ts";
import { artifactRoutes } from "./artifacts.ts";
import { uploadRoutes } from "./uploads.ts";
import { taskRoutes } from "./task.ts";
import { settingsRoutes } from "./settings.ts";
import { healthRoutes } from "./health.ts";
import { metadataRoutes } from "./metadata.ts";
import { delegationRoutes } from "./delegations.ts";
import { metricsRoutes } from "./metrics.ts";
import { tokenRoutes } from "./tokens.ts";
import { auditRoutes } from "./audit.ts";
import { eventRoutes } from "./events.ts";
import { detail, errorResponse, routeNotFound } from "../errors.ts";
import { dashboardApi } from "../dashboard/api.ts";
import { DashboardPages } from "../dashboard/pages.ts";

/**
 * The route table: every method and path the API answers, read from the
 * router itself, so a new route is covered by what enumerates it (the
 * hostile-input suite fuzzes each one; the route → scope test checks each
 * has a line in server/auth/route-scopes.ts).
 */
export function routeTable(app: App): { method: string; path: string }[] {
  return apiRoutes(app).routes.map((r) => ({ method: r.method, path: r.path }));
}

export function createApi(app: App): (request: Request, source?: string) => Promise<Response> {
  const api = apiRoutes(app);
  const rules = app.config.disable_endpoints;
  const insecure = app.auth.disabled;
  // The dashboard's pages and scripts are public (no data in them); the data comes from the guarded API.
  const pages = new DashboardPages(app.log.child({ component: "dashboard" }));
  return async (request: Request, source = "unknown") => {
    const response = await handle(request, source);
    // The development flag is loud on every answer, so no one mistakes such a server for a real one.
    if (insecure) response.headers.set(INSECURE_HEADER, "auth-disabled");
    return response;
  };

  async function handle(request: Request, source: string): Promise<Response> {
    const url = new URL(request.url);
    if (rules.length > 0 && isEndpointDisabled(rules, request.method, url.pathname)) {
      return detail(
        404,
        "Endpoint disabled",
        `${request.method} ${url.pathname} is disabled by configuration (disable_endpoints)`,
      );
    }
    const page = await pages.serve(request, url.pathname);
    if (page) return page;
    // Elysia finds the path by scanning from a fixed offset, which misses it
    // behind hosts shorter than 4 characters; re-home those requests.
    const routed =
      url.host.length >= 4 ? request : new Request(`http://localhost${url.pathname}${url.search}`, request);
    // Scopes are checked before Elysia parses anything.
    const refused = await app.guard.check(routed, url.pathname, source);
    if (refused) return refused;
    return api.handle(routed);
  }
}

export const INSECURE_HEADER = "X-Tufbox-Insecure";

/** Every API route; exported so tests can enumerate them against the route → scope table. */
export function apiRoutes(app: App) {
  const log = app.log.child({ component: "http" });
  return (
    new Elysia()
      // The one error handler of the API: guards and handlers throw, this answers (../errors.ts).
      .onError({ as: "global" }, ({ code, error, request, route }) => {
        if (code === "NOT_FOUND") return routeNotFound();
        return errorResponse(error, log, `${request.method} ${route ?? new URL(request.url).pathname}`);
      })
      // A route the router matched but the route → scope table does not cover is refused, not
      // opened. Local hooks apply to the routes registered after them: this comes before every router.
      .onBeforeHandle(({ request }) => app.guard.requireDecision(request))
      .use(healthRoutes(app))
      .use(bootstrapRoutes(app))
      .use(artifactRoutes(app))
      .use(uploadRoutes(app))
      .use(taskRoutes(app))
      .use(settingsRoutes(app))
      .use(metadataRoutes(app))
      .use(delegationRoutes(app))
      .use(metricsRoutes(app))
      .use(eventRoutes(app))
      .use(tokenRoutes(app))
      .use(auditRoutes(app))
      .use(dashboardApi(app))
  );
}
