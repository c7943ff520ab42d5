/** GET /api/v1/task?task_id= (RSTUF-API.md "Tasks"). An unknown id answers PENDING, as Celery does. */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { ValidationError } from "../../repository/errors.ts";
import { json } from "../errors.ts";

export function taskRoutes(app: App) {
  return new Elysia().get("/api/v1/task", async ({ query }) => {
    const id = query.task_id;
    if (id === undefined || id === "") throw ValidationError.at(["query", "task_id"], "Field required", "missing");
    const task = await app.store.getTask(id);
    return json({
      data: { task_id: id, state: task?.state ?? "PENDING", result: task?.result ?? null },
      message: "Task state.",
    });
  });
}
