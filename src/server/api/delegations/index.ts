/** POST/PUT /api/v1/delegations and POST /api/v1/delegations/delete (RSTUF-API.md "Delegations"). */
import type { App } from "../../../core.ts";
import { errorResponses, TaskAccepted } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, type Method, nowIso, route } from "../route.ts";
import { delegationsBody, toDelegations } from "./model.ts";

const OPS: [Method, string, "add" | "update" | "delete", string][] = [
  ["POST", "/api/v1/delegations", "add", "Add delegated roles"],
  ["PUT", "/api/v1/delegations", "update", "Change delegated roles"],
  ["POST", "/api/v1/delegations/delete", "delete", "Delete delegated roles (a deleted name is never reused)"],
];

export function delegationRoutes(app: App): ApiRoute[] {
  return OPS.map(([method, path, op, summary]) =>
    route({
      method,
      path,
      tag: "delegations",
      summary,
      body: delegationsBody({ namesOnly: op === "delete" }),
      responses: {
        202: { description: "accepted", schema: TaskAccepted },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptDelegations(op, toDelegations(body.delegations), actorOf(app, request));
        return accepted(`Metadata delegation ${op} accepted.`, { task_id: taskId, last_update: nowIso() });
      },
    }),
  );
}
