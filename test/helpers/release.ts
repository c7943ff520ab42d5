/**
 * `bun run release` once per test process, into a temporary folder, shared by
 * every test that needs the release files or the compiled binaries (release
 * files, arm64 under qemu, the container image, the x64 binary end to end):
 * compiling both targets takes seconds and 220 MB, so it is done once.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./temp.ts";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

let release: Promise<string> | undefined;

/** The folder `bun run release -- --out DIR` wrote; throws with its output if it failed. */
export function releaseDir(): Promise<string> {
  release ??= (async () => {
    const dir = tempDir("tufbox-release-");
    const proc = Bun.spawn(["bun", "run", "release", "--", "--out", dir], {
      cwd: REPO,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    if (code !== 0) throw new Error(`bun run release failed (exit ${code}):\n${out}${err}`);
    return dir;
  })();
  return release;
}

export async function releaseFile(name: string): Promise<string> {
  return join(await releaseDir(), name);
}
