/**
 * The repository stands on its own: a fresh clone passes its own test
 * command. Nothing in it may read the project's shared folder beside the
 * checkout (CI lays one there, a user's clone has none), so fixtures live in
 * test/fixtures/. And tests leave nothing behind in $TMPDIR.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN_HELPER = fileURLToPath(new URL("helpers/temp.ts", import.meta.url));

function trackedFiles(): string[] {
  const git = Bun.spawnSync(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    stdout: "pipe",
  });
  if (git.exitCode !== 0) throw new Error("git ls-files failed");
  return git.stdout.toString().split("\0").filter(Boolean);
}

test("no file in the repository refers to the shared folder beside the checkout", () => {
  const self = "test/self-contained.test.ts";
  const offenders: string[] = [];
  for (const file of trackedFiles()) {
    if (file === self || !existsSync(join(ROOT, file))) continue;
    const text = readFileSync(join(ROOT, file));
    if (text.includes(0)) continue; // binary
    const s = text.toString("utf8");
    // A path that climbs out of the checkout into the shared folder, however spelled.
    if (/\.\.[\\/]+shared\b|\/work\/shared\b|shared\/fixtures/.test(s)) offenders.push(file);
  }
  expect(offenders).toEqual([]);
});

test("temporary directories are removed when the test process exits", async () => {
  // A child bun process makes one and exits; the watcher must remove it.
  const child = Bun.spawnSync(
    [
      "bun",
      "-e",
      `const { tempDir } = await import(${JSON.stringify(MAIN_HELPER)}); const d = tempDir("tufbox-probe-"); await Bun.write(d + "/f", "x"); console.log(d);`,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  expect(child.exitCode).toBe(0);
  const dir = child.stdout.toString().trim();
  expect(dir).toContain("tufbox-probe-");
  for (let i = 0; i < 100 && existsSync(dir); i++) await Bun.sleep(50);
  expect(existsSync(dir)).toBe(false);
});
