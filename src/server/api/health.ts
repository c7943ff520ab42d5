/**
 * /healthz (the process answers) and /readyz (store reachable, bootstrapped,
 * nothing expired, accepted changes getting published: readiness.ts). With Redis configured, /readyz also reports whether it is
 * reachable (`checks.redis`), but a Redis outage does not make a replica
 * unready: it keeps publishing and serving (the publisher polls), and taking
 * every replica out of the load balancer for it would turn a degraded
 * service into an outage. `scheduler_leader` says whether this replica runs
 * the scheduled jobs.
 */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { json } from "../errors.ts";
import { readiness } from "./readiness.ts";

export function healthRoutes(app: App) {
  return new Elysia()
    .get("/healthz", () => json({ status: "ok" }))
    .get("/readyz", async () => {
      const [{ ready, reasons, checks }, alerts] = await Promise.all([readiness(app), app.alerts.current()]);
      const body: Record<string, unknown> = {
        status: ready ? "ready" : "not ready",
        checks,
        scheduler_leader: app.scheduler.leading,
        // Loud on purpose: a load balancer's or operator's first look shows it.
        auth: app.auth.disabled ? "disabled" : "enabled",
        // Alerts do not make a replica unready (an expired role already
        // does): they are what an operator must act on before that.
        warnings: alerts.map((a) => ({ key: a.key, severity: a.severity, summary: a.summary })),
      };
      if (!ready) body.reasons = reasons;
      if (checks.redis === false) body.degraded = ["redis unreachable: replicas fall back to polling"];
      return json(body, ready ? 200 : 503);
    });
}
