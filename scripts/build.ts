/**
 * `bun run build`: compile tufbox into single executables.
 *
 *   bun run build                         # dist/tufbox-linux-x64 and dist/tufbox-linux-arm64
 *   bun run build -- --target linux-arm64 # just one (also accepts Docker's amd64/arm64)
 *
 * Version (package.json) and commit are baked in with --define as the globals
 * TUFBOX_VERSION and TUFBOX_COMMIT (read by src/version.ts, which falls back
 * to package.json when run from source). The commit comes from $TUFBOX_COMMIT
 * when set (Docker builds have no .git), else from git, else "unknown".
 *
 * Cross-compiling needs no emulator: Bun fetches (or has cached) the runtime
 * for each target and appends the bundle to it.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };

const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
} as const;
type Target = keyof typeof TARGETS;
// Docker's TARGETARCH names, so a Dockerfile can pass `linux-$TARGETARCH`.
const ALIASES: Record<string, Target> = {
  "linux-amd64": "linux-x64",
  amd64: "linux-x64",
  x64: "linux-x64",
  arm64: "linux-arm64",
};

const root = join(import.meta.dir, "..");
const entry = join(root, "src", "main.ts");
const outDir = join(root, "dist");

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

function selectedTargets(): Target[] {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { target: { type: "string", multiple: true } },
    strict: true,
  });
  if (!values.target) return Object.keys(TARGETS) as Target[];
  return values.target.map((t) => {
    const name = (ALIASES[t] ?? t) as Target;
    if (!(name in TARGETS)) fail(`unknown target ${JSON.stringify(t)}; known: ${Object.keys(TARGETS).join(", ")}`);
    return name;
  });
}

function gitCommit(): string {
  const fromEnv = process.env.TUFBOX_COMMIT?.trim();
  if (fromEnv) return fromEnv;
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: root, stdout: "pipe", stderr: "ignore" });
  try {
    const head = git("rev-parse", "--short=12", "HEAD");
    if (head.exitCode !== 0) return "unknown"; // not a git checkout, or no commit yet
    const commit = head.stdout.toString().trim();
    // A binary built from uncommitted changes must not claim to be that commit.
    const dirty = git("status", "--porcelain", "--untracked-files=no").stdout.toString().trim() !== "";
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return "unknown"; // git not installed
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const targets = selectedTargets();
if (!existsSync(entry)) fail(`${entry} does not exist`);
if (Bun.version !== pkg.engines.bun) {
  console.warn(
    `build: warning: running Bun ${Bun.version}, but package.json pins ${pkg.engines.bun}; the binaries embed this Bun's runtime`,
  );
}

const version = pkg.version;
const commit = gitCommit();
mkdirSync(outDir, { recursive: true });
console.log(`tufbox ${version} (${commit}), Bun ${Bun.version}`);

const started = performance.now();
for (const target of targets) {
  const outfile = join(outDir, `tufbox-${target}`);
  const t0 = performance.now();
  // process.execPath: compile with the very Bun that runs this script (the
  // pinned one under `bun run build`), not whatever `bun` is first on PATH.
  const proc = Bun.spawnSync(
    [
      process.execPath,
      "build",
      entry,
      // Workers are separate entry points: the binary embeds them next to main.
      "src/repository/verify-worker.ts",
      "src/store/sqlite/checkpoint-worker.ts",
      "--compile",
      "--minify",
      "--sourcemap",
      `--target=${TARGETS[target]}`,
      `--outfile=${outfile}`,
      `--define=TUFBOX_VERSION=${JSON.stringify(version)}`,
      `--define=TUFBOX_COMMIT=${JSON.stringify(commit)}`,
    ],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  if (proc.exitCode !== 0) {
    process.stderr.write(proc.stdout.toString() + proc.stderr.toString());
    fail(`compiling for ${target} failed (exit ${proc.exitCode})`);
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `  ${outfile.slice(root.length + 1).padEnd(24)} ${mib(statSync(outfile).size).padStart(10)}  ${seconds}s`,
  );
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)}s`);
