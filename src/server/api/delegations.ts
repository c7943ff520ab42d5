/** POST/PUT /api/v1/delegations and POST /api/v1/delegations/delete (RSTUF-API.md "Delegations"). */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { asObject, parseDelegations } from "../../repository/payloads.ts";
import { ValidationError } from "../../repository/errors.ts";
import { readJson } from "./body.ts";
import { accepted, actorOf } from "./route.ts";

export function delegationRoutes(app: App) {
  const body = async (request: Request, namesOnly: boolean) => {
    const top = asObject(await readJson(request, app.config.limits.max_body_bytes), ["body"], ["delegations"]);
    if (top.delegations === undefined) throw ValidationError.at(["body", "delegations"], "Field required", "missing");
    return parseDelegations(top.delegations, ["body", "delegations"], { namesOnly });
  };
  const now = () => new Date().toISOString();
  return new Elysia()
    .post(
      "/api/v1/delegations",
      async ({ request }) => {
        const { taskId } = await app.repo.acceptDelegations("add", await body(request, false), actorOf(app, request));
        return accepted("Metadata delegation add accepted.", { task_id: taskId, last_update: now() });
      },
      { parse: "none" },
    )
    .put(
      "/api/v1/delegations",
      async ({ request }) => {
        const { taskId } = await app.repo.acceptDelegations(
          "update",
          await body(request, false),
          actorOf(app, request),
        );
        return accepted("Metadata delegation update accepted.", { task_id: taskId, last_update: now() });
      },
      { parse: "none" },
    )
    .post(
      "/api/v1/delegations/delete",
      async ({ request }) => {
        const { taskId } = await app.repo.acceptDelegations("delete", await body(request, true), actorOf(app, request));
        return accepted("Metadata delegation delete accepted.", { task_id: taskId, last_update: now() });
      },
      { parse: "none" },
    );
}
