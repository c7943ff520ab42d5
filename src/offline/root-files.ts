/**
 * Files that carry a root document, as operators pass them around:
 *  - an RSTUF bootstrap payload (`{settings, metadata: {root}}`, root v1),
 *  - an RSTUF metadata-update payload (`{metadata: {root}}`, root N+1),
 *  - a metadata file (`{signed, signatures}`, e.g. a downloaded `N.root.json`).
 * Reading keeps the whole file so a signed copy round-trips everything else
 * (settings, timeout, unknown fields) unchanged.
 */
import { readFileSync, renameSync, writeFileSync, statSync, existsSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { parseRoot, type Metadata, type RootSigned } from "../tuf/metadata.ts";
import { TufError } from "../tuf/errors.ts";
import { OfflineError } from "./errors.ts";

export type RootFileKind = "bootstrap" | "update" | "metadata";

export interface RootFile {
  kind: RootFileKind;
  root: Metadata<RootSigned>;
  /** the whole file, with `root` in its place */
  content: unknown;
  source: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export const ROOT_FILE_HINT =
  "expected a bootstrap payload (tufbox ceremony), a metadata-update payload (tufbox root update) or a root metadata file (N.root.json)";

/** Find and check the root in a parsed file. `source` names the file in errors. */
export function rootFileFrom(value: unknown, source: string): RootFile {
  let kind: RootFileKind;
  let rootValue: unknown;
  let field: string;
  if (isObject(value) && "signed" in value && "signatures" in value) {
    kind = "metadata";
    rootValue = value;
    field = "";
  } else if (isObject(value) && isObject(value.metadata) && "root" in value.metadata) {
    kind = "settings" in value ? "bootstrap" : "update";
    rootValue = value.metadata.root;
    field = "metadata.root";
  } else {
    throw new OfflineError(`${source} holds no root metadata`, ROOT_FILE_HINT);
  }
  let root: Metadata<RootSigned>;
  try {
    root = parseRoot(rootValue, field);
  } catch (err) {
    if (err instanceof TufError)
      throw new OfflineError(
        `${source}: ${err.message}`,
        "the root in this file is not valid TUF root metadata; regenerate it with tufbox ceremony or tufbox root update",
      );
    throw err;
  }
  return { kind, root, content: value, source };
}

export function readRootFile(path: string): RootFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new OfflineError(
      `${path}: ${code === "ENOENT" ? "no such file" : `cannot read (${code ?? "error"})`}`,
      ROOT_FILE_HINT,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OfflineError(`${path} is not JSON`, ROOT_FILE_HINT);
  }
  return rootFileFrom(value, path);
}

/** The file's content with its root replaced (e.g. by a copy with one more signature). */
export function withRoot(file: RootFile, root: Metadata<RootSigned>): unknown {
  if (file.kind === "metadata") return root;
  const content = file.content as { metadata: Record<string, unknown> };
  return { ...content, metadata: { ...content.metadata, root } };
}

export function documentText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Write a JSON document atomically (temp file + rename), so an interrupted
 * write never leaves half a payload — in particular when signing in place.
 * Refuses to replace an existing file unless `replace` (signing in place).
 */
export function writeDocument(path: string, value: unknown, opts: { replace: boolean; what: string }): void {
  const text = documentText(value);
  // Defence in depth: these documents are public by design.
  if (/PRIVATE KEY/.test(text))
    throw new OfflineError(
      `refusing to write ${path}: it would contain private key material`,
      "this is a bug in tufbox; please report it",
    );
  if (!opts.replace && existsSync(path))
    throw new OfflineError(
      `${path} already exists`,
      `choose another --out for the ${opts.what}, or pass --force to replace it`,
    );
  const mode = existsSync(path) ? statSync(path).mode & 0o777 : 0o644;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}
