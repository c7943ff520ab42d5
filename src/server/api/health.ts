/** /healthz (the process answers) and /readyz (store reachable, bootstrapped, nothing expired). */
import { Elysia } from "elysia";
import type { App } from "../../app.ts";
import { json } from "./errors.ts";
import { open } from "./route.ts";

export function healthRoutes(app: App) {
  return new Elysia()
    .get("/healthz", open(app, "GET /healthz", () => json({ status: "ok" })))
    .get("/readyz", open(app, "GET /readyz", async () => {
      const store = await app.store.ping().catch(() => false);
      const bootstrapped = app.repo.bootstrapped;
      const now = Date.now();
      const expired = app.repo.heads().filter((h) => new Date(h.expires).getTime() <= now).map((h) => h.role);
      const ready = store && bootstrapped && expired.length === 0;
      return json({ status: ready ? "ready" : "not ready", checks: { store, bootstrapped, expired_roles: expired.slice(0, 20) } }, ready ? 200 : 503);
    }));
}
