/**
 * Temporary directories for tests, all removed when the test process ends.
 *
 * Why not `afterAll` in a shared helper: `bun test` runs every file in one
 * process and loads a helper module once, so a hook the helper registers
 * belongs to the first file that imported it only (the directories of every
 * later file stayed behind: ~35 per run). An `afterAll` or `onTestFinished`
 * called from inside a `beforeAll` fires right after that hook, while the
 * directory is still in use. And `bun test` does not emit `process.on("exit")`.
 *
 * So every directory lives under one root per test process, and a small
 * watcher (`tail --pid`, started on first use) removes that root as soon as
 * the test process is gone — however it ends, including a crash or Ctrl-C.
 * Tests that create large repositories may still remove theirs earlier.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let root: string | undefined;

function runRoot(): string {
  if (root !== undefined) return root;
  const dir = mkdtempSync(join(tmpdir(), "tufbox-test-run-"));
  const script = ["sh", "-c", 'tail --pid="$1" -s 0.2 -f /dev/null; rm -rf -- "$2"', "tufbox-test-cleanup"];
  // In its own session (setsid), so that whatever ends the test run's process
  // group (a shell's job control, a CI step) does not end the watcher mid-way.
  const setsid = Bun.which("setsid");
  const watcher = Bun.spawn([...(setsid ? [setsid] : []), ...script, String(process.pid), dir], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  // The watcher must outlive this process, and must not keep it alive.
  watcher.unref();
  root = dir;
  return dir;
}

/** A fresh empty directory, removed when the test process exits. */
export function tempDir(prefix = "tufbox-test-"): string {
  return mkdtempSync(join(runRoot(), prefix));
}
