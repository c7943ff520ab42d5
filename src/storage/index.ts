/** The content storage `storage.driver` names. */
import type { StorageSettings } from "../config.ts";
import { LocalStorage } from "./local.ts";
import { S3Storage } from "./s3.ts";
import type { ContentStorage } from "./storage.ts";

export function createStorage(settings: StorageSettings): ContentStorage {
  if (settings.driver === "s3") {
    const s3 = settings.s3;
    return new S3Storage({
      bucket: s3.bucket!,
      endpoint: s3.endpoint,
      region: s3.region,
      prefix: s3.prefix,
      accessKeyId: s3.access_key_id,
      secretAccessKey: s3.secret_access_key,
      download: s3.download,
      presignSeconds: s3.presign_seconds,
      stagingDir: settings.local_dir,
    });
  }
  return new LocalStorage(settings.local_dir);
}
