/**
 * The real PostgreSQL and Redis servers tests run against
 * (scripts/test-services.sh): their URLs, one fresh database per test file,
 * and the rule that a suite needing them FAILS under CI when they are not
 * configured (and skips with a message elsewhere), so CI can never go green
 * without running them.
 */
import { test } from "bun:test";
import { SQL } from "bun";

export const POSTGRES_URL = process.env.TUFBOX_TEST_POSTGRES_URL ?? "";
export const REDIS_URL = process.env.TUFBOX_TEST_REDIS_URL ?? "";
export const SERVICES_ENV = process.env.TUFBOX_TEST_SERVICES_ENV ?? "";
/**
 * Run `suite` if the servers it needs are configured; otherwise fail under
 * CI and skip (saying why) elsewhere.
 */
export function withServices(file: string, needs: { redis?: boolean; outages?: boolean }, suite: () => void): void {
  const missing = [
    !POSTGRES_URL && "TUFBOX_TEST_POSTGRES_URL",
    needs.redis && !REDIS_URL && "TUFBOX_TEST_REDIS_URL",
    needs.outages && !SERVICES_ENV && "TUFBOX_TEST_SERVICES_ENV",
  ].filter((m): m is string => typeof m === "string");
  if (missing.length === 0) return suite();
  const why = `${missing.join(", ")} not set: source the file that \`scripts/test-services.sh start\` prints`;
  if (process.env.CI) {
    test(`${file}: PostgreSQL/Redis test servers are available in CI`, () => {
      throw new Error(`${why}; under CI the scale-out tests must run, not skip`);
    });
  } else {
    console.warn(`${file}: skipped, ${why}`);
    test.skip(`${file} (needs ${missing.join(", ")})`, () => {});
  }
}

/** A fresh UTF8 database on the test server; `drop` removes it (connections and all). */
export async function createDatabase(
  label: string,
): Promise<{ url: string; name: string; sql: SQL; drop: () => Promise<void> }> {
  const name = `tufbox_${label}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new SQL(POSTGRES_URL, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  const u = new URL(POSTGRES_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = new SQL(url, { max: 4 });
  return {
    url,
    name,
    sql,
    async drop() {
      await sql.close({ timeout: 2 }).catch(() => undefined);
      // The server may have just restarted: retry a few times.
      for (let i = 0; ; i++) {
        try {
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          break;
        } catch (err) {
          if (i >= 20) throw err;
          await Bun.sleep(250);
        }
      }
      await admin.close({ timeout: 2 });
    },
  };
}

/** `url` with `?application_name=NAME`, so pg_stat_activity tells replicas apart. */
export function namedUrl(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
}

/** Poll `check` until it returns a truthy value or `timeoutMs` passes (then throws `what`). */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | null | false>,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`,
      );
    await Bun.sleep(everyMs);
  }
}
