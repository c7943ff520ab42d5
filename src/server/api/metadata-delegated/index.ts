/**
 * POST /api/v1/delegations/metadata: a delegated role's next version, signed
 * with its offline keys elsewhere and uploaded whole (issue 17; RSTUF issue
 * #647, draft API PR #939, whose path, body and answer this follows: 202
 * "Metadata delegation add accepted." with a task). A document that does not
 * verify, skips a version, leaves the role's paths, is over the client size
 * cap or has expired is refused with 422 naming the field; nothing is queued.
 */
import type { App } from "../../../core.ts";
import { errorResponses, TaskAccepted } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, nowIso, route } from "../route.ts";
import { delegatedUploadBody } from "./model.ts";

export function delegatedMetadataRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "POST",
      path: "/api/v1/delegations/metadata",
      tag: "delegations",
      summary: "Upload a delegated role's next version, fully signed by its offline keys",
      body: delegatedUploadBody,
      responses: {
        202: { description: "accepted: published with a new snapshot and timestamp", schema: TaskAccepted },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptDelegatedUpload(body.rolename, body.metadata, actorOf(app, request));
        return accepted("Metadata delegation add accepted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
  ];
}
