/** The content storage contract against a real S3-protocol server (s3rver on loopback), in both download modes. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Storage } from "../../src/storage/s3.ts";
import { startS3, type TestS3 } from "../helpers/s3.ts";
import { storageContract } from "./contract.ts";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3.stop();
});

let runs = 0;
function make(download: "redirect" | "proxy") {
  return async () => {
    const staging = mkdtempSync(join(tmpdir(), "tufbox-s3staging-"));
    // Each test its own prefix: the bucket is shared by the whole file.
    const prefix = `run${++runs}/`;
    const storage = new S3Storage({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: "us-east-1",
      prefix,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      download,
      presignSeconds: 120,
      stagingDir: staging,
    });
    return { storage, cleanup: async () => rmSync(staging, { recursive: true, force: true }) };
  };
}

storageContract("s3 (redirect)", make("redirect"));
storageContract("s3 (proxy)", make("proxy"));

describe("S3Storage", () => {
  test("objects are <prefix>sha256/<sha256>; a failed upload leaves no object", async () => {
    const storage = (await make("redirect")()).storage;
    await storage.open();
    const staged = await storage.stage([new TextEncoder().encode("hello")], { maxBytes: 100, hashes: ["sha256"] });
    await staged.commit();
    const prefix = `run${runs}/`;
    expect(await s3.keys(prefix)).toEqual([`${prefix}sha256/${staged.sha256}`]);
    await expect(storage.stage([new Uint8Array(200)], { maxBytes: 100, hashes: ["sha256"] })).rejects.toThrow(/limit/);
    expect(await s3.keys(prefix)).toEqual([`${prefix}sha256/${staged.sha256}`]);
  });

  test("redirect mode answers 302 to a presigned URL that expires", async () => {
    const storage = (await make("redirect")()).storage;
    const res = await storage.serve(
      new Request("http://x/"),
      { sha256: "a".repeat(64), length: 1 },
      { name: "a", immutable: true },
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.searchParams.get("X-Amz-Expires")).toBe("120");
    expect(location.pathname).toContain("sha256/" + "a".repeat(64));
  });
});
