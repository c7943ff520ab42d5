/**
 * Backup with S3 content storage (s3rver on loopback): the backup lists every
 * stored object (key, sha256, length) instead of copying the bytes, which the
 * bucket keeps; a server restored from it with the same bucket serves the
 * artifacts to tuf-js, and validate accepts it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { backupCommand, restoreCommand } from "../../src/cli/backup.ts";
import { validateCommand } from "../../src/cli/validate.ts";
import { indexTar } from "../../src/mirror/tar.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startS3, type TestS3 } from "../helpers/s3.ts";
import { startTestServer, TOKEN, tempDir, type TestServer } from "../helpers/server.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { run } from "./helpers.ts";

describe("backup with S3 content storage", () => {
  const work = tempDir("tufbox-backup-s3-");
  let s3: TestS3;
  let server: TestServer;
  let restored: TestServer | undefined;
  let trustedRoot: Uint8Array;
  const bytes = new TextEncoder().encode("kept in the bucket");

  beforeAll(async () => {
    s3 = await startS3();
    server = await startTestServer({ dataDir: join(work, "data"), env: s3.env });
    const r = await server.api("POST", "/api/v1/bootstrap", binsPayload(4));
    expect((await server.waitTask(r.body.data.task_id, 120_000)).state).toBe("SUCCESS");
    trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    const put = await fetch(`${server.url}/api/v1/artifacts/content/tools/t.bin`, {
      method: "PUT",
      body: bytes,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(put.status).toBe(202);
    await server.waitTask(((await put.json()) as any).data.task_id);
  }, 120_000);

  afterAll(async () => {
    await restored?.stop();
    await server?.stop();
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("the backup lists the S3 objects; the restored server with the same bucket serves them", async () => {
    const out = join(work, "b.tar");
    const b = await run(backupCommand, ["--server", server.url, "--out", out, "--json"], { TUFBOX_TOKEN: TOKEN });
    expect(b.code).toBe(0);
    expect(b.json.content).toMatchObject({ storage: "s3", objects: 1, bytes_included: false });
    const entries = await indexTar(out);
    expect([...entries.keys()].some((n) => n.startsWith("content/sha256/"))).toBe(false);
    const e = entries.get("content.jsonl")!;
    const listed = JSON.parse(
      new TextDecoder().decode(
        await Bun.file(out)
          .slice(e.offset, e.offset + e.size)
          .bytes(),
      ),
    );
    const sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    expect(listed).toMatchObject({ sha256, length: bytes.length, key: `sha256/${sha256}` });
    expect(await s3.keys()).toContain(listed.key);

    const dir = join(work, "restored");
    const r = await run(restoreCommand, [out, "--data-dir", dir]);
    expect(r.code).toBe(0);
    expect(r.text).toContain("the backup lists S3 objects");
    await server.stop();
    restored = await startTestServer({ dataDir: dir, env: s3.env });
    const client = tufClient(restored.url, join(work, "client"), trustedRoot);
    await client.refresh();
    expect(await client.download("tools/t.bin")).toEqual(bytes);
    const rootFile = join(work, "1.root.json");
    writeFileSync(rootFile, trustedRoot);
    expect((await run(validateCommand, ["--server", restored.url, "--root", rootFile])).code).toBe(0);
  }, 120_000);
});
