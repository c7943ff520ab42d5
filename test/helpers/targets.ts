/** An artifact the server serves from its targets directory, listed with its length and sha256. */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TestServer } from "./server.ts";

export function targetFile(server: TestServer, path: string, content: string) {
  const bytes = new TextEncoder().encode(content);
  const file = join(server.app.config.targets.dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return {
    path,
    info: { length: bytes.length, hashes: { sha256: createHash("sha256").update(bytes).digest("hex") } },
    bytes,
  };
}
