/** TUF `expires`: `YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds (spec 4.2). */
import { TufError } from "./errors.ts";
import { YEAR_10000_MS } from "./limits.ts";

const EXPIRES_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export function formatExpires(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function parseExpires(text: unknown, field = "expires"): Date {
  if (typeof text !== "string" || !EXPIRES_RE.test(text)) {
    throw new TufError(field, `expected a UTC date like 2030-01-01T00:00:00Z, got ${JSON.stringify(text)}`);
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime()) || formatExpires(d) !== text) throw new TufError(field, `not a real date: ${text}`);
  return d;
}

/**
 * now + days, truncated to whole seconds. Throws when the result cannot be
 * written as `YYYY-MM-DDTHH:MM:SSZ` (after 9999-12-31, or not a date at all):
 * toISOString would write `+010240-…`, which clients reject.
 */
export function expiresIn(now: Date, days: number): string {
  const ms = Math.floor(now.getTime() / 1000) * 1000 + days * 86_400_000;
  if (!(ms < YEAR_10000_MS) || !Number.isFinite(ms))
    throw new TufError("expires", `${days} days from ${formatExpires(now)} is not a date before the year 10000`);
  return formatExpires(new Date(ms));
}
