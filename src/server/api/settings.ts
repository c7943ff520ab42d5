/** GET /api/v1/config: the RSTUF settings view. Public data only, never key material. */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { parseSettingsUpdate } from "../../repository/payloads.ts";
import { StateError } from "../../repository/errors.ts";
import { json } from "../errors.ts";
import { readJson } from "./body.ts";
import { accepted, actorOf } from "./route.ts";
import { TOP_LEVEL_ROLES } from "../../tuf/roles.ts";

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
  return data;
}

export function settingsRoutes(app: App) {
  return new Elysia()
    .get("/api/v1/config", () => {
      // No settings before bootstrap: RSTUF answers this state conflict with a 404, not an empty 200.
      if (!app.repo.bootstrapped) throw new StateError("System has not a Repository Metadata");
      return json({ data: settingsView(app), message: "Current Settings" });
    })
    .put(
      "/api/v1/config",
      async ({ request }) => {
        const expiration = parseSettingsUpdate(await readJson(request, app.config.limits.max_body_bytes));
        const { taskId } = await app.repo.updateExpiration(expiration, actorOf(app, request));
        return accepted("Settings successfully submitted.", { task_id: taskId, last_update: new Date().toISOString() });
      },
      { parse: "none" },
    );
}
