/** GET /api/v1/events: new timestamp versions as Server-Sent Events (src/server/events.ts), for mirrors. */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { timestampEventsFor } from "../events.ts";

export function eventRoutes(app: App) {
  const events = timestampEventsFor(app.metadata);
  return new Elysia().get("/api/v1/events", ({ request }) => events.respond(request));
}
