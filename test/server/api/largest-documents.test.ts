/**
 * The largest document of each kind against the download limit TUF clients
 * apply (issue 15): in /metrics, and in `tufbox status` through them.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { binsPayload } from "../../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../../helpers/server.ts";
import { largestDocumentsFromMetrics } from "../../../src/cli/status.ts";
import { CLIENT_MAX_BYTES } from "../../../src/tuf/limits.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const boot = await server.api("POST", "/api/v1/bootstrap", binsPayload(4));
  expect((await server.waitTask(boot.body.data.task_id)).state).toBe("SUCCESS");
  const artifacts = Array.from({ length: 40 }, (_, i) => ({
    path: `big/${"x".repeat(200)}-${i}.tar.gz`,
    info: { length: i + 1, hashes: { sha256: "ef".repeat(32) } },
  }));
  const r = await server.api("POST", "/api/v1/artifacts", { artifacts });
  expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
});

afterAll(async () => {
  await server?.stop();
  rmSync(server.dataDir, { recursive: true, force: true });
});

test("/metrics names the largest document of each kind and its client limit", async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const largest = largestDocumentsFromMetrics(text);
  expect(largest.map((d) => d.kind)).toEqual(["root", "timestamp", "snapshot", "targets"]);
  const byKind = Object.fromEntries(largest.map((d) => [d.kind, d]));
  expect(byKind.snapshot!.limit).toBe(CLIENT_MAX_BYTES.snapshot);
  expect(byKind.root!.limit).toBe(CLIENT_MAX_BYTES.root);
  expect(byKind.timestamp!.limit).toBe(CLIENT_MAX_BYTES.timestamp);
  expect(byKind.targets!.limit).toBe(CLIENT_MAX_BYTES.targets);
  // The biggest bin is the one the served bytes say it is.
  const heads = server.app.repo.heads().filter((h) => h.role.startsWith("bins-"));
  let best = { role: "", bytes: 0 };
  for (const h of heads) {
    const bytes = (
      await (
        await fetch(`${server.url}/metadata/${h.version}.${h.role}.json`, {
          headers: { "Accept-Encoding": "identity" },
        })
      ).arrayBuffer()
    ).byteLength;
    if (bytes > best.bytes) best = { role: h.role, bytes };
  }
  expect(byKind.targets).toMatchObject({ role: best.role, bytes: best.bytes });
  const snap = await (await fetch(`${server.url}/metadata/timestamp.json`)).json();
  expect(byKind.snapshot!.bytes).toBe((snap as any).signed.meta["snapshot.json"].length);
});

test("after a restart the sizes come from the store, without reading the bins", async () => {
  const before = largestDocumentsFromMetrics(await (await fetch(`${server.url}/metrics`)).text());
  const { startTestServer: start } = await import("../../helpers/server.ts");
  await server.app.stop();
  server = await start({ dataDir: server.dataDir });
  const after = largestDocumentsFromMetrics(await (await fetch(`${server.url}/metrics`)).text());
  expect(after).toEqual(before);
  // Only the top-level documents are resident; bins come from the store on request.
  expect(server.app.metadata.hotFiles().every((f) => !f.role.startsWith("bins-"))).toBe(true);
});
