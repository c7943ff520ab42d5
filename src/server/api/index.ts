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
import { detail, json } from "./errors.ts";

export function createApi(app: App): (request: Request) => Promise<Response> {
  const api = new Elysia()
    .use(healthRoutes(app))
    .use(bootstrapRoutes(app))
    .use(artifactRoutes(app))
    .use(uploadRoutes(app))
    .use(taskRoutes(app))
    .use(settingsRoutes(app))
    .use(metadataRoutes(app))
    .use(delegationRoutes(app))
    .use(metricsRoutes(app))
    .onError(({ code }) => {
      if (code === "NOT_FOUND") return json({ detail: "Not Found" }, 404);
      return detail(500, "Internal error", "unexpected error");
    });
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
