/**
 * The HTTP API: RSTUF v1 routes plus tufbox's own, one folder per feature
 * (`<feature>/index.ts` routes, `<feature>/model.ts` request schemas). Every
 * route is registered here from its description (route.ts), the same
 * description /openapi.json is made from; mutating routes behind the token
 * guard; every error answered by one handler (../errors.ts). Every route
 * answers with and without a trailing slash (Elysia matches both). Disabled
 * endpoints (disable_endpoints / RSTUF_DISABLE_ENDPOINTS) answer 404 before routing.
 */
import { Elysia } from "elysia";
import { isEndpointDisabled } from "../../config.ts";
import type { App } from "../../core.ts";
import { detail, errorResponse, routeNotFound } from "../errors.ts";
import { artifactRoutes } from "./artifacts/index.ts";
import { readJson } from "./body.ts";
import { bootstrapRoutes } from "./bootstrap/index.ts";
import { settingsRoutes } from "./config/index.ts";
import { delegationRoutes } from "./delegations/index.ts";
import { healthRoutes } from "./health/index.ts";
import { metadataRoutes } from "./metadata/index.ts";
import { metricsRoutes } from "./metrics/index.ts";
import { openApiRoute } from "./openapi.ts";
import { type ApiRoute, requireToken, routeBody, routeQuery } from "./route.ts";
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
  ];
  routes.push(openApiRoute(() => routes));
  return routes;
}

/** The Elysia app serving `routes`: validated input, the token guard on mutating routes, one error handler. */
export function buildApi(app: App, routes: readonly ApiRoute[] = apiRoutes(app)) {
  const log = app.log.child({ component: "http" });
  const maxBody = app.config.limits.max_body_bytes;
  const handler =
    (r: ApiRoute) =>
    async ({ request, query }: { request: Request; query: Record<string, unknown> }) => {
      const body = r.body
        ? routeBody(r, await readJson(request, maxBody, r.emptyBody === undefined ? {} : { emptyAs: r.emptyBody }))
        : undefined;
      return r.handle({ body, query: routeQuery(r, query), request });
    };
  // Bodies are read by readJson (size first, RSTUF's errors), never by Elysia's parser.
  const api = new Elysia()
    // The one error handler of the API: guards and handlers throw, this answers (../errors.ts).
    .onError({ as: "global" }, ({ code, error, request, route }) => {
      if (code === "NOT_FOUND") return routeNotFound();
      return errorResponse(error, log, `${request.method} ${route ?? new URL(request.url).pathname}`);
    });
  for (const r of routes.filter((r) => !r.auth)) api.route(r.method, r.path, handler(r), { parse: "none" });
  api.guard({ beforeHandle: requireToken(app) }, (guarded) => {
    for (const r of routes.filter((r) => r.auth)) guarded.route(r.method, r.path, handler(r), { parse: "none" });
    return guarded;
  });
  return api;
}

export function createApi(app: App): (request: Request) => Promise<Response> {
  const api = buildApi(app);
  const rules = app.config.disable_endpoints;
  return async (request: Request) => {
    const url = new URL(request.url);
    if (rules.length > 0 && isEndpointDisabled(rules, request.method, url.pathname)) {
      return detail(
        404,
        "Endpoint disabled",
        `${request.method} ${url.pathname} is disabled by configuration (disable_endpoints)`,
      );
    }
    // Elysia finds the path by scanning from a fixed offset, which misses it
    // behind hosts shorter than 4 characters; re-home those requests.
    const routed =
      url.host.length >= 4 ? request : new Request(`http://localhost${url.pathname}${url.search}`, request);
    return api.handle(routed);
  };
}
