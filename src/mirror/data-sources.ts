/**
 * `tufbox export --data-dir DIR` reads a repository from disk instead of over
 * HTTP: a tufbox data directory (its store holds every published document;
 * artifact bytes are in its targets directory) or a mirror's data directory
 * (mirror.db and its targets). Both go through the same verification as an
 * upstream: nothing here is trusted.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "../store/store.ts";
import { parseMetadataFileName } from "../tuf/file-names.ts";
import { TargetFiles } from "../server/targets.ts";
import { encodePath, SourceError, type Source, type TargetStream } from "./source.ts";
import { MirrorStore } from "./store.ts";

function capped(bytes: Uint8Array | undefined, maxLength: number, name: string): Uint8Array | undefined {
  if (bytes && bytes.byteLength > maxLength)
    throw new SourceError(
      "tampered",
      `${name} is ${bytes.byteLength} bytes, more than the ${maxLength} allowed for it`,
    );
  return bytes;
}

function fileStream(path: string): TargetStream {
  const file = Bun.file(path);
  const body = file.stream();
  return { body, size: file.size, cancel: () => void body.cancel().catch(() => undefined) };
}

/** A tufbox repository's own store (SQLite or PostgreSQL) and targets directory. */
export class TufboxStoreSource implements Source {
  readonly label: string;
  readonly #store: Store;
  readonly #targets: TargetFiles | undefined;

  constructor(store: Store, label: string, targetsDir?: string) {
    this.#store = store;
    this.label = label;
    this.#targets = targetsDir ? new TargetFiles(targetsDir) : undefined;
  }

  async metadata(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    if (name === "timestamp.json")
      return capped((await this.#store.getLatestDocument("timestamp"))?.bytes, maxLength, name);
    if (name === "root.json") return capped((await this.#store.getLatestDocument("root"))?.bytes, maxLength, name);
    const parsed = parseMetadataFileName(name);
    if (!parsed || parsed.version === null) return undefined;
    return capped((await this.#store.getDocument(parsed.role, parsed.version))?.bytes, maxLength, name);
  }

  async target(urlPath: string): Promise<TargetStream | undefined> {
    if (!this.#targets) return undefined;
    const found = await this.#targets.lookup(encodePath(urlPath));
    return found.kind === "file" ? fileStream(found.file.path) : undefined;
  }

  async listMetadata(): Promise<string[]> {
    const docs = await this.#store.listDocuments();
    return docs.filter((d) => d.role !== "timestamp").map((d) => `${d.version}.${d.role}.json`);
  }

  async close(): Promise<void> {
    await this.#store.close();
  }
}

/** A mirror's data directory: mirror.db (read only) and the verified target files. */
export class MirrorDirSource implements Source {
  readonly label: string;
  readonly #store: MirrorStore;
  readonly #targetsDir: string;

  constructor(dataDir: string, targetsDir?: string) {
    this.label = dataDir;
    this.#store = MirrorStore.open(join(dataDir, "mirror.db"), { readonly: true });
    this.#targetsDir = targetsDir ?? join(dataDir, "targets");
  }

  static isMirrorDir(dataDir: string): boolean {
    return existsSync(join(dataDir, "mirror.db"));
  }

  async metadata(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    if (name === "timestamp.json" || name === "root.json") {
      const role = name === "root.json" ? "root" : "timestamp";
      const version = this.#store.get(`${role}_version`);
      return capped(version ? this.#store.document(role, Number(version))?.bytes : undefined, maxLength, name);
    }
    const parsed = parseMetadataFileName(name);
    if (!parsed || parsed.version === null) return undefined;
    return capped(this.#store.document(parsed.role, parsed.version)?.bytes, maxLength, name);
  }

  async target(urlPath: string): Promise<TargetStream | undefined> {
    const segments = urlPath.split("/");
    if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0"))) return undefined;
    const path = join(this.#targetsDir, ...segments);
    return existsSync(path) ? fileStream(path) : undefined;
  }

  async listMetadata(): Promise<string[]> {
    return this.#store
      .listDocuments()
      .filter((d) => d.role !== "timestamp")
      .map((d) => `${d.version}.${d.role}.json`);
  }

  close(): void {
    this.#store.close();
  }
}
