/** GET/PUT /api/v1/config: the RSTUF settings view, and new expiry per role. Public data only, never key material. */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { StateError } from "../../../repository/errors.ts";
import { TOP_LEVEL_ROLES } from "../../../tuf/roles.ts";
import { json } from "../../errors.ts";
import { envelope, errorResponses, TaskAccepted } from "../responses.ts";
import { type ApiRoute, accepted, actorOf, nowIso, route } from "../route.ts";
import { configBody, toExpiration } from "./model.ts";

const TAG = "config";

const Settings = envelope(
  Type.Object(
    {
      number_of_delegated_bins: Type.Union([Type.Integer(), Type.Null()]),
      targets_online_key: Type.Boolean(),
      consistent_snapshot: Type.Boolean(),
      online_key_id: Type.String(),
      online_keys: Type.Record(Type.String(), Type.String(), {
        description:
          "keyid of the online key signing each online role (targets, snapshot, timestamp, bins, online delegated roles)",
      }),
    },
    { additionalProperties: true, description: "also <role>_expiration, <role>_threshold, <role>_num_keys" },
  ),
);

export function settingsView(app: App): Record<string, unknown> {
  const settings = app.repo.settings;
  const root = app.repo.root;
  if (!settings || !root) return {};
  const data: Record<string, unknown> = {};
  for (const [role, days] of Object.entries(settings.expiration)) data[`${role}_expiration`] = days;
  for (const role of TOP_LEVEL_ROLES) {
    data[`${role}_threshold`] = root.signed.roles[role].threshold;
    data[`${role}_num_keys`] = root.signed.roles[role].keyids.length;
  }
  data.number_of_delegated_bins = settings.bins?.count ?? null;
  data.targets_online_key = true;
  data.consistent_snapshot = settings.consistentSnapshot;
  data.online_key_id = settings.onlineKeyId;
  data.online_keys = app.repo.onlineKeys();
  return data;
}

export function settingsRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "GET",
      path: "/api/v1/config",
      tag: TAG,
      summary: "The repository's settings: expiry, thresholds, bins, online key",
      responses: {
        200: { description: "the settings", schema: Settings },
        ...errorResponses({ body: false, query: false }),
      },
      handle() {
        // No settings before bootstrap: RSTUF answers this state conflict with a 404, not an empty 200.
        if (!app.repo.bootstrapped) throw new StateError("System has not a Repository Metadata");
        return json({ data: settingsView(app), message: "Current Settings" });
      },
    }),
    route({
      method: "PUT",
      path: "/api/v1/config",
      tag: TAG,
      summary: "New expiry (days) per role, from each role's next signature",
      body: configBody,
      responses: {
        202: { description: "accepted", schema: TaskAccepted },
        ...errorResponses({ body: true, query: false }),
      },
      async handle({ body, request }) {
        const { taskId } = await app.repo.updateExpiration(toExpiration(body), actorOf(app, request));
        return accepted("Settings successfully submitted.", { task_id: taskId, last_update: nowIso() });
      },
    }),
  ];
}
