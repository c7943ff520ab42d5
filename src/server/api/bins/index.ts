/**
 * POST /api/v1/bins (tufbox native): a new number of hash bins, published
 * online in one batch (src/repository/rebin.ts). Long: answered 202 with a
 * task id; the task reports its progress (details.progress) while it runs.
 */
import type { App } from "../../../core.ts";
import { errorResponses, TaskAccepted } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, nowIso, route } from "../route.ts";
import { resizeBody } from "./model.ts";

export function binsRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "POST",
      path: "/api/v1/bins",
      tag: "bins",
      summary:
        "Resize the hash bins online: new targets delegation and every new bin in one publication (old bins stay listed in snapshot)",
      body: resizeBody,
      responses: {
        202: { description: "accepted: the resize runs in the background (follow the task)", schema: TaskAccepted },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const { taskId } = await app.repo.acceptResize(body.number_of_delegated_bins, actorOf(app, request));
        return accepted("Bins resize accepted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
  ];
}
