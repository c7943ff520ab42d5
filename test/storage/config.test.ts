/** Configuration of artifact content storage and the drop directory. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, describeConfig, loadConfig } from "../../src/config.ts";

const load = (env: Record<string, string> = {}, flags: Record<string, string> = {}) =>
  loadConfig({ flags, env, stderrIsTTY: false });

function problems(env: Record<string, string>): string {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("storage and ingest configuration", () => {
  test("defaults: local storage under the data dir, sha256, automatic grace, no drop directory", () => {
    const c = load({ TUFBOX_DATA_DIR: "/srv/tuf" });
    expect(c.storage).toEqual({
      driver: "local",
      local_dir: "/srv/tuf/content",
      hashes: ["sha256"],
      gc_grace_hours: null,
      s3: {
        bucket: null,
        endpoint: null,
        region: null,
        prefix: "",
        access_key_id: null,
        secret_access_key: null,
        download: "redirect",
        presign_seconds: 300,
      },
    });
    expect(c.ingest).toEqual({ drop_dir: null, scan_seconds: 5, parallel: 2 });
    expect(c.limits.max_upload_bytes).toBe(2 * 1024 ** 3);
  });

  test("environment variables and the --drop-dir flag", () => {
    const c = load(
      {
        TUFBOX_STORAGE_DRIVER: "s3",
        TUFBOX_S3_BUCKET: "artifacts",
        TUFBOX_S3_ENDPOINT: "http://127.0.0.1:9000",
        TUFBOX_S3_REGION: "eu-west-1",
        TUFBOX_S3_PREFIX: "tuf",
        TUFBOX_S3_ACCESS_KEY_ID: "AKIA",
        TUFBOX_S3_SECRET_ACCESS_KEY: "very-secret-value",
        TUFBOX_S3_DOWNLOAD: "proxy",
        TUFBOX_STORAGE_HASHES: "sha256,sha512",
        TUFBOX_MAX_UPLOAD_BYTES: "1GiB",
        TUFBOX_STORAGE_GC_GRACE_HOURS: "72",
      },
      { "drop-dir": "/srv/drop" },
    );
    expect(c.storage.driver).toBe("s3");
    expect(c.storage.s3).toMatchObject({
      bucket: "artifacts",
      endpoint: "http://127.0.0.1:9000",
      region: "eu-west-1",
      prefix: "tuf/",
      download: "proxy",
    });
    expect(c.storage.hashes).toEqual(["sha256", "sha512"]);
    expect(c.storage.gc_grace_hours).toBe(72);
    expect(c.limits.max_upload_bytes).toBe(1024 ** 3);
    expect(c.ingest.drop_dir).toBe("/srv/drop");
    // Credentials never show.
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain("very-secret-value");
    expect(shown).not.toContain("AKIA");
  });

  test("S3 credentials from _FILE variables", () => {
    const dir = mkdtempSync(join(tmpdir(), "tufbox-s3cfg-"));
    writeFileSync(join(dir, "key"), "AKIAFROMFILE\n");
    writeFileSync(join(dir, "secret"), "secret-from-file\n");
    const c = load({
      TUFBOX_S3_ACCESS_KEY_ID_FILE: join(dir, "key"),
      TUFBOX_S3_SECRET_ACCESS_KEY_FILE: join(dir, "secret"),
    });
    expect(c.storage.s3.access_key_id).toBe("AKIAFROMFILE");
    expect(c.storage.s3.secret_access_key).toBe("secret-from-file");
  });

  test("bad values name the key and what is allowed", () => {
    expect(problems({ TUFBOX_STORAGE_DRIVER: "gcs" })).toMatch(/storage\.driver.*expected one of local, s3/);
    expect(problems({ TUFBOX_STORAGE_DRIVER: "s3" })).toMatch(
      /storage\.s3\.bucket.*must be set when storage\.driver is s3/,
    );
    expect(problems({ TUFBOX_STORAGE_HASHES: "md5" })).toMatch(/storage\.hashes.*expected sha256/);
    expect(problems({ TUFBOX_STORAGE_HASHES: "sha512" })).toMatch(/storage\.hashes/);
    expect(problems({ TUFBOX_S3_DOWNLOAD: "stream" })).toMatch(/storage\.s3\.download.*redirect, proxy/);
    expect(problems({ TUFBOX_S3_PREFIX: "/abs" })).toMatch(/storage\.s3\.prefix/);
    expect(problems({ TUFBOX_S3_ENDPOINT: "ftp://x" })).toMatch(/storage\.s3\.endpoint/);
    expect(problems({ TUFBOX_MAX_UPLOAD_BYTES: "lots" })).toMatch(/limits\.max_upload_bytes/);
    expect(problems({ TUFBOX_DROP_DIR_PARALLEL: "0" })).toMatch(/ingest\.parallel/);
  });
});
