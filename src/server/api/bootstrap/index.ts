/** GET/POST /api/v1/bootstrap (RSTUF-API.md "Bootstrap"). */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { json } from "../../errors.ts";
import { envelope, errorResponses, TaskAccepted } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, nowIso, route } from "../route.ts";
import { bootstrapBody, toBootstrap } from "./model.ts";

const TAG = "bootstrap";

const BootstrapState = envelope(
  Type.Object({
    bootstrap: Type.Boolean({ description: "true once the repository is published" }),
    state: Type.Union([Type.Literal("pre"), Type.Literal("signing"), Type.Literal("finished"), Type.Null()]),
    id: Type.Union([Type.String({ description: "the bootstrap task" }), Type.Null()]),
  }),
);

export function bootstrapRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "GET",
      path: "/api/v1/bootstrap",
      tag: TAG,
      summary: "Whether the repository is bootstrapped (or a bootstrap is under way)",
      responses: { 200: { description: "the bootstrap state", schema: BootstrapState } },
      handle() {
        const record = app.repo.bootstrapRecord;
        return json({
          data: { bootstrap: record?.state === "finished", state: record?.state ?? null, id: record?.taskId ?? null },
          message: record ? "System LOCKED for bootstrap." : "System available for bootstrap.",
        });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/bootstrap",
      tag: TAG,
      summary: "Bootstrap from a ceremony's payload (waits in a signing session if root v1 lacks signatures)",
      body: bootstrapBody,
      responses: {
        202: { description: "accepted: on disk, run in the background", schema: TaskAccepted },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptBootstrap(toBootstrap(body), actorOf(app, request));
        return accepted("Bootstrap accepted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
  ];
}
