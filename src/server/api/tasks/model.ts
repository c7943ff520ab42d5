/** GET /api/v1/task's query. */
import { Type } from "@sinclair/typebox";
import { extend, words } from "../schema.ts";

export const taskQuery = Type.Object({
  task_id: extend(Type.String({ minLength: 1, description: "as a 202 answered it" }), {
    messages: { minLength: words("Field required", "missing") },
  }),
});
