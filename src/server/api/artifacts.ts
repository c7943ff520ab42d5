/** POST /api/v1/artifacts, /artifacts/delete, /artifacts/publish (RSTUF-API.md "Artifacts"). */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { parseAddArtifacts, parseRemoveArtifacts } from "../../repository/payloads.ts";
import { readJson } from "./body.ts";
import { accepted, actorOf } from "./route.ts";

const SKIPPED = " Publishing will be skipped.";

export function artifactRoutes(app: App) {
  const limits = app.config.limits;
  return new Elysia()
    .post(
      "/api/v1/artifacts",
      async ({ request }) => {
        const payload = parseAddArtifacts(
          await readJson(request, limits.max_body_bytes),
          limits.max_artifacts_per_request,
          limits.max_custom_bytes,
        );
        const { taskId, paths } = await app.repo.acceptAdd(payload, actorOf(app, request));
        const message = "New Artifact(s) successfully submitted." + (payload.publish ? "" : SKIPPED);
        return accepted(message, { artifacts: paths, task_id: taskId, last_update: new Date().toISOString() });
      },
      { parse: "none" },
    )
    .post(
      "/api/v1/artifacts/delete",
      async ({ request }) => {
        const payload = parseRemoveArtifacts(
          await readJson(request, limits.max_body_bytes),
          limits.max_artifacts_per_request,
        );
        const { taskId, paths } = await app.repo.acceptRemove(payload, actorOf(app, request));
        const message = "Remove Artifact(s) successfully submitted." + (payload.publish ? "" : SKIPPED);
        return accepted(message, { artifacts: paths, task_id: taskId, last_update: new Date().toISOString() });
      },
      { parse: "none" },
    )
    .post(
      "/api/v1/artifacts/publish",
      async ({ request }) => {
        const { taskId } = await app.repo.acceptPublish(actorOf(app, request));
        return accepted("Publish artifacts successfully submitted.", {
          artifacts: [],
          task_id: taskId,
          last_update: new Date().toISOString(),
        });
      },
      { parse: "none" },
    );
}
