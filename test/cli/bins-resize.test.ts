/**
 * `tufbox bins resize --to N` against a real server: the resize is followed
 * to its end (plain progress lines on a non-terminal), --json carries the
 * task, --no-wait returns with the task id, and bad counts are usage errors
 * (exit 2) before anything is sent; the server's refusal (same count) is a
 * ServerError naming the field. Also the real binary path: exit codes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { binsCommand } from "../../src/cli/bins.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer } from "../helpers/server.ts";
import { runCli, tempDir } from "./helpers.ts";
import { serverError, serverTerm, usageError } from "./server-helpers.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(8));
  expect((await server.waitTask(r.body.data.task_id, 60_000)).state).toBe("SUCCESS");
  const add = await server.api("POST", "/api/v1/artifacts", {
    artifacts: Array.from({ length: 40 }, (_, i) => ({
      path: `cli/pkg-${i}.tar.gz`,
      info: { length: 3, hashes: { sha256: "ab".repeat(32) } },
    })),
  });
  expect((await server.waitTask(add.body.data.task_id)).state).toBe("SUCCESS");
}, 60_000);

afterAll(() => server?.stop());

describe("tufbox bins resize", () => {
  test("follows the task to its end and says what was published", async () => {
    const t = serverTerm(server.url);
    await binsCommand(["resize", "--to", "128"], t.term);
    expect(t.out.join("\n")).toMatch(/resize to 128 bins accepted: task [0-9a-f]{32}/);
    expect(t.out.join("\n")).toMatch(
      /resized 8 → 128 bins in [\d.]+ s: 40 artifacts \(40 moved\), \d+ documents, timestamp v\d+/,
    );
    expect(server.app.repo.settings?.bins?.count).toBe(128);
  });

  test("--json: one document with the task; progress and messages on stderr", async () => {
    const t = serverTerm(server.url);
    await binsCommand(["resize", "--to", "16", "--json"], t.term);
    expect(t.out.length).toBe(1);
    const doc = JSON.parse(t.out[0]!);
    expect(doc).toMatchObject({ state: "SUCCESS", outcome: "finished", to: 16 });
    expect(doc.result.details).toMatchObject({ from: 128, to: 16, artifacts: 40 });
  });

  test("--no-wait returns with the task id", async () => {
    const t = serverTerm(server.url);
    await binsCommand(["resize", "--to", "32", "--no-wait", "--json"], t.term);
    const doc = JSON.parse(t.out[0]!);
    expect(doc.task_id).toMatch(/^[0-9a-f]{32}$/);
    expect((await server.waitTask(doc.task_id)).state).toBe("SUCCESS");
  });

  test("bad counts are usage errors; the server's refusal names the field", async () => {
    await usageError(binsCommand(["resize", "--to", "100"], serverTerm(server.url).term), /--to 100 is not allowed/);
    await usageError(binsCommand(["resize", "--to", "32768"], serverTerm(server.url).term), /between 2 and 16384/);
    await usageError(binsCommand(["resize"], serverTerm(server.url).term), /--to is required/);
    await serverError(
      binsCommand(["resize", "--to", "32"], serverTerm(server.url).term),
      /number_of_delegated_bins.*already has 32 bins/,
    );
    await serverError(
      binsCommand(["resize", "--to", "64"], serverTerm(server.url, { token: null }).term),
      /401|token/i,
    );
  });

  test("the binary: exit 0 on success, 2 on usage, 1 when the server refuses", async () => {
    const env = { TUFBOX_SERVER: server.url, TUFBOX_TOKEN: TOKEN };
    const ok = await runCli(["bins", "resize", "--to", "4"], { cwd: tempDir(), env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("resized 32 → 4 bins");
    const usage = await runCli(["bins", "resize", "--to", "3"], { cwd: tempDir(), env });
    expect(usage.code).toBe(2);
    const refused = await runCli(["bins", "resize", "--to", "4"], { cwd: tempDir(), env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("already has 4 bins");
    const unknown = await runCli(["bins", "shrink"], { cwd: tempDir(), env });
    expect(unknown.code).toBe(2);
  }, 60_000);
});
