/**
 * `tufbox bins advise` against a real server on loopback (and offline): the
 * server's advice as it answers GET /api/v1/roles, "what if" with
 * --artifacts, usage errors, a repository without hash bins, and the
 * `tufbox bins` group's help and unknown actions through the real binary.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { binsAdviseCommand, binsCommand } from "../../src/cli/bins.ts";
import { statusCommand } from "../../src/cli/status.ts";
import { fixture, binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { hasStackTrace, runCli, tempDir } from "./helpers.ts";
import { join } from "node:path";
import { spawnServer } from "../helpers/process.ts";
import { binCountConcern } from "../../src/tuf/bin-advice.ts";
import { DEFAULT_BINS } from "../../src/cli/ceremony.ts";
import { serverError, serverTerm, usageError } from "./server-helpers.ts";

let s: TestServer;
let custom: TestServer;
beforeAll(async () => {
  [s, custom] = await Promise.all([startTestServer(), startTestServer()]);
  const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(16));
  expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  const add = await s.api("POST", "/api/v1/artifacts", {
    artifacts: Array.from({ length: 300 }, (_, i) => ({
      path: `dist/app-${i}/app-${i}.tar.gz`,
      info: { length: 2000 + i, hashes: { sha256: i.toString(16).padStart(64, "a") } },
    })),
  });
  expect((await s.waitTask(add.body.data.task_id)).state).toBe("SUCCESS");
  const c = await custom.api("POST", "/api/v1/bootstrap", fixture("bootstrap-delegations.json"));
  expect((await custom.waitTask(c.body.data.task_id)).state).toBe("SUCCESS");
});
afterAll(async () => {
  await s?.stop();
  await custom?.stop();
});

describe("tufbox bins advise --server", () => {
  test("--json is the server's bins_advice", async () => {
    const t = serverTerm(s.url);
    await binsAdviseCommand(["--json"], t.term);
    const printed = JSON.parse(t.out.join("\n"));
    const served = (await s.api("GET", "/api/v1/roles")).body.data.bins_advice;
    expect(printed).toEqual(served);
    expect(printed).toMatchObject({
      artifacts: 300,
      entry_bytes_source: "measured",
      current: { bins: 16 },
      recommended: { bins: 256 },
    });
  });

  test("text: the counts, the two-line trade-off and the warning", async () => {
    const t = serverTerm(s.url);
    await binsAdviseCommand([], t.term);
    const text = t.out.join("\n");
    expect(text).toMatch(/^artifacts +300 \(a target entry ~1\d\d(\.\d)? B, measured from the published bins\)$/m);
    expect(text).toMatch(/^current +16 bins: each bin ~/m);
    expect(text).toMatch(/^recommended +256 bins: /m);
    expect(text).toMatch(/^trade-off +More bins, smaller bins: .*\n +Fewer bins, a smaller snapshot: /m);
    expect(text).toContain("WARNING: 16 bins is 16× fewer than the 256 recommended for 300 artifacts");
  });

  test("--artifacts asks what if, with the server's measured entry size and current count", async () => {
    const t = serverTerm(s.url);
    await binsAdviseCommand(["--artifacts", "1000000", "--json"], t.term);
    const a = JSON.parse(t.out.join("\n"));
    const served = (await s.api("GET", "/api/v1/roles")).body.data.bins_advice;
    expect(a).toMatchObject({ artifacts: 1_000_000, entry_bytes: served.entry_bytes, current: { bins: 16 } });
    expect(a.recommended.bins).toBe(2048);
    // a million artifacts in 16 bins: ~8.5 MB bins, over the limit
    expect(a.warnings[0]).toMatchObject({ severity: "critical", code: "bins-over-cap" });
  });

  test("--bins is refused with --server (the server knows its count)", async () => {
    await usageError(binsAdviseCommand(["--bins", "256"], serverTerm(s.url).term), /--bins is for offline advice/);
  });

  test("no token: the server's 401, with a hint", async () => {
    await serverError(binsAdviseCommand([], serverTerm(s.url, { token: null }).term), /401/);
  });

  test("a repository with custom delegations has no bins to advise on", async () => {
    const err = await serverError(binsAdviseCommand([], serverTerm(custom.url).term), /has no hash bins/);
    expect(err.hint).toContain("--artifacts");
  });
});

describe("tufbox status shows the advice", () => {
  test("text: the recommendation against the current count, the trade-off, the warning", async () => {
    const t = serverTerm(s.url);
    await statusCommand([], t.term);
    const text = t.out.join("\n");
    expect(text).toContain("bins          16 hash bins");
    expect(text).toMatch(/^bins advice +256 bins for 300 artifacts \(now 16\): each bin ~/m);
    expect(text).toMatch(/^bins advice .*\n +More bins, smaller bins: .*\n +Fewer bins, a smaller snapshot: /m);
    expect(text).toContain("  WARNING: 16 bins is 16× fewer than the 256 recommended for 300 artifacts");
    expect(text).toContain("  details: tufbox bins advise");
  });

  test("--json carries the server's bins_advice; none without bins or without a token", async () => {
    const t = serverTerm(s.url);
    await statusCommand(["--json"], t.term);
    const served = (await s.api("GET", "/api/v1/roles")).body.data.bins_advice;
    expect(JSON.parse(t.out.join("\n")).bins_advice).toEqual(served);
    const c = serverTerm(custom.url);
    await statusCommand(["--json"], c.term);
    expect(JSON.parse(c.out.join("\n")).bins_advice).toBeNull();
    const plain = serverTerm(custom.url);
    await statusCommand([], plain.term);
    expect(plain.out.join("\n")).not.toContain("bins advice");
  });
});

describe("tufbox bins (the binary)", () => {
  const dir = tempDir();
  test("offline advice: 10M artifacts in 256 bins is critical, exit 0", async () => {
    const r = await runCli(["bins", "advise", "--artifacts", "10000000", "--bins", "256"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^recommended +2048 bins/m);
    expect(r.stdout).toMatch(/^CRITICAL: with 256 bins the fullest bins reach ~6\.\d\d MB, over the 5,000,000-byte/m);
  });

  test("usage errors exit 2 with a hint, no stack trace", async () => {
    for (const [args, message] of [
      [["bins", "advise"], /give --server URL \(or TUFBOX_SERVER\) or --artifacts N/],
      [["bins", "advise", "--artifacts", "10", "--bins", "300"], /--bins 300 is not allowed/],
      [["bins", "advise", "--artifacts", "-1"], /--artifacts -1 is not allowed|--artifacts/],
      [["bins", "shrink"], /unknown action "shrink"/],
    ] as const) {
      const r = await runCli([...args], { cwd: dir, env: { TUFBOX_SERVER: "" } });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain("hint:");
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
  });

  test("'tufbox bins' lists its actions; 'tufbox help' lists bins", async () => {
    const t = serverTerm(s.url);
    await binsCommand([], t.term);
    expect(t.out.join("\n")).toMatch(/^ {2}advise {3}how many hash bins/m);
    const help = await runCli(["help"], { cwd: dir });
    expect(help.stdout).toMatch(/^ {2}bins {9}hash bins/m);
  });
});

describe("the defaults suit both client families", () => {
  test("quickstart's and the ceremony's 256 bins: no concern; the advice for a new repository is 256", () => {
    expect(DEFAULT_BINS).toBe(256);
    expect(binCountConcern(DEFAULT_BINS)).toBeNull();
    expect(binCountConcern(2048)).toBeNull();
    expect(binCountConcern(4096)).toMatch(/^with 4096 hash bins tuf-js clients spend ~1\.\d s/);
  });

  test("quickstart --bins 4096 logs what that costs tuf-js", async () => {
    const d = join(tempDir(), "data");
    const server = await spawnServer(d, { TUFBOX_ONLINE_KEY_DIR: join(d, "keys") }, "quickstart", [
      "--online-key-dir",
      join(d, "keys"),
      "--bins",
      "4096",
    ]);
    try {
      const deadline = Date.now() + 60_000;
      while (!server.output().includes("bootstrapped a repository") && Date.now() < deadline) await Bun.sleep(50);
      const lines = server
        .output()
        .split("\n")
        .filter((l) => l.includes("tuf-js clients spend"));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn" });
      expect(lines[0]).toContain("with 4096 hash bins tuf-js clients spend ~1.3 s");
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  }, 60_000);
});
