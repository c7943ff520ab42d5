/** The upload routes' query parameters and answers (their bodies are streamed: ./index.ts reads them). */
import { type TSchema, Type } from "@sinclair/typebox";
import { ValidationError } from "../../../repository/errors.ts";
import { envelope } from "../responses.ts";
import { extend, type Loc } from "../schema.ts";

/** A boolean query parameter: true/1 or false/0. */
function boolQuery(description: string) {
  return extend(Type.Unsafe<boolean>(Type.String({ enum: ["true", "false", "1", "0"], description })), {
    opaque: true,
    check: (v: unknown, loc: Loc) => {
      if (v === "true" || v === "1") return true;
      if (v === "false" || v === "0") return false;
      throw ValidationError.at(loc, "Input should be a valid boolean (true or false)", "bool_parsing");
    },
  });
}

const publish = Type.Optional(boolQuery("false holds the change like publish_artifacts: false (default true)"));

export const uploadQuery = Type.Object({ publish });

export const putQuery = Type.Object({
  publish,
  add_task_id_to_custom: Type.Optional(boolQuery("add the task id to the artifact's custom (default false)")),
});

export const formSchema = Type.Object({
  file: Type.Array(Type.String({ format: "binary" }), { description: "one part per artifact; filename = target path" }),
  path_prefix: Type.Optional(Type.String({ description: "prepended to every filename (a '/' is added if missing)" })),
});

const TaskId = Type.String({ pattern: "^[0-9a-f]{32}$" });
const stored = (extra: Record<string, TSchema>) =>
  envelope(
    Type.Object({
      artifacts: Type.Array(Type.String()),
      task_id: TaskId,
      last_update: Type.String({ format: "date-time" }),
      ...extra,
    }),
  );
const Hashes = Type.Record(Type.String(), Type.String({ description: "hex digest" }));

export const ContentAccepted = stored({ length: Type.Integer({ minimum: 0 }), hashes: Hashes });

export const FormAccepted = stored({
  files: Type.Array(Type.Object({ path: Type.String(), length: Type.Integer({ minimum: 0 }), hashes: Hashes })),
});
