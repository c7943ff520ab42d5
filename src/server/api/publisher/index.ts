/**
 * Pausing publication (native; issue 17, Rugged's pause-processing):
 * GET /api/v1/publisher says whether it is paused; POST …/pause and …/resume
 * change it for every replica at once (repository/pause.ts). While paused,
 * changes are still accepted (202) and wait in the queue, and online roles
 * are still re-signed before they expire. Answers 200, not 202: the change
 * is made (stored) before the answer, there is no task to follow.
 */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import type { PublisherState } from "../../../repository/repository.ts";
import { json } from "../../errors.ts";
import { envelope, errorResponses } from "../responses.ts";
import { type ApiRoute, actorOf, route } from "../route.ts";
import { pauseBody } from "./model.ts";

const TAG = "publisher";

const State = envelope(
  Type.Object({
    paused: Type.Boolean(),
    since: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "when it was paused" }),
    by: Type.Union([Type.String(), Type.Null()], { description: "who paused it" }),
    reason: Type.Union([Type.String(), Type.Null()]),
    pending_changes: Type.Union([Type.Integer(), Type.Null()], {
      description: "accepted changes waiting in the queue",
    }),
  }),
);

async function stateData(app: App, state: PublisherState): Promise<Record<string, unknown>> {
  const pending = await app.store.countPendingChanges().catch(() => null);
  return { ...state, pending_changes: pending };
}

export function publisherRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "GET",
      path: "/api/v1/publisher",
      tag: TAG,
      summary: "Whether publication is paused, and how many accepted changes wait",
      responses: {
        200: { description: "the publisher's state", schema: State },
        ...errorResponses({ body: false, query: false }),
      },
      async handle() {
        const state = await app.repo.publisherState();
        return json({ data: await stateData(app, state), message: "Publisher state." });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/publisher/pause",
      tag: TAG,
      summary:
        "Pause publication on every replica: changes are still accepted and queued; online roles are still re-signed before they expire",
      body: pauseBody,
      emptyBody: {},
      responses: {
        200: { description: "paused (or already paused: the first pause is kept)", schema: State },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const { state, changed } = await app.repo.pausePublishing(actorOf(app, request), body.reason ?? null);
        return json({
          data: await stateData(app, state),
          message: changed ? "Publisher paused." : "Publisher already paused.",
        });
      },
    }),
    route({
      method: "POST",
      path: "/api/v1/publisher/resume",
      tag: TAG,
      summary: "Resume publication: everything queued while paused is published",
      responses: {
        200: { description: "resumed (or was not paused)", schema: State },
        ...errorResponses({ body: false, query: false }),
      },
      async handle({ request }) {
        const { state, changed } = await app.repo.resumePublishing(actorOf(app, request));
        return json({
          data: await stateData(app, state),
          message: changed ? "Publisher resumed." : "Publisher was not paused.",
        });
      },
    }),
  ];
}
