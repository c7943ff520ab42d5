/**
 * The staging directory both backends receive bytes into: one file per
 * upload, hashed while it is written (syncFile makes it durable).
 *
 * Names carry the host, the process id and a per-process instance id
 * (`up-<host>-<pid>-<instance>-<random>.part`), so that at start-up a process
 * can remove what crashed processes on its host left behind without touching
 * the live uploads of another process sharing the directory — including after
 * a container restart, where the new process often has the same pid as the
 * crashed one (the instance id tells them apart). Files of other hosts are
 * removed by age only (the GC job's `sweep`).
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { UploadError, type ContentHash, type Digest, type StageOptions } from "./storage.ts";

const INSTANCE = randomBytes(6).toString("hex");
const HOST = hostname().replace(/[^A-Za-z0-9.]/g, "_");
const NAME = /^up-(.+)-(\d+)-([0-9a-f]{12})-[0-9a-f]+\.part$/;

export interface StagedFile extends Digest {
  path: string;
}

/**
 * fsync a staged file. Not done while receiving: the local backend syncs just
 * before its rename (and many files of one form in parallel, so the disk can
 * merge the flushes), the S3 backend never needs to (the bucket's
 * acknowledgement is what makes the bytes durable).
 */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class Staging {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async open(): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const m = NAME.exec(name);
      if (!m || m[1] !== HOST || m[3] === INSTANCE) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || !alive(pid)) {
        await rm(join(this.dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Remove staging files (of any host) not modified for `olderThanMs`. */
  async sweep(olderThanMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of names) {
      if (!NAME.test(name)) continue;
      const path = join(this.dir, name);
      try {
        if ((await stat(path)).mtimeMs < cutoff) {
          await rm(path, { force: true });
          removed++;
        }
      } catch {
        // gone meanwhile
      }
    }
    return removed;
  }

  /** Stream `body` into a new staging file, hashing it; on any failure the file is removed. */
  async receive(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: StageOptions): Promise<StagedFile> {
    const path = join(this.dir, `up-${HOST}-${process.pid}-${INSTANCE}-${randomBytes(8).toString("hex")}.part`);
    const hashers = new Map<ContentHash, Bun.CryptoHasher>([["sha256", new Bun.CryptoHasher("sha256")]]);
    if (opts.hashes.includes("sha512")) hashers.set("sha512", new Bun.CryptoHasher("sha512"));
    if (opts.expectedLength !== undefined && opts.expectedLength > opts.maxBytes) throw tooLarge(opts);
    const fh = await open(path, "wx", 0o644);
    let length = 0;
    try {
      for await (const chunk of body) {
        length += chunk.byteLength;
        if (length > opts.maxBytes) throw tooLarge(opts);
        if (opts.expectedLength !== undefined && length > opts.expectedLength)
          throw mismatch(opts.expectedLength, length, true);
        for (const h of hashers.values()) h.update(chunk);
        let off = 0;
        while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
      }
      if (opts.expectedLength !== undefined && length !== opts.expectedLength)
        throw mismatch(opts.expectedLength, length, false);
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(path, { force: true });
      if (err instanceof UploadError) throw err;
      if (isAbort(err)) throw new UploadError("aborted", "the client went away before sending every byte");
      throw err;
    }
    const digest: StagedFile = {
      path,
      length,
      sha256: hashers.get("sha256")!.digest("hex"),
      sha512: hashers.get("sha512")?.digest("hex") ?? null,
    };
    for (const [name, want] of Object.entries(opts.expectedDigest ?? {})) {
      const got = digest[name as ContentHash];
      if (want !== undefined && got !== null && got !== want.toLowerCase()) {
        await rm(path, { force: true });
        throw new UploadError(
          "digest_mismatch",
          `the bytes received have ${name} ${got}, but the request said ${want}: the upload was corrupted on the way`,
        );
      }
    }
    return digest;
  }
}

function tooLarge(opts: StageOptions): UploadError {
  return new UploadError(
    "too_large",
    `the upload is larger than the limit of ${opts.maxBytes} bytes (limits.max_upload_bytes)`,
  );
}

function mismatch(expected: number, got: number, more: boolean): UploadError {
  return new UploadError(
    "length_mismatch",
    more
      ? `Content-Length says ${expected} bytes, but more arrived`
      : `Content-Length says ${expected} bytes, but ${got} arrived`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

function isAbort(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === "AbortError" || e?.code === "ECONNRESET" || e?.code === "ERR_STREAM_PREMATURE_CLOSE";
}
