/**
 * Walking a directory of artifacts (drop directory, `tufbox import DIR`):
 * every regular file with its path relative to the root ('/'-separated, the
 * target path). Never follows a symbolic link and never reads a special file
 * (FIFO, socket, device): each is refused with the file named, so a pipeline
 * cannot make tufbox publish something outside the directory it wrote.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { checkTargetPath } from "../tuf/metadata.ts";
import { TufError } from "../tuf/errors.ts";

export interface WalkedFile {
  /** absolute (or root-relative) path on disk */
  file: string;
  /** target path: relative to the root, '/'-separated */
  path: string;
  size: number;
  mtimeMs: number;
}

/** A file the walk refuses; `file` is relative to the root. */
export class WalkError extends Error {
  readonly file: string;
  readonly hint: string;
  constructor(file: string, message: string, hint: string) {
    super(message);
    this.name = "WalkError";
    this.file = file;
    this.hint = hint;
  }
}

export interface WalkOptions {
  /** names (at any depth) to leave out, e.g. tufbox's own error.json */
  skip?: (relative: string) => boolean;
}

export async function walkFiles(root: string, opts: WalkOptions = {}): Promise<WalkedFile[]> {
  const out: WalkedFile[] = [];
  const visit = async (dir: string, rel: string): Promise<void> => {
    const entries = await readdir(dir);
    entries.sort();
    for (const name of entries) {
      const relative = rel === "" ? name : `${rel}/${name}`;
      if (opts.skip?.(relative)) continue;
      const full = join(dir, name);
      const st = await lstat(full);
      if (st.isSymbolicLink())
        throw new WalkError(
          relative,
          `${relative} is a symbolic link`,
          "copy the file itself into the directory: links are never followed, so nothing outside it can be published",
        );
      if (st.isDirectory()) {
        await visit(full, relative);
        continue;
      }
      if (!st.isFile())
        throw new WalkError(
          relative,
          `${relative} is not a regular file (FIFO, socket or device)`,
          "remove it from the directory: only regular files are published",
        );
      try {
        checkTargetPath(relative, "");
      } catch (err) {
        if (err instanceof TufError)
          throw new WalkError(
            relative,
            `${JSON.stringify(relative)} is not a valid target path: ${err.message.replace(/^: /, "")}`,
            "rename the file: target paths are '/'-separated, without control characters or backslashes",
          );
        throw err;
      }
      out.push({ file: full, path: relative, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  await visit(root, "");
  return out;
}

/** Run `fn` over `items` with at most `limit` at once; the first error stops new work and is thrown. */
export async function inParallel<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return results;
}
