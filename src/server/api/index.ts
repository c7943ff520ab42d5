/**
 * The HTTP API: RSTUF v1 routes plus tufbox's own. Every route answers with
 * and without a trailing slash (Elysia matches both). Disabled endpoints
 * (disable_endpoints / RSTUF_DISABLE_ENDPOINTS) answer 404 before routing.
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
import { eventRoutes } from "./events.ts";
import { detail, errorResponse, routeNotFound } from "../errors.ts";
import { dashboardApi } from "../dashboard/api.ts";
import { DashboardPages } from "../dashboard/pages.ts";

function buildApi(app: App) {
  const log = app.log.child({ component: "http" });
  return (
    new Elysia()
      // The one error handler of the API: guards and handlers throw, this answers (../errors.ts).
      .onError({ as: "global" }, ({ code, error, request, route }) => {
        if (code === "NOT_FOUND") return routeNotFound();
        return errorResponse(error, log, `${request.method} ${route ?? new URL(request.url).pathname}`);
      })
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
      .use(dashboardApi(app))
  );
}

/**
 * The route table: every method and path the API answers, read from the
 * router itself, so a new route is covered by what enumerates it (the
 * hostile-input suite fuzzes each one).
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
