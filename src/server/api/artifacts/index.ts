/** POST /api/v1/artifacts, /artifacts/delete, /artifacts/publish (RSTUF-API.md "Artifacts"). */
import type { App } from "../../../core.ts";
import { ArtifactsAccepted, errorResponses } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, nowIso, route } from "../route.ts";
import { addArtifactsBody, removeArtifactsBody, toAddArtifacts, toRemoveArtifacts } from "./model.ts";

const SKIPPED = " Publishing will be skipped.";
const TAG = "artifacts";

export function artifactRoutes(app: App): ApiRoute[] {
  const max = app.config.limits.max_artifacts_per_request;
  const maxCustomBytes = app.config.limits.max_custom_bytes;
  return [
    route({
      method: "POST",
      path: "/api/v1/artifacts",
      tag: TAG,
      summary: "Add artifacts (published by the next batch, or held with publish_artifacts: false)",
      body: addArtifactsBody(max, maxCustomBytes),
      responses: {
        202: { description: "accepted: on disk, published in the background", schema: ArtifactsAccepted },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const payload = toAddArtifacts(body);
        const { taskId, paths } = await app.repo.acceptAdd(payload, actorOf(app, request));
        const message = `New Artifact(s) successfully submitted.${payload.publish ? "" : SKIPPED}`;
        return accepted(message, { artifacts: paths, task_id: taskId, last_update: nowIso() });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/artifacts/delete",
      tag: TAG,
      summary: "Remove artifacts",
      body: removeArtifactsBody(max),
      responses: {
        202: { description: "accepted: on disk, published in the background", schema: ArtifactsAccepted },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const payload = toRemoveArtifacts(body);
        const { taskId, paths } = await app.repo.acceptRemove(payload, actorOf(app, request));
        const message = `Remove Artifact(s) successfully submitted.${payload.publish ? "" : SKIPPED}`;
        return accepted(message, { artifacts: paths, task_id: taskId, last_update: nowIso() });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/artifacts/publish",
      tag: TAG,
      summary: "Publish every change accepted with publish_artifacts: false",
      responses: {
        202: { description: "accepted", schema: ArtifactsAccepted },
        ...errorResponses({ body: false, query: false }),
      },
      async handle({ request }) {
        const { taskId } = await app.repo.acceptPublish(actorOf(app, request));
        return accepted("Publish artifacts successfully submitted.", {
          artifacts: [],
          task_id: taskId,
          last_update: nowIso(),
        });
      },
    }),
  ];
}
