/**
 * A real S3-protocol server for tests: s3rver on 127.0.0.1 (a port the OS
 * picks), its objects in a temp dir. Never a mock object: Bun's S3 client
 * talks HTTP + SigV4 to it exactly as to AWS.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

export interface TestS3 {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /** environment for a tufbox child process using this bucket */
  env: Record<string, string>;
  client: Bun.S3Client;
  /** every key in the bucket */
  keys(prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startS3(bucket = "tufbox-test"): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), "tufbox-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = (await server.run()) as unknown as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver accepts these fixed credentials.
  const accessKeyId = "S3RVER";
  const secretAccessKey = "S3RVER";
  const client = new Bun.S3Client({ bucket, endpoint, accessKeyId, secretAccessKey, region: "us-east-1" });
  return {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    dir,
    client,
    env: {
      TUFBOX_STORAGE_DRIVER: "s3",
      TUFBOX_S3_BUCKET: bucket,
      TUFBOX_S3_ENDPOINT: endpoint,
      TUFBOX_S3_REGION: "us-east-1",
      TUFBOX_S3_ACCESS_KEY_ID: accessKeyId,
      TUFBOX_S3_SECRET_ACCESS_KEY: secretAccessKey,
    },
    async keys(prefix = "") {
      const out: string[] = [];
      let token: string | undefined;
      for (;;) {
        const page = await client.list({ prefix, maxKeys: 1000, ...(token ? { continuationToken: token } : {}) });
        for (const c of page.contents ?? []) out.push(c.key);
        if (!page.isTruncated || !page.nextContinuationToken) return out.sort();
        token = page.nextContinuationToken;
      }
    },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
