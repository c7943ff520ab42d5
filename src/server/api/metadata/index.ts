/**
 * Root updates, signing sessions and forced re-signing (RSTUF-API.md "Metadata").
 * RSTUF mangles role names in GET /metadata/sign; tufbox keeps them exact.
 */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { json } from "../../errors.ts";
import { envelope, errorResponses, Message, TaskAccepted } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, nowIso, route } from "../route.ts";
import { onlineBody, rootUpdateBody, signBody, signDeleteBody, toRoles, toRootUpdate } from "./model.ts";

const TAG = "metadata";
const errors = errorResponses({ body: true, query: false });

const Pending = Type.Union([
  envelope(
    Type.Object({
      metadata: Type.Object(
        {
          trusted_root: Type.Optional(Type.Object({}, { additionalProperties: true })),
          trusted_targets: Type.Optional(Type.Object({}, { additionalProperties: true })),
        },
        { additionalProperties: true, description: "each pending role's metadata, by role name" },
      ),
    }),
  ),
  Type.Object({ message: Message }),
]);

export function metadataRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "POST",
      path: "/api/v1/metadata",
      tag: TAG,
      summary: "Root N+1 (published at the thresholds of N and N+1, else pending signatures)",
      body: rootUpdateBody,
      responses: { 202: { description: "accepted", schema: TaskAccepted }, ...errors },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptRootUpdate(toRootUpdate(body), actorOf(app, request));
        return accepted("Metadata update accepted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
    route({
      method: "GET",
      path: "/api/v1/metadata/sign",
      tag: TAG,
      summary: "Documents pending signatures, with the trusted root/targets they are checked against",
      responses: { 200: { description: "the pending documents, or a message saying there are none", schema: Pending } },
      async handle() {
        const pending = await app.repo.pendingSigning();
        if (!pending) return json({ message: "No metadata pending signing available" });
        return json({ data: { metadata: pending }, message: "Metadata role(s) pending signing" });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/metadata/sign",
      tag: TAG,
      summary: "One signature for a pending document",
      body: signBody,
      responses: { 202: { description: "accepted", schema: TaskAccepted }, ...errors },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptSign(body.role, body.signature, actorOf(app, request));
        return accepted("Metadata sign accepted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/metadata/sign/delete",
      tag: TAG,
      summary: "Cancel a pending root (bootstrap or root update)",
      body: signDeleteBody,
      responses: { 202: { description: "accepted", schema: TaskAccepted }, ...errors },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptSignDelete(body.role, actorOf(app, request));
        return accepted("Metadata sign delete accepted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/metadata/online",
      tag: TAG,
      summary: "New versions of online roles now (an empty body: every online role)",
      body: onlineBody,
      // An empty body means "every online role", as RSTUF allows.
      emptyBody: {},
      responses: { 202: { description: "accepted", schema: TaskAccepted }, ...errors },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptBump(toRoles(body), actorOf(app, request));
        return accepted("Force online metadata update accepted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
  ];
}
