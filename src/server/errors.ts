/**
 * The one place where errors become HTTP responses, for the API and the
 * metadata/targets server alike, in RSTUF's (FastAPI's) `detail` shapes:
 * - 422 `{"detail": [{loc, msg, type}]}` for bad input (ValidationError, TufError);
 * - 404 `{"detail": {"message", "error"}}` for state conflicts (StateError, RSTUF compat);
 * - 401 / 413 / 405 / 503 with the same `detail` object (HttpError, outages);
 * - `{"detail": "Not Found"}` for an unknown API route, as FastAPI answers;
 * - `{"detail": {"error"}}` for the static metadata/targets files;
 * - 500 without internals: the log has the details, the response a reference.
 * Everything that goes wrong is logged here, through the redacting Logger.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../log.ts";
import { ConfigurationError, StateError, ValidationError } from "../repository/errors.ts";
import { TufError } from "../tuf/errors.ts";
import { BodyTimeoutError } from "./timeouts.ts";

export class HttpError extends Error {
  readonly status: number;
  readonly error: string;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, error: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.error = error;
    this.headers = headers;
  }
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function detail(status: number, message: string, error: string, headers: Record<string, string> = {}): Response {
  return json({ detail: { message, error } }, status, headers);
}

/** FastAPI's answer for a path no route matches. */
export function routeNotFound(): Response {
  return json({ detail: "Not Found" }, 404);
}

/**
 * An error about a static file (/metadata/, /targets/): `{"detail": {"error"}}`.
 * Never cached: a CDN must not remember "no 5.root.json" after root v5 is published.
 */
export function fileError(status: number, error: string, headers: Record<string, string> = {}): Response {
  return json({ detail: { error } }, status, { "cache-control": "no-store", ...headers });
}

/**
 * A store outage (connection refused, reset, timed out; the server shutting
 * down or restarting): a clean 503. SQLSTATE classes 08 (connection
 * exception), 57P (operator intervention: admin/crash shutdown, cannot
 * connect now) and 53 (insufficient resources: too many connections, disk
 * full) come from PostgreSQL itself, e.g. 57P01 on every open session when
 * it restarts.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === "string" &&
    (code.startsWith("ERR_POSTGRES_CONNECTION") ||
      code === "ERR_POSTGRES_IDLE_TIMEOUT" ||
      code === "ECONNREFUSED" ||
      code === "ECONNRESET" ||
      code === "SQLITE_BUSY")
  )
    return true;
  const sqlstate = (err as { errno?: unknown }).errno;
  if (code === "ERR_POSTGRES_SERVER_ERROR" && typeof sqlstate === "string" && /^(08|57P|53)/.test(sqlstate))
    return true;
  return /connection (closed|refused|terminated)|ECONNREFUSED|database system is (starting up|shutting down)|terminating connection due to administrator command/i.test(
    err.message,
  );
}

/** `err` as the response a client gets; anything unexpected is logged with a reference the response repeats. */
export function errorResponse(err: unknown, log: Logger, route: string): Response {
  if (err instanceof ValidationError) return json({ detail: err.issues }, 422);
  if (err instanceof TufError) return json({ detail: ValidationError.fromTuf(err, ["body"]).issues }, 422);
  if (err instanceof StateError) return detail(404, err.message, err.message);
  if (err instanceof HttpError) return detail(err.status, err.message, err.error, err.headers);
  // The client is still sending: answer and close, rather than read the rest.
  if (err instanceof BodyTimeoutError) return detail(408, "Request Timeout", err.message, { connection: "close" });
  if (err instanceof ConfigurationError) {
    log.error(`${route}: ${err.message}`, { hint: err.hint });
    return detail(503, "Service not ready", `${err.message}. Hint: ${err.hint}`);
  }
  if (isStoreUnavailable(err)) {
    log.error(`${route}: store unavailable`, { error: err instanceof Error ? err.message : String(err) });
    return detail(503, "Service Unavailable", "the database is unreachable; nothing was changed, retry later", {
      "retry-after": "5",
    });
  }
  const ref = randomUUID();
  log.error(`${route}: unexpected error`, {
    ref,
    error: err instanceof Error ? err.message : String(err),
    stack: err instanceof Error ? err.stack : undefined,
  });
  return detail(500, "Internal error", `unexpected error (reference ${ref} in the server log)`);
}
