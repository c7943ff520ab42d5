/**
 * The Prometheus side: the alerting rules parse and fire as their unit tests
 * say (`promtool check rules`, `promtool test rules`), a live /metrics passes
 * `promtool check metrics`, and every metric the rules and the Grafana
 * dashboard query is one the server exports. promtool comes from Debian's
 * `prometheus` package (.ci/run installs it); without it the suite fails
 * under CI rather than skipping.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ManualClock } from "../src/clock.ts";
import { fixture } from "./helpers/fixtures.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const CONFIG = fileURLToPath(new URL("../config/", import.meta.url));
const promtool = Bun.which("promtool");

function run(args: string[], stdin?: string) {
  const p = Bun.spawnSync([promtool!, ...args], {
    cwd: `${CONFIG}prometheus`,
    stdin: stdin ? Buffer.from(stdin) : undefined,
  });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

function metricNames(exprs: string[]): Set<string> {
  return new Set(exprs.flatMap((e) => [...e.matchAll(/\btufbox_[a-z_]+/g)].map((m) => m[0])));
}

if (!promtool) {
  test("promtool is installed (Debian package prometheus)", () => {
    if (process.env.CI) throw new Error("promtool not found: .ci/run installs the prometheus package");
    console.warn("promtool not found; install the prometheus package to run these checks");
  });
} else {
  describe("Prometheus rules and metrics", () => {
    let s: TestServer;
    let metrics = "";

    beforeAll(async () => {
      // 20 days before the fixture's root expires: the alert series are present too.
      s = await startTestServer({ clock: new ManualClock(Date.parse("2035-12-12T00:00:00Z")) });
      const r = await s.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
      expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
      metrics = await (await fetch(`${s.url}/metrics`)).text();
    });
    afterAll(() => s?.stop());

    test("promtool check rules", () => {
      const r = run(["check", "rules", "alerts.yml"]);
      expect(r.out).toContain("SUCCESS");
      expect(r.code).toBe(0);
    });

    test("promtool test rules: the rules fire as their unit tests expect", () => {
      const r = run(["test", "rules", "alerts.test.yml"]);
      expect(r.out).toContain("SUCCESS");
      expect(r.code).toBe(0);
    });

    test("promtool check metrics on a live /metrics", () => {
      expect(metrics).toContain(
        'tufbox_alert_active{kind="offline_role_expiring",subject="root",severity="warning"} 1',
      );
      const r = run(["check", "metrics"], metrics);
      expect(r.out.trim()).toBe("");
      expect(r.code).toBe(0);
    });

    test("the rules and the Grafana dashboard query only metrics the server exports", () => {
      const exported = metricNames([metrics]);
      const rules = readFileSync(`${CONFIG}prometheus/alerts.yml`, "utf8");
      const dashboard = JSON.parse(readFileSync(`${CONFIG}grafana/tufbox-dashboard.json`, "utf8"));
      const exprs = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr as string));
      for (const name of metricNames([rules, ...exprs])) expect(exported).toContain(name);
      expect(exprs.length).toBeGreaterThan(8);
    });
  });
}
