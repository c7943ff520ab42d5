/**
 * Content storage in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph…) with
 * Bun's built-in S3 client. Objects are `<prefix>sha256/<sha256>`.
 *
 * Why stage on local disk first: the object key is the content's hash, known
 * only after the last byte, and Bun's S3 client has no server-side copy to
 * rename a temporary object. Staging in `storage.local_dir/staging` costs one
 * local write but gives three properties for free: an interrupted upload
 * never leaves an object (or a half multipart upload) in the bucket, a
 * failed PUT can be retried from the file, and the bytes already in the
 * bucket are not uploaded again (dedup by a HEAD on the key).
 *
 * Downloads either redirect to a short-lived presigned URL (default: the
 * bucket or its CDN carries the bytes) or stream through tufbox
 * (`storage.s3.download: proxy`, for buckets clients cannot reach).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { byteRange, contentHeaders, notModified } from "./http.ts";
import { missing } from "./local.ts";
import { Staging } from "./staging.ts";
import {
  StorageError,
  type ContentStorage,
  type ServeOptions,
  type StagedContent,
  type StageOptions,
} from "./storage.ts";

export interface S3StorageOptions {
  bucket: string;
  endpoint: string | null;
  region: string | null;
  /** key prefix, e.g. "tufbox/" ("" for none) */
  prefix: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  download: "redirect" | "proxy";
  /** lifetime of presigned download URLs */
  presignSeconds: number;
  /** local directory for staging uploads */
  stagingDir: string;
}

export class S3Storage implements ContentStorage {
  readonly kind = "s3" as const;
  readonly #opts: S3StorageOptions;
  readonly #client: Bun.S3Client;
  readonly #staging: Staging;

  constructor(opts: S3StorageOptions) {
    this.#opts = opts;
    this.#client = new Bun.S3Client({
      bucket: opts.bucket,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.accessKeyId ? { accessKeyId: opts.accessKeyId } : {}),
      ...(opts.secretAccessKey ? { secretAccessKey: opts.secretAccessKey } : {}),
    });
    this.#staging = new Staging(join(opts.stagingDir, "staging"));
  }

  async open(): Promise<void> {
    await this.#staging.open();
  }

  async close(): Promise<void> {}

  keyOf(sha256: string): string {
    return `${this.#opts.prefix}sha256/${sha256}`;
  }

  async stage(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: StageOptions): Promise<StagedContent> {
    const file = await this.#staging.receive(body, opts);
    const key = this.keyOf(file.sha256);
    let committed = false;
    return {
      length: file.length,
      sha256: file.sha256,
      sha512: file.sha512,
      commit: async () => {
        if (committed) return;
        try {
          if (!(await this.#client.exists(key))) {
            // Resolves once S3 acknowledged the object (multipart for large files).
            await this.#client.write(key, Bun.file(file.path), { type: "application/octet-stream" });
          }
        } catch (err) {
          throw this.#failure(`cannot store content ${file.sha256}`, err);
        }
        committed = true;
        await rm(file.path, { force: true });
      },
      discard: async () => {
        await rm(file.path, { force: true });
      },
    };
  }

  async exists(sha256: string): Promise<boolean> {
    try {
      return await this.#client.exists(this.keyOf(sha256));
    } catch (err) {
      throw this.#failure(`cannot check content ${sha256}`, err);
    }
  }

  async read(sha256: string): Promise<ReadableStream<Uint8Array> | undefined> {
    if (!(await this.exists(sha256))) return undefined;
    return this.#client.file(this.keyOf(sha256)).stream();
  }

  async serve(req: Request, content: { sha256: string; length: number }, opts: ServeOptions): Promise<Response> {
    const headers = contentHeaders(content.sha256, opts);
    if (notModified(req, content.sha256)) return new Response(null, { status: 304, headers });
    const key = this.keyOf(content.sha256);
    if (this.#opts.download === "redirect") {
      const location = this.#client.presign(key, {
        expiresIn: this.#opts.presignSeconds,
        method: req.method === "HEAD" ? "HEAD" : "GET",
      });
      // The URL expires: caches must not keep the redirect longer than it works.
      return new Response(null, {
        status: 302,
        headers: {
          Location: location,
          "Cache-Control": `private, max-age=${Math.max(0, this.#opts.presignSeconds - 60)}`,
        },
      });
    }
    const size = content.length;
    const range = byteRange(req.headers.get("range"), size);
    if (range === "unsatisfiable")
      return new Response(null, { status: 416, headers: { ...headers, "Content-Range": `bytes */${size}` } });
    const [start, end] = range ?? [0, size - 1];
    const partial = range !== undefined;
    const responseHeaders: Record<string, string> = { ...headers, "Content-Length": String(end - start + 1) };
    if (partial) responseHeaders["Content-Range"] = `bytes ${start}-${end}/${size}`;
    const status = partial ? 206 : 200;
    if (req.method === "HEAD") return new Response(null, { status, headers: responseHeaders });
    if (size === 0) return new Response(new Uint8Array(0), { status, headers: responseHeaders });
    const file = this.#client.file(key);
    let stream: ReadableStream<Uint8Array>;
    try {
      if (!(await file.exists())) return missing();
      stream = (partial ? file.slice(start, end + 1) : file).stream();
    } catch (err) {
      throw this.#failure(`cannot read content ${content.sha256}`, err);
    }
    return new Response(stream, { status, headers: responseHeaders });
  }

  async delete(sha256: string): Promise<void> {
    try {
      await this.#client.delete(this.keyOf(sha256));
    } catch (err) {
      if ((err as { code?: string }).code === "NoSuchKey") return;
      throw this.#failure(`cannot delete content ${sha256}`, err);
    }
  }

  sweep(olderThanMs: number): Promise<number> {
    return this.#staging.sweep(olderThanMs);
  }

  #failure(what: string, err: unknown): StorageError {
    return new StorageError(
      `${what} in bucket ${this.#opts.bucket}: ${(err as Error).message ?? String(err)}`,
      "check storage.s3.endpoint, bucket and credentials, and that the bucket is reachable",
      { cause: err },
    );
  }
}
