/**
 * /healthz (the process answers) and /readyz (store reachable, bootstrapped,
 * nothing expired, accepted changes getting published: readiness.ts). With Redis configured, /readyz also reports whether it is
 * reachable (`checks.redis`), but a Redis outage does not make a replica
 * unready: it keeps publishing and serving (the publisher polls), and taking
 * every replica out of the load balancer for it would turn a degraded
 * service into an outage. `scheduler_leader` says whether this replica runs
 * the scheduled jobs.
 */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { json } from "../../errors.ts";
import { type ApiRoute, route } from "../route.ts";
import { readiness } from "./readiness.ts";

const Ready = Type.Object({
  status: Type.Union([Type.Literal("ready"), Type.Literal("not ready")]),
  checks: Type.Object(
    {
      store: Type.Boolean(),
      bootstrapped: Type.Boolean(),
      expired_roles: Type.Array(Type.String()),
      pending_changes: Type.Union([Type.Integer(), Type.Null()]),
      publisher: Type.Object({
        failing_attempts: Type.Integer(),
        last_error: Type.Union([Type.String(), Type.Null()]),
        paused: Type.Union([Type.Boolean(), Type.Null()], {
          description: "publication paused (still ready: metadata is served and re-signed, changes are queued)",
        }),
        paused_since: Type.Union([Type.String(), Type.Null()]),
      }),
      redis: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: true },
  ),
  scheduler_leader: Type.Boolean(),
  auth: Type.Union([Type.Literal("enabled"), Type.Literal("disabled")]),
  warnings: Type.Array(
    Type.Object({ key: Type.String(), severity: Type.String(), summary: Type.String() }, { description: "alerts" }),
  ),
  reasons: Type.Optional(Type.Array(Type.String(), { description: "why not ready" })),
  degraded: Type.Optional(Type.Array(Type.String())),
});

export function healthRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "GET",
      path: "/healthz",
      tag: "health",
      summary: "Liveness: the process answers",
      responses: { 200: { description: "alive", schema: Type.Object({ status: Type.Literal("ok") }) } },
      handle: () => json({ status: "ok" }),
    }),
    route({
      method: "GET",
      path: "/readyz",
      tag: "health",
      summary: "Readiness: store reachable, bootstrapped, nothing expired",
      responses: {
        200: { description: "ready", schema: Ready },
        503: { description: "not ready (the checks say why)", schema: Ready },
      },
      async handle() {
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
      },
    }),
  ];
}
