/** POST /api/v1/publisher/pause's body (optional): why, shown in status and the audit log. */
import { Type } from "@sinclair/typebox";

/** A reason is a short note for operators, not a document. */
export const REASON_MAX_LENGTH = 200;

export const pauseBody = Type.Object(
  {
    reason: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: REASON_MAX_LENGTH,
        pattern: "^[^\\u0000-\\u001f\\u007f]*$",
        description: "why publication is paused (no control characters)",
      }),
    ),
  },
  { additionalProperties: false },
);
