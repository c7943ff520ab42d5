/**
 * tuf-js against a repository with four distinct online keys (issue 17 item
 * 3): timestamp ed25519, snapshot ecdsa, targets rsa, bins ed25519, each
 * found by its x-rstuf-online-key-uri in the server's online-key directory.
 * A fresh client downloads; a root update over the API rotates the snapshot
 * key and the returning client follows it. No log line carries key material.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { statusCommand } from "../../src/cli/status.ts";
import { serverTerm } from "../cli/server-helpers.ts";
import { newOnlineKey, onlineKeyDir, perRolePayload, type RoleKeys, rootUpdate } from "../helpers/online-keys.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { targetFile } from "../helpers/targets.ts";
import { tufClient } from "../helpers/tufjs.ts";

let server: TestServer;
const keyDir = onlineKeyDir();
const clientDir = tempDir("tufbox-client-");
const logLines: string[] = [];
let keys: RoleKeys;

function artifact(path: string, content: string) {
  return targetFile(server, path, content);
}

beforeAll(async () => {
  keys = {
    timestamp: newOnlineKey("ed25519", keyDir, "timestamp key"),
    snapshot: newOnlineKey("ecdsa", keyDir, "snapshot key"),
    targets: newOnlineKey("rsa", keyDir, "targets key"),
    bins: newOnlineKey("ed25519", keyDir, "bins key"),
  };
  server = await startTestServer({ flags: { "online-key-dir": keyDir }, logLines });
  const r = await server.api("POST", "/api/v1/bootstrap", perRolePayload(keys, 8));
  expect(r.status).toBe(202);
  expect((await server.waitTask(r.body.data.task_id, 60_000)).state).toBe("SUCCESS");
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(clientDir, { recursive: true, force: true });
  rmSync(keyDir, { recursive: true, force: true });
});

test("tuf-js downloads from a repository whose four online roles have four keys, and follows a snapshot key rotation", async () => {
  const items = [artifact("four/keys.txt", "four keys"), artifact("other/file.bin", "y".repeat(300))];
  const add = await server.api("POST", "/api/v1/artifacts", {
    artifacts: items.map(({ path, info }) => ({ path, info })),
  });
  expect((await server.waitTask(add.body.data.task_id)).state).toBe("SUCCESS");

  const trusted = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
  const client = tufClient(server.url, join(clientDir, "c"), trusted);
  await client.refresh();
  for (const i of items) expect(await client.download(i.path)).toEqual(i.bytes);

  // The config and the dashboard say which key signs which role (keyids only).
  const config = (await server.api("GET", "/api/v1/config")).body.data;
  expect(config.online_keys).toEqual({
    targets: keys.targets.keyid,
    snapshot: keys.snapshot.keyid,
    timestamp: keys.timestamp.keyid,
    bins: keys.bins!.keyid,
  });
  expect((await server.api("GET", "/api/v1/roles")).body.data.bins.keyids).toEqual([keys.bins!.keyid]);
  const st = serverTerm(server.url);
  await statusCommand([], st.term);
  const report = st.out.join("\n");
  expect(report).toContain("online keys");
  for (const role of ["timestamp", "snapshot", "targets", "bins"] as const)
    expect(report).toMatch(new RegExp(`  ${role}\\s+${keys[role]!.keyid}`));

  // Rotate the snapshot key through POST /api/v1/metadata.
  const before = new Map(server.app.repo.heads().map((h) => [h.role, h.version]));
  const snapshot = newOnlineKey("rsa", keyDir, "snapshot key 2");
  const root = (await (await fetch(`${server.url}/metadata/root.json`)).json()) as any;
  const update = await server.api("POST", "/api/v1/metadata", {
    metadata: { root: rootUpdate(root.signed, { ...keys, snapshot }) },
  });
  expect(update.status).toBe(202);
  expect((await server.waitTask(update.body.data.task_id)).state).toBe("SUCCESS");
  const after = new Map(server.app.repo.heads().map((h) => [h.role, h.version]));
  const changed = [...after]
    .filter(([role, v]) => before.get(role) !== v)
    .map(([role]) => role)
    .sort();
  expect(changed).toEqual(["root", "snapshot", "timestamp"]);

  const more = artifact("after/rotation.txt", "after");
  const add2 = await server.api("POST", "/api/v1/artifacts", { artifacts: [{ path: more.path, info: more.info }] });
  expect((await server.waitTask(add2.body.data.task_id)).state).toBe("SUCCESS");
  await client.refresh();
  expect(client.version("root")).toBe(2);
  expect(await client.download(more.path)).toEqual(more.bytes);
  expect(await client.download(items[0]!.path)).toEqual(items[0]!.bytes);

  // No private key in any log line: neither PEM text nor a line of its base64.
  expect(logLines.length).toBeGreaterThan(0);
  const log = logLines.join("\n");
  expect(log).not.toContain("PRIVATE KEY");
  for (const f of readdirSync(keyDir)) {
    const body = readFileSync(join(keyDir, f), "utf8")
      .split("\n")
      .filter((l) => l.length > 40 && !l.startsWith("-----"));
    for (const line of body) expect(log).not.toContain(line);
  }
}, 60_000);
