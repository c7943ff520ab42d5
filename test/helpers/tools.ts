/**
 * Tests that need a system tool (qemu-user-static, buildah, systemd-analyze):
 * run when it is there; otherwise skip with one visible line — and FAIL under
 * CI=true, where .ci/run installs them, so CI can never go green by skipping
 * (the pattern of the PostgreSQL tests).
 */
import { test } from "bun:test";
import { existsSync } from "node:fs";

export interface Tool {
  /** what is missing, as the skip line says it */
  name: string;
  present: () => boolean;
  /** how to get it, e.g. the Debian package */
  install: string;
}

export const onPath = (command: string, install: string): Tool => ({
  name: command,
  present: () => Bun.which(command) !== null,
  install,
});

export const fileExists = (path: string, install: string): Tool => ({
  name: path,
  present: () => existsSync(path),
  install,
});

export function withTools(file: string, tools: Tool[], suite: () => void): void {
  const missing = tools.filter((t) => !t.present());
  if (missing.length === 0) return suite();
  const why = `${missing.map((t) => t.name).join(", ")} not found (${[...new Set(missing.map((t) => t.install))].join("; ")})`;
  if (process.env.CI) {
    test(`${file}: its tools are installed in CI`, () => {
      throw new Error(`${why}; under CI these tests must run, not skip (.ci/run installs them)`);
    });
  } else {
    console.warn(`${file}: skipped, ${why}`);
    test.skip(`${file} (needs ${missing.map((t) => t.name).join(", ")})`, () => {});
  }
}
