/** GET /api/v1/task?task_id= (RSTUF-API.md "Tasks"). An unknown id answers PENDING, as Celery does. */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { json } from "../../errors.ts";
import { envelope, errorResponses } from "../responses.ts";
import { type ApiRoute, route } from "../route.ts";
import { taskQuery } from "./model.ts";

const TaskState = envelope(
  Type.Object({
    task_id: Type.String(),
    state: Type.String({ description: "PENDING, STARTED, RUNNING, SUCCESS, FAILURE, ERRORED or REVOKED" }),
    result: Type.Union([
      Type.Object({
        task: Type.String(),
        status: Type.Boolean(),
        last_update: Type.String({ format: "date-time" }),
        message: Type.Optional(Type.String()),
        error: Type.Optional(Type.String()),
        details: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
      }),
      Type.Null(),
    ]),
  }),
);

export function taskRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "GET",
      path: "/api/v1/task",
      tag: "tasks",
      summary: "A task's state and result",
      query: taskQuery,
      responses: {
        200: { description: "the task (PENDING when unknown)", schema: TaskState },
        ...errorResponses({ body: false, query: true }),
      },
      async handle({ query }) {
        const id = query.task_id;
        const task = await app.store.getTask(id);
        return json({
          data: { task_id: id, state: task?.state ?? "PENDING", result: task?.result ?? null },
          message: "Task state.",
        });
      },
    }),
  ];
}
