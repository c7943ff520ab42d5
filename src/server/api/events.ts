/** GET /api/v1/events: new timestamp versions as Server-Sent Events (src/server/events.ts), for mirrors. */
import { Type } from "@sinclair/typebox";
import type { App } from "../../core.ts";
import { timestampEventsFor } from "../events.ts";
import { ErrorDetail } from "./responses.ts";
import { type ApiRoute, route } from "./route.ts";

export function eventRoutes(app: App): ApiRoute[] {
  const events = timestampEventsFor(app.metadata);
  return [
    route({
      method: "GET",
      path: "/api/v1/events",
      tag: "events",
      summary: "New timestamp versions as Server-Sent Events (event: timestamp, data: {version, snapshot})",
      responses: {
        200: {
          description: "an event stream that stays open",
          schema: Type.String({ description: 'event: timestamp / id: N / data: {"version":N,"snapshot":M}' }),
          contentType: "text/event-stream",
        },
        503: { description: "shutting down, or too many streams (poll timestamp.json)", schema: ErrorDetail },
      },
      handle: ({ request }) => events.respond(request),
    }),
  ];
}
