/** The real tuf-js client, pointed at our server. */
import { mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Updater } from "tuf-js";

export interface Client {
  dir: string;
  refresh(): Promise<void>;
  download(path: string): Promise<Uint8Array | undefined>;
  version(role: string): number;
}

/** A client with its own metadata cache dir, trusting `trustedRoot` (bytes of N.root.json). */
export function tufClient(baseUrl: string, dir: string, trustedRoot?: Uint8Array): Client {
  const metadataDir = join(dir, "metadata");
  const targetDir = join(dir, "targets");
  mkdirSync(metadataDir, { recursive: true });
  mkdirSync(targetDir, { recursive: true });
  if (trustedRoot && !existsSync(join(metadataDir, "root.json")))
    writeFileSync(join(metadataDir, "root.json"), trustedRoot);
  const updater = () =>
    new Updater({
      metadataBaseUrl: `${baseUrl}/metadata`,
      targetBaseUrl: `${baseUrl}/targets`,
      metadataDir,
      targetDir,
      config: { fetchRetries: 0 },
    });
  let current: Updater | null = null;
  return {
    dir,
    async refresh() {
      current = updater();
      await current.refresh();
    },
    async download(path: string) {
      if (!current) throw new Error("refresh first");
      const info = await current.getTargetInfo(path);
      if (!info) return undefined;
      const file = join(targetDir, path.replaceAll("/", "_"));
      await current.downloadTarget(info, file);
      return new Uint8Array(readFileSync(file));
    },
    version(role: string) {
      const name =
        role === "timestamp" || role === "root" || role === "snapshot" || role === "targets"
          ? `${role}.json`
          : `${role}.json`;
      return JSON.parse(readFileSync(join(metadataDir, name), "utf8")).signed.version;
    },
  };
}
