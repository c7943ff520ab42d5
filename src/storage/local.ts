/**
 * Content storage in a local directory (`storage.local_dir`):
 *   objects/sha256/<first two hex>/<sha256>   the bytes, one file per content
 *   staging/                                  uploads being received (staging.ts)
 * Both on one filesystem, so `commit` is a rename: a content file is always
 * complete. Served with Bun.file, which streams with sendfile and answers
 * Range requests itself.
 */
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { contentHeaders, notModified } from "./http.ts";
import { Staging, syncFile } from "./staging.ts";
import {
  StorageError,
  type ContentStorage,
  type ServeOptions,
  type StagedContent,
  type StageOptions,
} from "./storage.ts";

export class LocalStorage implements ContentStorage {
  readonly kind = "local" as const;
  readonly dir: string;
  readonly #staging: Staging;

  constructor(dir: string) {
    this.dir = dir;
    this.#staging = new Staging(join(dir, "staging"));
  }

  async open(): Promise<void> {
    await mkdir(join(this.dir, "objects", "sha256"), { recursive: true });
    await this.#staging.open();
  }

  async close(): Promise<void> {}

  /** Where the bytes of `sha256` live. */
  pathOf(sha256: string): string {
    return join(this.dir, "objects", "sha256", sha256.slice(0, 2), sha256);
  }

  async stage(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: StageOptions): Promise<StagedContent> {
    const file = await this.#staging.receive(body, opts);
    const final = this.pathOf(file.sha256);
    let committed = false;
    return {
      length: file.length,
      sha256: file.sha256,
      sha512: file.sha512,
      commit: async () => {
        if (committed) return;
        try {
          const parent = dirname(final);
          await syncFile(file.path);
          const created = await mkdir(parent, { recursive: true });
          // Same bytes under the same name: replacing an existing copy is harmless.
          await rename(file.path, final);
          // The rename is durable only once the directory entry is (and a new
          // fan-out directory's own entry in its parent).
          await fsyncDir(parent);
          if (created !== undefined) await fsyncDir(dirname(parent));
        } catch (err) {
          throw new StorageError(
            `cannot store content ${file.sha256} in ${this.dir}: ${(err as Error).message}`,
            "check that storage.local_dir is writable and has free space",
            { cause: err },
          );
        }
        committed = true;
      },
      discard: async () => {
        if (!committed) await rm(file.path, { force: true });
      },
    };
  }

  async exists(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(sha256))).isFile();
    } catch {
      return false;
    }
  }

  async read(sha256: string): Promise<ReadableStream<Uint8Array> | undefined> {
    if (!(await this.exists(sha256))) return undefined;
    return Bun.file(this.pathOf(sha256)).stream();
  }

  async serve(req: Request, content: { sha256: string; length: number }, opts: ServeOptions): Promise<Response> {
    const headers = contentHeaders(content.sha256, opts);
    if (notModified(req, content.sha256)) return new Response(null, { status: 304, headers });
    const path = this.pathOf(content.sha256);
    if (!(await this.exists(content.sha256))) return missing();
    // Bun answers Range (206 / 416) and HEAD for file bodies itself.
    return new Response(Bun.file(path), { headers });
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  sweep(olderThanMs: number): Promise<number> {
    return this.#staging.sweep(olderThanMs);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function missing(): Response {
  return new Response(JSON.stringify({ detail: { error: "target not found" } }), {
    status: 404,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}
