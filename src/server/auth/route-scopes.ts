/**
 * THE route → scope table: the one place that says who may call what. The
 * guard (guard.ts) enforces it before a route runs, and
 * test/server/auth/route-scopes.test.ts fails when a route the API registers
 * has no line here (or a line here names no route).
 *
 * - "public": never authenticated (published metadata and targets are served
 *   outside the API, and are public too).
 * - "metrics": public, or `read` when auth.metrics_public is false.
 * - a scope: a token holding it (see scopes.ts: admin implies all, a write
 *   scope implies read).
 *
 * Paths are written without a trailing slash; `:name` matches one segment, a
 * final `*` one or more (a target path below a prefix).
 */
import type { Scope } from "../../auth/scopes.ts";

export type Access = Scope | "public" | "metrics";

export const ROUTE_SCOPES = {
  "GET /healthz": "public",
  "GET /readyz": "public",
  "GET /metrics": "metrics",
  // The API's own description (server/api/openapi.ts): no data in it.
  "GET /openapi.json": "public",

  "GET /api/v1/bootstrap": "read",
  "POST /api/v1/bootstrap": "admin",

  "POST /api/v1/artifacts": "artifacts:write",
  "POST /api/v1/artifacts/delete": "artifacts:write",
  "POST /api/v1/artifacts/publish": "artifacts:write",
  // The artifact bytes themselves (server/api/uploads/); `*` is the target path, any depth.
  "PUT /api/v1/artifacts/content/*": "artifacts:write",
  "POST /api/v1/artifacts/upload": "artifacts:write",

  "GET /api/v1/task": "read",

  "GET /api/v1/config": "read",
  "PUT /api/v1/config": "admin",

  "POST /api/v1/metadata": "admin",
  "GET /api/v1/metadata/sign": "read",
  "POST /api/v1/metadata/sign": "metadata:sign",
  "POST /api/v1/metadata/sign/delete": "metadata:sign",
  "POST /api/v1/metadata/online": "admin",

  "POST /api/v1/delegations": "admin",
  "PUT /api/v1/delegations": "admin",
  "POST /api/v1/delegations/delete": "admin",
  // A delegated role's next version signed by its own offline keys (server/api/metadata-delegated/):
  // the signers' scope, as for one signature at a time. The document changes no trust (it must
  // verify with the keys and threshold targets already delegates to), so admin is not needed.
  "POST /api/v1/delegations/metadata": "metadata:sign",

  // Re-binning online (server/api/bins/): changes what every client downloads.
  "POST /api/v1/bins": "admin",

  "POST /api/v1/tokens": "admin",
  "GET /api/v1/tokens": "admin",
  "DELETE /api/v1/tokens/:id": "admin",

  "GET /api/v1/audit": "read",

  // An online backup (server/api/backup/): token hashes, audit, sessions — never the online key.
  "POST /api/v1/backup": "admin",

  // Pausing publication (server/api/publisher/): every replica obeys it.
  "GET /api/v1/publisher": "read",
  "POST /api/v1/publisher/pause": "admin",
  "POST /api/v1/publisher/resume": "admin",

  // tufbox's native reads for operators and the dashboard (server/dashboard/api.ts).
  "GET /api/v1/whoami": "read",
  "GET /api/v1/roles": "read",
  "GET /api/v1/roles/history": "read",
  "GET /api/v1/artifacts": "read",
  "GET /api/v1/publications": "read",
  "GET /api/v1/tasks": "read",
  "GET /api/v1/signing-sessions": "read",
  "GET /api/v1/jobs": "read",
  "POST /api/v1/jobs/:name/run": "admin",
  "GET /api/v1/alerts": "read",

  // The mirrors' change feed: nothing timestamp.json does not already show (server/events.ts).
  "GET /api/v1/events": "public",
} as const satisfies Record<string, Access>;

export type RouteKey = keyof typeof ROUTE_SCOPES;

interface CompiledRoute {
  key: string;
  method: string;
  segments: string[];
  access: Access;
}

/** Match requests against a route table; HEAD uses the GET line, as Bun answers HEAD for GET routes. */
export class RouteTable {
  readonly #byMethod = new Map<string, CompiledRoute[]>();

  constructor(table: Record<string, Access>) {
    for (const [key, access] of Object.entries(table)) {
      const [method, path] = key.split(" ") as [string, string];
      const route = { key, method, segments: path.split("/").slice(1), access };
      const list = this.#byMethod.get(method) ?? [];
      list.push(route);
      this.#byMethod.set(method, list);
    }
  }

  /** The table line for a request, or undefined when no line matches. */
  find(method: string, pathname: string): { key: string; access: Access } | undefined {
    const m = method === "HEAD" ? "GET" : method;
    const trimmed = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
    const segments = trimmed.split("/").slice(1);
    for (const route of this.#byMethod.get(m) ?? []) {
      const rest = route.segments.at(-1) === "*";
      if (rest ? segments.length < route.segments.length : route.segments.length !== segments.length) continue;
      const fixed = rest ? route.segments.slice(0, -1) : route.segments;
      if (rest && segments.slice(fixed.length).join("/") === "") continue;
      if (fixed.every((s, i) => (s.startsWith(":") ? segments[i] !== "" : s === segments[i])))
        return { key: route.key, access: route.access };
    }
    return undefined;
  }
}
