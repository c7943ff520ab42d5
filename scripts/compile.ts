/**
 * Compiling tufbox into one executable per target, shared by `bun run build`
 * (scripts/build.ts) and `bun run release` (scripts/release.ts), so a release
 * binary is built exactly like a development one and the provenance file can
 * list the very flags used.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

export const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
} as const;
export type Target = keyof typeof TARGETS;

// Docker's TARGETARCH names, so a Dockerfile can pass `linux-$TARGETARCH`.
export const ALIASES: Record<string, Target> = {
  "linux-amd64": "linux-x64",
  amd64: "linux-x64",
  x64: "linux-x64",
  arm64: "linux-arm64",
};

export const ROOT = join(import.meta.dir, "..");
export const ENTRY = "src/main.ts";
// Workers are separate entry points: the binary embeds them next to main.
export const WORKERS = [
  "src/repository/verify-worker.ts",
  "src/repository/sign-worker.ts",
  "src/store/sqlite/checkpoint-worker.ts",
  "src/ops/snapshot-worker.ts",
];

/**
 * Flags every build uses, whatever the target. The standalone executable would
 * otherwise read `.env` and `bunfig.toml` from its working directory at start:
 * a stray `.env` beside a data directory could set TUFBOX_INSECURE_DISABLE_AUTH.
 * tufbox's configuration is flags > TUFBOX_* environment > --config file, and
 * nothing else.
 */
export const COMMON_FLAGS = [
  "--compile",
  "--minify",
  "--sourcemap",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
] as const;

export function resolveTarget(name: string): Target | undefined {
  const t = ALIASES[name] ?? name;
  return t in TARGETS ? (t as Target) : undefined;
}

/** The commit to bake in: $TUFBOX_COMMIT (Docker builds have no .git), else git's, "-dirty" with local changes. */
export function gitCommit(): string {
  const fromEnv = process.env.TUFBOX_COMMIT?.trim();
  if (fromEnv) return fromEnv;
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
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

/** The `bun build` arguments (after `bun build`) for one target. */
export function buildArgs(
  target: Target,
  outfile: string,
  opts: { version: string; commit: string; metafile?: string },
): string[] {
  return [
    ENTRY,
    ...WORKERS,
    ...COMMON_FLAGS,
    `--target=${TARGETS[target]}`,
    `--outfile=${outfile}`,
    `--define=TUFBOX_VERSION=${JSON.stringify(opts.version)}`,
    `--define=TUFBOX_COMMIT=${JSON.stringify(opts.commit)}`,
    ...(opts.metafile ? [`--metafile=${opts.metafile}`] : []),
  ];
}

export interface Compiled {
  target: Target;
  file: string;
  bytes: number;
  seconds: number;
}

/** Compile one target; throws with Bun's output when it fails. */
export function compile(
  target: Target,
  outfile: string,
  opts: { version?: string; commit: string; metafile?: string },
): Compiled {
  const t0 = performance.now();
  // process.execPath: compile with the very Bun that runs this script (the
  // pinned one under `bun run build`), not whatever `bun` is first on PATH.
  const proc = Bun.spawnSync(
    [process.execPath, "build", ...buildArgs(target, outfile, { version: opts.version ?? pkg.version, ...opts })],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  if (proc.exitCode !== 0)
    throw new Error(
      `compiling for ${target} failed (exit ${proc.exitCode}):\n${proc.stdout.toString()}${proc.stderr.toString()}`,
    );
  return { target, file: outfile, bytes: statSync(outfile).size, seconds: (performance.now() - t0) / 1000 };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function warnIfUnpinnedBun(prefix: string): void {
  if (Bun.version !== pkg.engines.bun)
    console.warn(
      `${prefix}: warning: running Bun ${Bun.version}, but package.json pins ${pkg.engines.bun}; the binaries embed this Bun's runtime`,
    );
}
