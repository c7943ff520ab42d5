/**
 * A mirror's HTTP side: tufbox's static server (src/server/http.ts) for
 * /metadata/ and /targets/ (with the mirror's fetch-on-first-request for
 * targets), plus the few routes a mirror answers itself:
 *
 * - `/healthz`: the process answers.
 * - `/readyz`: 200 while there is a verified state to serve, even a stale
 *   one (devices can still update from it, and a load balancer must not take
 *   the only copy away while the upstream is down); `stale_since` says since
 *   when it is behind. 503 before the first verified state.
 * - `/metrics`: Prometheus text, `tufbox_mirror_*`.
 * - `/api/v1/events`: the same change feed as tufbox, so mirrors chain.
 * - `/api/v1/mirror`: the status as JSON (`tufbox status --server MIRROR`).
 */
import { startHttpServer, type HttpServer } from "../server/http.ts";
import { TimestampEvents } from "../server/events.ts";
import type { Logger } from "../log.ts";
import type { Mirror } from "./mirror.ts";
import { FAILURE_REASONS } from "./sync.ts";

export interface MirrorServerOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  log: Logger;
  /**
   * Files served as prebuilt static routes (default 64: the top-level roles
   * and the busiest bins). Each holds its own copy of the bytes; a small
   * device serves the rest from memory through fetch at a lower but ample rate.
   */
  maxStaticRoutes?: number;
}

export interface MirrorServer {
  readonly url: string;
  readonly http: HttpServer;
  stop(): Promise<void>;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}

function seconds(iso: string | null | undefined, now: number): number {
  return iso ? Math.round((new Date(iso).getTime() - now) / 1000) : 0;
}

export function mirrorMetrics(mirror: Mirror): string {
  const s = mirror.status();
  const now = Date.now();
  const out: string[] = [];
  const metric = (
    name: string,
    help: string,
    type: "gauge" | "counter",
    samples: [Record<string, string>, number][],
  ) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`)
        .join(",");
      out.push(`${name}${l ? `{${l}}` : ""} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  metric(
    "tufbox_mirror_last_success_timestamp_seconds",
    "Unix time of the last sync that verified the upstream (0 = never)",
    "gauge",
    [[{}, s.last_success_at ? Math.floor(new Date(s.last_success_at).getTime() / 1000) : 0]],
  );
  metric(
    "tufbox_mirror_stale",
    "1 while the last sync failed and the served state may be behind the upstream",
    "gauge",
    [[{}, s.stale_since ? 1 : 0]],
  );
  metric("tufbox_mirror_ready", "1 when there is a verified state to serve", "gauge", [[{}, mirror.ready ? 1 : 0]]);
  metric("tufbox_mirror_syncs_total", "syncs attempted since start", "counter", [[{}, s.syncs]]);
  metric(
    "tufbox_mirror_sync_failures_total",
    "syncs refused since start, by reason (unreachable, tampered, rollback, expired, invalid)",
    "counter",
    FAILURE_REASONS.map((r) => [{ reason: r }, s.failures[r]]),
  );
  const versions: [Record<string, string>, number][] = [[{ role: "root" }, s.versions.root]];
  for (const role of ["timestamp", "snapshot", "targets"] as const) {
    const v = s.versions[role];
    if (v !== null) versions.push([{ role }, v]);
  }
  metric("tufbox_mirror_role_version", "version of each top-level role served", "gauge", versions);
  metric(
    "tufbox_mirror_role_expires_in_seconds",
    "seconds until each top-level role served expires",
    "gauge",
    Object.entries(s.expires).map(([role, at]) => [{ role }, seconds(at, now)]),
  );
  metric("tufbox_mirror_targets_roles", "targets roles (top-level, bins, delegated) served", "gauge", [[{}, s.roles]]);
  metric("tufbox_mirror_targets_fetched_total", "target files fetched, verified and stored since start", "counter", [
    [{}, s.targets.fetched],
  ]);
  metric("tufbox_mirror_targets_fetched_bytes_total", "bytes of target files stored since start", "counter", [
    [{}, s.targets.bytes],
  ]);
  metric(
    "tufbox_mirror_target_failures_total",
    "target files refused or unavailable since start, by reason",
    "counter",
    Object.entries(s.targets.failures).map(([reason, n]) => [{ reason }, n]),
  );
  metric("tufbox_mirror_events_connected", "1 while connected to the upstream's change feed", "gauge", [
    [{}, s.events_connected ? 1 : 0],
  ]);
  return `${out.join("\n")}\n`;
}

export function mirrorApi(mirror: Mirror, events: TimestampEvents): (req: Request) => Response | Promise<Response> {
  return (req) => {
    const path = new URL(req.url).pathname.replace(/\/+$/, "") || "/";
    if (req.method !== "GET" && req.method !== "HEAD") return json({ detail: "Method Not Allowed" }, 405);
    switch (path) {
      case "/healthz":
        return json({ status: "ok" });
      case "/readyz": {
        const s = mirror.status();
        const now = Date.now();
        const expired = Object.entries(s.expires)
          .filter(([, at]) => new Date(at).getTime() <= now)
          .map(([role]) => role);
        return json(
          {
            status: mirror.ready ? "ready" : "not ready",
            mirror: true,
            stale_since: s.stale_since,
            last_success_at: s.last_success_at,
            last_failure: s.last_failure,
            versions: s.versions,
            expired_roles: expired,
          },
          mirror.ready ? 200 : 503,
        );
      }
      case "/metrics":
        return new Response(mirrorMetrics(mirror), {
          headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" },
        });
      case "/api/v1/events":
        return events.respond(req);
      case "/api/v1/mirror":
        return json({ data: mirror.status(), message: "Mirror status" });
      default:
        return json({ detail: "Not Found" }, 404);
    }
  };
}

/** Serves the mirror on HOST:PORT. */
export function serveMirror(mirror: Mirror, opts: MirrorServerOptions): MirrorServer {
  const events = new TimestampEvents(mirror.metadata);
  const http = startHttpServer({
    hostname: opts.hostname,
    port: opts.port,
    metadata: mirror.metadata,
    targetsDir: mirror.targets.dir,
    targetsMissing: (req, encoded) => mirror.serveMissingTarget(req, encoded),
    api: mirrorApi(mirror, events),
    tls: opts.tls,
    log: opts.log,
    maxStaticRoutes: opts.maxStaticRoutes ?? 64,
  });
  return {
    url: http.url,
    http,
    async stop() {
      events.close();
      await http.stop();
    },
  };
}
