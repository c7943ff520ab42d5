/**
 * End to end with the real tuf-js client: bootstrap (RSTUF fixture payload),
 * add artifacts through the API, serve their bytes from the targets
 * directory, and have tuf-js download and verify them — fresh client and
 * returning client after a removal and after scheduled re-signing; with 4 and
 * with 16384 bins.
 *
 * One returning client follows every step: tuf-js parses and verifies the
 * snapshot in O(n²) of its meta entries (object spread in a reduce), about
 * 14 s per refresh at 16384 bins, so refreshes are kept few.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { targetFile } from "../helpers/targets.ts";
import { tufClient } from "../helpers/tufjs.ts";

for (const bins of [4, 16384]) {
  describe(`tuf-js against tufbox with ${bins} bins`, () => {
    let server: TestServer;
    let trustedRoot: Uint8Array;
    const clientDir = tempDir("tufbox-client-");
    const files: Record<string, Uint8Array> = {};
    const slow = bins > 1024 ? 180_000 : 30_000;
    let returning: ReturnType<typeof tufClient>;

    beforeAll(async () => {
      server = await startTestServer({ flags: { "scheduler-period-seconds": "3600" } as any });
      const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(bins));
      expect(r.status).toBe(202);
      expect(r.body.message).toBe("Bootstrap accepted.");
      const task = await server.waitTask(r.body.data.task_id, 60_000);
      expect(task.state).toBe("SUCCESS");
      trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      rmSync(clientDir, { recursive: true, force: true });
    });

    test(
      "a fresh client downloads and verifies artifacts added through the API",
      async () => {
        const items = [
          targetFile(server, "releases/app-1.0.tar.gz", "app one point oh"),
          targetFile(server, "releases/app-1.1.tar.gz", "app one point one"),
          targetFile(server, "docs/readme ü.txt", "unicode path"),
          targetFile(server, "top-level.bin", "x".repeat(5000)),
        ];
        const r = await server.api("POST", "/api/v1/artifacts", {
          artifacts: items.map(({ path, info }) => ({ path, info })),
        });
        expect(r.status).toBe(202);
        expect(r.body.message).toBe("New Artifact(s) successfully submitted.");
        expect(r.body.data.artifacts).toEqual(items.map((i) => i.path));
        expect(r.body.data.task_id).toMatch(/^[0-9a-f]{32}$/);
        const task = await server.waitTask(r.body.data.task_id);
        expect(task.state).toBe("SUCCESS");
        expect(task.result.task).toBe("add_artifacts");
        expect(task.result.details.added_artifacts).toEqual(items.map((i) => i.path));
        for (const role of task.result.details.artifact_roles)
          expect(role).toMatch(bins === 4 ? /^bins-[0-3]$/ : /^bins-[0-9a-f]{4}$/);
        for (const i of items) files[i.path] = i.bytes;

        const client = tufClient(server.url, join(clientDir, "fresh"), trustedRoot);
        await client.refresh();
        for (const i of items) expect(await client.download(i.path)).toEqual(i.bytes);
        expect(await client.download("not/added.txt")).toBeUndefined();
        returning = client;
      },
      slow,
    );

    test(
      "a returning client follows a removal",
      async () => {
        const client = returning;
        const before = client.version("timestamp");

        const r = await server.api("POST", "/api/v1/artifacts/delete", {
          artifacts: ["releases/app-1.0.tar.gz", "never/existed"],
        });
        expect(r.status).toBe(202);
        expect(r.body.message).toBe("Remove Artifact(s) successfully submitted.");
        const task = await server.waitTask(r.body.data.task_id);
        expect(task.state).toBe("SUCCESS");
        expect(task.result.details.deleted_artifacts).toEqual(["releases/app-1.0.tar.gz"]);
        expect(task.result.details.not_found_artifacts).toEqual(["never/existed"]);

        await client.refresh();
        expect(client.version("timestamp")).toBeGreaterThan(before);
        expect(await client.download("releases/app-1.0.tar.gz")).toBeUndefined();
        expect(await client.download("releases/app-1.1.tar.gz")).toEqual(files["releases/app-1.1.tar.gz"]!);
      },
      slow,
    );

    test(
      "a returning client follows scheduled re-signing of every online role",
      async () => {
        const client = returning;
        const heads = new Map(server.app.repo.heads().map((h) => [h.role, h.version]));
        // Every online role expires within two days (bins/snapshot/timestamp: 1 day,
        // targets: 365 days is outside); ask the scheduler with a 400-day window.
        const roles = server.app.repo.expiringRoles(400 * 86_400_000);
        expect(roles.length).toBe(bins + 3);
        server.app.repo.requestBump(roles);
        await server.app.publisher.idle();
        const after = new Map(server.app.repo.heads().map((h) => [h.role, h.version]));
        for (const role of roles) expect(after.get(role)).toBe(heads.get(role)! + 1);
        expect(after.get("root")).toBe(heads.get("root")!);

        await client.refresh();
        expect(client.version("timestamp")).toBe(after.get("timestamp")!);
        expect(client.version("targets")).toBe(after.get("targets")!);
        expect(await client.download("top-level.bin")).toEqual(files["top-level.bin"]!);
        expect(await client.download("docs/readme ü.txt")).toEqual(files["docs/readme ü.txt"]!);
      },
      slow,
    );

    test("the scheduler job re-signs what is near expiry, and only that", async () => {
      const heads = new Map(server.app.repo.heads().map((h) => [h.role, h.version]));
      // Nothing expires within the default window: a run changes nothing.
      const result = await server.app.scheduler.runNow("resign-expiring");
      expect(result).toBe("nothing near expiry");
      await server.app.publisher.idle();
      expect(new Map(server.app.repo.heads().map((h) => [h.role, h.version]))).toEqual(heads);
    });
  });
}
