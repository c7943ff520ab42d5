/**
 * /healthz (the process answers) and /readyz (store reachable, bootstrapped,
 * nothing expired). With Redis configured, /readyz also reports whether it is
 * reachable (`checks.redis`), but a Redis outage does not make a replica
 * unready: it keeps publishing and serving (the publisher polls), and taking
 * every replica out of the load balancer for it would turn a degraded
 * service into an outage. `scheduler_leader` says whether this replica runs
 * the scheduled jobs.
 */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { json } from "./errors.ts";
import { open } from "./route.ts";

export function healthRoutes(app: App) {
  return new Elysia()
    .get(
      "/healthz",
      open(app, "GET /healthz", () => json({ status: "ok" })),
    )
    .get(
      "/readyz",
      open(app, "GET /readyz", async () => {
        const [store, redis] = await Promise.all([
          app.store.ping().catch(() => false),
          app.config.redis ? app.notifier.ping().catch(() => false) : Promise.resolve(undefined),
        ]);
        const bootstrapped = app.repo.bootstrapped;
        const now = Date.now();
        const expired = app.repo
          .heads()
          .filter((h) => new Date(h.expires).getTime() <= now)
          .map((h) => h.role);
        const ready = store && bootstrapped && expired.length === 0;
        const checks: Record<string, unknown> = { store, bootstrapped, expired_roles: expired.slice(0, 20) };
        if (redis !== undefined) checks.redis = redis;
        const body: Record<string, unknown> = {
          status: ready ? "ready" : "not ready",
          checks,
          scheduler_leader: app.scheduler.leading,
        };
        if (redis === false) body.degraded = ["redis unreachable: replicas fall back to polling"];
        return json(body, ready ? 200 : 503);
      }),
    );
}
