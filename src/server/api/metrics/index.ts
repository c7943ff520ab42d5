/**
 * GET /metrics in the Prometheus text format: what an operator alerts on —
 * time left before each online role expires, the publish queue, the largest
 * bin against the 5,000,000-byte default limit of TUF clients (DESIGN.md
 * "Client limits"), the publisher's health.
 */
import { Type } from "@sinclair/typebox";
import type { App } from "../../../core.ts";
import { alertMetricLines } from "../../../alerts/metrics.ts";
import { CLIENT_MAX_BYTES } from "../../../tuf/limits.ts";
import { isTopLevelRole } from "../../../tuf/roles.ts";
import { type ApiRoute, route } from "../route.ts";

/** tuf-js and python-tuf refuse a targets document longer than this when the snapshot gives no length. */
export const TARGETS_CLIENT_LIMIT = CLIENT_MAX_BYTES.targets;

function line(
  out: string[],
  name: string,
  help: string,
  type: "gauge" | "counter",
  samples: [Record<string, string>, number][],
): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`)
      .join(",");
    out.push(`${name}${l ? `{${l}}` : ""} ${Number.isFinite(value) ? value : 0}`);
  }
}

/** Authentication: the development flag, failures (rate-limited per address), the external servers. */
function authMetrics(out: string[], app: App): void {
  const s = app.auth.stats;
  line(out, "tufbox_auth_disabled", "1 when authentication is disabled (--insecure-disable-auth)", "gauge", [
    [{}, app.auth.disabled ? 1 : 0],
  ]);
  line(
    out,
    "tufbox_auth_failures_total",
    "failed authentications (401) by reason",
    "counter",
    Object.entries(s.failures).map(([reason, n]) => [{ reason }, n]),
  );
  line(
    out,
    "tufbox_auth_rate_limited_total",
    "requests refused (429) after too many failures from an address",
    "counter",
    [[{}, s.rateLimited]],
  );
  line(out, "tufbox_auth_unavailable_total", "requests refused (503) because tokens could not be verified", "counter", [
    [{}, s.unavailable],
  ]);
  if (s.introspection) {
    line(out, "tufbox_auth_introspection_requests_total", "RFC 7662 introspection requests sent", "counter", [
      [{}, s.introspection.requests],
    ]);
    line(out, "tufbox_auth_introspection_cache_hits_total", "tokens accepted from the introspection cache", "counter", [
      [{}, s.introspection.cacheHits],
    ]);
  }
  if (s.jwt) {
    line(out, "tufbox_auth_jwt_verified_total", "JWT access tokens verified", "counter", [[{}, s.jwt.verified]]);
  }
}

export function metricsRoutes(app: App): ApiRoute[] {
  return [
    route({
      method: "GET",
      path: "/metrics",
      tag: "health",
      summary: "Prometheus metrics: role expiry, publish queue, largest bin, publisher and store health",
      responses: {
        200: {
          description: "Prometheus text exposition format 0.0.4",
          schema: Type.String(),
          contentType: "text/plain; version=0.0.4",
        },
      },
      async handle() {
        const out: string[] = [];
        const now = Date.now();
        const heads = app.repo.heads();
        const top = heads.filter((h) => isTopLevelRole(h.role));
        line(out, "tufbox_bootstrapped", "1 when the repository is bootstrapped", "gauge", [
          [{}, app.repo.bootstrapped ? 1 : 0],
        ]);
        line(
          out,
          "tufbox_role_version",
          "latest published version of each top-level role",
          "gauge",
          top.map((h) => [{ role: h.role }, h.version]),
        );
        line(
          out,
          "tufbox_role_expires_in_seconds",
          "seconds until each top-level role expires",
          "gauge",
          top.map((h) => [{ role: h.role }, Math.round((new Date(h.expires).getTime() - now) / 1000)]),
        );
        const delegated = heads.filter((h) => !isTopLevelRole(h.role));
        const soonest = delegated.reduce((min, h) => Math.min(min, new Date(h.expires).getTime()), Infinity);
        line(
          out,
          "tufbox_targets_roles_min_expires_in_seconds",
          "seconds until the first bin or delegated role expires",
          "gauge",
          [[{}, delegated.length ? Math.round((soonest - now) / 1000) : 0]],
        );
        line(out, "tufbox_targets_roles", "number of bins and delegated roles", "gauge", [[{}, delegated.length]]);
        line(out, "tufbox_pending_changes", "accepted artifact changes not yet published", "gauge", [
          [{}, await app.store.countPendingChanges().catch(() => NaN)],
        ]);
        line(out, "tufbox_artifacts", "published artifacts", "gauge", [
          [{}, await app.store.countArtifacts().catch(() => NaN)],
        ]);
        const largest = app.repo.largestTargetsRole();
        line(
          out,
          "tufbox_largest_targets_role_bytes",
          "size of the largest bin or delegated role document",
          "gauge",
          largest ? [[{ role: largest.role }, largest.bytes]] : [[{}, 0]],
        );
        line(
          out,
          "tufbox_targets_role_client_limit_bytes",
          "default download limit of TUF clients for a targets document",
          "gauge",
          [[{}, TARGETS_CLIENT_LIMIT]],
        );
        const largestDocs = app.repo.largestDocuments();
        line(
          out,
          "tufbox_largest_document_bytes",
          "size of the largest latest document of each kind (root, timestamp, snapshot, targets = targets, bins and delegated roles)",
          "gauge",
          largestDocs.map((d) => [{ kind: d.kind, role: d.role }, d.bytes]),
        );
        line(
          out,
          "tufbox_document_client_limit_bytes",
          "download limit TUF clients apply to each kind of document; a document over it is never published",
          "gauge",
          largestDocs.map((d) => [{ kind: d.kind }, d.limit]),
        );
        line(out, "tufbox_publisher_batches_total", "batches published by this process", "counter", [
          [{}, app.publisher.batches],
        ]);
        line(out, "tufbox_publisher_failing", "1 when the last publish attempt failed", "gauge", [
          [{}, app.publisher.lastError ? 1 : 0],
        ]);
        // Read from the store: a pause made through any replica shows on every one.
        const pause = await app.repo.publisherState().catch(() => null);
        line(
          out,
          "tufbox_publisher_paused",
          "1 while publication is paused (changes queue up; online roles are still re-signed)",
          "gauge",
          [[{}, pause === null ? NaN : pause.paused ? 1 : 0]],
        );
        const stored = await app.store.documentStats().catch(() => ({ documents: NaN, bytes: NaN }));
        line(out, "tufbox_metadata_stored_bytes", "bytes of every metadata version kept in the store", "gauge", [
          [{}, stored.bytes],
        ]);
        line(out, "tufbox_metadata_stored_versions", "metadata versions kept in the store", "gauge", [
          [{}, stored.documents],
        ]);
        line(
          out,
          "tufbox_metadata_pruned_versions_total",
          "superseded metadata versions deleted by retention (this process)",
          "counter",
          [[{}, app.scheduler.pruned.versions]],
        );
        line(
          out,
          "tufbox_metadata_pruned_bytes_total",
          "bytes of superseded metadata versions deleted by retention (this process)",
          "counter",
          [[{}, app.scheduler.pruned.bytes]],
        );
        line(out, "tufbox_store_up", "1 when the store answers", "gauge", [
          [{}, (await app.store.ping().catch(() => false)) ? 1 : 0],
        ]);
        authMetrics(out, app);
        out.push(...alertMetricLines(await app.alerts.current(), app.alerts.webhooks));
        return new Response(`${out.join("\n")}\n`, {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      },
    }),
  ];
}
