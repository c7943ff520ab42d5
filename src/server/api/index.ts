/**
 * The HTTP API: RSTUF v1 routes plus tufbox's own, one folder per feature
 * (`<feature>/index.ts` routes, `<feature>/model.ts` request schemas; the
 * dashboard's read routes in ../dashboard/api.ts). Every route is registered
 * here from its description (route.ts), the same description /openapi.json is
 * made from; guarded routes behind their guard; every error answered by one
 * handler (../errors.ts). Every route answers with and without a trailing
 * slash (Elysia matches both). Disabled endpoints (disable_endpoints /
 * RSTUF_DISABLE_ENDPOINTS) answer 404 before routing.
 */
import { Elysia } from "elysia";
import { isEndpointDisabled } from "../../config/endpoints.ts";
import type { App } from "../../core.ts";
import { dashboardRoutes } from "../dashboard/api.ts";
import { DashboardPages } from "../dashboard/pages.ts";
import { detail, errorResponse, routeNotFound } from "../errors.ts";
import { artifactRoutes } from "./artifacts/index.ts";
import { readJson } from "./body.ts";
import { bootstrapRoutes } from "./bootstrap/index.ts";
import { settingsRoutes } from "./config/index.ts";
import { delegationRoutes } from "./delegations/index.ts";
import { eventRoutes } from "./events.ts";
import { healthRoutes } from "./health/index.ts";
import { metadataRoutes } from "./metadata/index.ts";
import { metricsRoutes } from "./metrics/index.ts";
import { openApiRoute } from "./openapi.ts";
import { type ApiRoute, guardFor, routeBody, routeParams, routeQuery } from "./route.ts";
import { taskRoutes } from "./tasks/index.ts";

/** Every route of the API, described (route.ts). */
export function apiRoutes(app: App): ApiRoute[] {
  const routes: ApiRoute[] = [
    ...healthRoutes(app),
    ...bootstrapRoutes(app),
    ...artifactRoutes(app),
    ...taskRoutes(app),
    ...settingsRoutes(app),
    ...metadataRoutes(app),
    ...delegationRoutes(app),
    ...metricsRoutes(app),
    ...eventRoutes(app),
    ...dashboardRoutes(app),
  ];
  routes.push(openApiRoute(() => routes));
  return routes;
}

/** The Elysia app serving `routes`: validated input, each route's guard, one error handler. */
export function buildApi(app: App, routes: readonly ApiRoute[] = apiRoutes(app)) {
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
    });
  // Bodies are read by readJson (size first, RSTUF's errors), never by Elysia's parser.
  for (const r of routes.filter((x) => x.access === null)) api.route(r.method, r.path, handler(r), { parse: "none" });
  // One Elysia guard per access level: the token (or scope) check runs before every handler behind it.
  for (const access of new Set(routes.map((r) => r.access).filter((a) => a !== null))) {
    api.guard({ beforeHandle: guardFor(app, access) }, (guarded) => {
      for (const r of routes.filter((x) => x.access === access))
        guarded.route(r.method, r.path, handler(r), { parse: "none" });
      return guarded;
    });
  }
  return api;
}

/**
 * The route table: every method and path the API answers, read from the
 * router itself, so a new route is covered by what enumerates it (the
 * hostile-input suite fuzzes each one; /openapi.json must document each).
 */
export function routeTable(app: App): { method: string; path: string }[] {
  return buildApi(app).routes.map((r) => ({ method: r.method, path: r.path }));
}

export function createApi(app: App): (request: Request) => Promise<Response> {
  const api = buildApi(app);
  const rules = app.config.disable_endpoints;
  const pages = new DashboardPages(app.log.child({ component: "dashboard" }));
  return async (request: Request) => {
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
    return api.handle(routed);
  };
}
