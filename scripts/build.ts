/**
 * `bun run build`: compile tufbox into single executables.
 *
 *   bun run build                         # dist/tufbox-linux-x64 and dist/tufbox-linux-arm64
 *   bun run build -- --target linux-arm64 # just one (also accepts Docker's amd64/arm64)
 *   bun run build -- --out DIR            # somewhere else than dist/
 *
 * Version (package.json) and commit are baked in with --define as the globals
 * TUFBOX_VERSION and TUFBOX_COMMIT (read by src/version.ts, which falls back
 * to package.json when run from source). The commit comes from $TUFBOX_COMMIT
 * when set (Docker builds have no .git), else from git, else "unknown".
 *
 * Cross-compiling needs no emulator: Bun fetches (or has cached) the runtime
 * for each target and appends the bundle to it. `bun run release` builds the
 * same way and adds checksums, an SBOM and a provenance file.
 */
import { mkdirSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { compile, gitCommit, mib, resolveTarget, ROOT, TARGETS, type Target, warnIfUnpinnedBun } from "./compile.ts";

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { target: { type: "string", multiple: true }, out: { type: "string" } },
  strict: true,
});
const targets: Target[] = values.target
  ? values.target.map(
      (t) => resolveTarget(t) ?? fail(`unknown target ${JSON.stringify(t)}; known: ${Object.keys(TARGETS).join(", ")}`),
    )
  : (Object.keys(TARGETS) as Target[]);
const outDir = values.out
  ? isAbsolute(values.out)
    ? values.out
    : join(process.cwd(), values.out)
  : join(ROOT, "dist");

/** dist/tufbox-linux-x64 when under the working directory, else the absolute path. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
}

warnIfUnpinnedBun("build");
const commit = gitCommit();
mkdirSync(outDir, { recursive: true });
console.log(`tufbox ${pkg.version} (${commit}), Bun ${Bun.version}`);

const started = performance.now();
for (const target of targets) {
  try {
    const built = compile(target, join(outDir, `tufbox-${target}`), { commit });
    console.log(`  ${shown(built.file).padEnd(24)} ${mib(built.bytes).padStart(10)}  ${built.seconds.toFixed(1)}s`);
  } catch (err) {
    fail((err as Error).message);
  }
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)}s`);
