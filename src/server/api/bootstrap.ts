/** GET/POST /api/v1/bootstrap (RSTUF-API.md "Bootstrap", hash-bins variant). */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { parseBootstrapPayload } from "../../repository/payloads.ts";
import { json } from "../errors.ts";
import { readJson } from "./body.ts";
import { accepted, actorOf } from "./route.ts";

export function bootstrapRoutes(app: App) {
  return new Elysia()
    .get("/api/v1/bootstrap", () => {
      const record = app.repo.bootstrapRecord;
      return json({
        data: { bootstrap: record?.state === "finished", state: record?.state ?? null, id: record?.taskId ?? null },
        message: record ? "System LOCKED for bootstrap." : "System available for bootstrap.",
      });
    })
    .post(
      "/api/v1/bootstrap",
      async ({ request }) => {
        const body = await readJson(request, app.config.limits.max_body_bytes);
        const payload = parseBootstrapPayload(body);
        const { taskId } = await app.repo.acceptBootstrap(payload, actorOf(app, request));
        return accepted("Bootstrap accepted.", { task_id: taskId, last_update: new Date().toISOString() });
      },
      { parse: "none" },
    );
}
