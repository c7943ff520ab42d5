/**
 * The HTTP API: RSTUF v1 routes plus tufbox's own, one folder per feature
 * (`<feature>/index.ts` routes, `<feature>/model.ts` request schemas; the
 * dashboard's read routes in ../dashboard/api.ts). Every route is registered
 * here from its description (route.ts), the same description /openapi.json is
 * made from. Every route answers with and without a trailing slash (Elysia
 * matches both). Disabled endpoints (disable_endpoints /
 * RSTUF_DISABLE_ENDPOINTS) answer 404 before routing; then the one guard
 * (../auth/guard.ts) checks the token against the route → scope table, before
 * Elysia parses anything; every error is answered by one handler (../errors.ts).
 */
import { Elysia } from "elysia";
import { isEndpointDisabled } from "../../config/endpoints.ts";
import type { App } from "../../core.ts";
import { dashboardRoutes } from "../dashboard/api.ts";
import { DashboardPages } from "../dashboard/pages.ts";
import { detail, errorResponse, routeNotFound } from "../errors.ts";
import { artifactRoutes } from "./artifacts/index.ts";
import { auditRoutes } from "./audit/index.ts";
import { backupRoutes } from "./backup/index.ts";
import { readJson } from "./body.ts";
import { binsRoutes } from "./bins/index.ts";
import { bootstrapRoutes } from "./bootstrap/index.ts";
import { settingsRoutes } from "./config/index.ts";
import { delegationRoutes } from "./delegations/index.ts";
import { delegatedMetadataRoutes } from "./metadata-delegated/index.ts";
import { eventRoutes } from "./events.ts";
import { healthRoutes } from "./health/index.ts";
import { metadataRoutes } from "./metadata/index.ts";
import { metricsRoutes } from "./metrics/index.ts";
import { openApiRoute } from "./openapi.ts";
import { publisherRoutes } from "./publisher/index.ts";
import { type ApiRoute, routeBody, routeParams, routeQuery } from "./route.ts";
import { taskRoutes } from "./tasks/index.ts";
import { tokenRoutes } from "./tokens/index.ts";
import { uploadRoutes } from "./uploads/index.ts";

/** Every route of the API, described (route.ts). */
export function describedRoutes(app: App): ApiRoute[] {
  const routes: ApiRoute[] = [
    ...healthRoutes(app),
    ...bootstrapRoutes(app),
    ...artifactRoutes(app),
    ...uploadRoutes(app),
    ...taskRoutes(app),
    ...settingsRoutes(app),
    ...metadataRoutes(app),
    ...delegationRoutes(app),
    ...binsRoutes(app),
    ...delegatedMetadataRoutes(app),
    ...publisherRoutes(app),
    ...metricsRoutes(app),
    ...eventRoutes(app),
    ...tokenRoutes(app),
    ...auditRoutes(app),
    ...backupRoutes(app),
    ...dashboardRoutes(app),
  ];
  routes.push(openApiRoute(app, () => routes));
  return routes;
}

/** The router serving `routes`: validated input, one error handler; exported so tests can enumerate it. */
export function apiRoutes(app: App, routes: readonly ApiRoute[] = describedRoutes(app)) {
  const log = app.log.child({ component: "http" });
  const maxBody = app.config.limits.max_body_bytes;
  const handler =
    (r: ApiRoute) =>
    async ({
      request,
      query,
      params,
    }: {
      request: Request;
      query: Record<string, unknown>;
      params: Record<string, unknown>;
    }) => {
      const body = r.body
        ? routeBody(r, await readJson(request, maxBody, r.emptyBody === undefined ? {} : { emptyAs: r.emptyBody }))
        : undefined;
      return r.handle({ body, query: routeQuery(r, query), params: routeParams(r, params ?? {}), request });
    };
  const api = new Elysia()
    // The one error handler of the API: guards and handlers throw, this answers (../errors.ts).
    .onError({ as: "global" }, ({ code, error, request, route }) => {
      if (code === "NOT_FOUND") return routeNotFound();
      return errorResponse(error, log, `${request.method} ${route ?? new URL(request.url).pathname}`);
    })
    // A route the router matched but the route → scope table does not cover is refused, not
    // opened. Local hooks apply to the routes registered after them: this comes before every route.
    .onBeforeHandle(({ request }) => app.guard.requireDecision(request));
  // Bodies are read by readJson (size first, RSTUF's errors) or by the route itself, never by Elysia's parser.
  for (const r of routes) api.route(r.method, r.path, handler(r), { parse: "none" });
  return api;
}

/**
 * The route table: every method and path the API answers, read from the
 * router itself, so a new route is covered by what enumerates it (the
 * hostile-input suite fuzzes each one; the route → scope test checks each
 * has a line in server/auth/route-scopes.ts; /openapi.json must document each).
 */
export function routeTable(app: App): { method: string; path: string }[] {
  return apiRoutes(app).routes.map((r) => ({ method: r.method, path: r.path }));
}

export const INSECURE_HEADER = "X-Tufbox-Insecure";

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
