/**
 * `bun run release`: everything a release publishes, in dist/ (or --out DIR).
 *
 *   tufbox-linux-x64, tufbox-linux-arm64   the binaries (scripts/compile.ts, as `bun run build`)
 *   tufbox.cdx.json                        CycloneDX 1.6 SBOM of the npm packages inside them (scripts/sbom.ts)
 *   provenance.json                        commit, Bun version, build flags, date, lock file and output hashes
 *   SHA256SUMS                             `sha256sum -c SHA256SUMS` format, over every file above
 *
 * A user verifies with `sha256sum -c SHA256SUMS` (and a signature over
 * SHA256SUMS, if the publisher adds one). The build is reproducible in intent:
 * SOURCE_DATE_EPOCH, when set, is the date written into the SBOM and the
 * provenance instead of now.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import {
  buildArgs,
  COMMON_FLAGS,
  compile,
  gitCommit,
  mib,
  ROOT,
  TARGETS,
  type Target,
  warnIfUnpinnedBun,
} from "./compile.ts";
import { bundledKeys, bundledPackages, makeSbom, readLock, SBOM_SPEC } from "./sbom.ts";

export const RELEASE_FILES = {
  sbom: "tufbox.cdx.json",
  provenance: "provenance.json",
  sums: "SHA256SUMS",
} as const;

function sha256(file: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");
}

function releaseDate(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH?.trim();
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000);
  return new Date();
}

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { out: { type: "string" } }, strict: true });
const outDir = values.out
  ? isAbsolute(values.out)
    ? values.out
    : join(process.cwd(), values.out)
  : join(ROOT, "dist");

warnIfUnpinnedBun("release");
const commit = gitCommit();
const date = releaseDate();
mkdirSync(outDir, { recursive: true });
console.log(`tufbox ${pkg.version} (${commit}), Bun ${Bun.version} → ${outDir}`);

const started = performance.now();
// Bun writes source maps beside what it compiles (the binaries carry theirs):
// compile in a scratch folder and keep only the binaries.
const scratch = join(outDir, ".release-build");
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch);
const metafile = join(scratch, "metafile.json");
const binaries: { target: Target; name: string; file: string; bytes: number; sha256: string; args: string[] }[] = [];
try {
  for (const target of Object.keys(TARGETS) as Target[]) {
    const name = `tufbox-${target}`;
    const file = join(outDir, name);
    // The bundle is the same JavaScript for every target: one metafile says what is in all of them.
    const withMeta = binaries.length === 0 ? metafile : undefined;
    const built = compile(target, join(scratch, name), { commit, metafile: withMeta });
    renameSync(built.file, file);
    const args = buildArgs(target, name, { version: pkg.version, commit });
    binaries.push({ target, name, file, bytes: built.bytes, sha256: sha256(file), args });
    console.log(`  ${name.padEnd(22)} ${mib(built.bytes).padStart(10)}  ${built.seconds.toFixed(1)}s`);
  }

  const lock = readLock(ROOT);
  const packages = bundledPackages(ROOT, lock, bundledKeys(JSON.parse(readFileSync(metafile, "utf8"))));
  writeFileSync(
    join(outDir, RELEASE_FILES.sbom),
    makeSbom({
      packages,
      version: pkg.version,
      commit,
      timestamp: date,
      binaries: binaries.map((b) => ({ name: b.name, sha256: b.sha256 })),
    }),
  );
  console.log(`  ${RELEASE_FILES.sbom.padEnd(22)} CycloneDX ${SBOM_SPEC.version}, ${packages.length} components`);

  const provenance = {
    _type: "tufbox-provenance/v1",
    name: "tufbox",
    version: pkg.version,
    commit,
    built_at: date.toISOString(),
    builder: {
      bun: Bun.version,
      platform: `${process.platform}-${process.arch}`,
      command: "bun run release",
    },
    build_flags: [...COMMON_FLAGS],
    // Per target, the full `bun build` arguments (output path relative to the release folder).
    builds: Object.fromEntries(binaries.map((b) => [b.target, { args: b.args }])),
    materials: {
      "bun.lock": { sha256: sha256(join(ROOT, "bun.lock")) },
      "package.json": { sha256: sha256(join(ROOT, "package.json")) },
    },
    subjects: binaries.map((b) => ({ name: b.name, bytes: b.bytes, sha256: b.sha256 })),
  };
  writeFileSync(join(outDir, RELEASE_FILES.provenance), `${JSON.stringify(provenance, null, 2)}\n`);
  console.log(`  ${RELEASE_FILES.provenance.padEnd(22)} commit ${commit}, ${date.toISOString()}`);

  // Two spaces between hash and name: what `sha256sum -c` reads (text mode).
  const listed = [
    ...binaries.map((b) => b.file),
    join(outDir, RELEASE_FILES.sbom),
    join(outDir, RELEASE_FILES.provenance),
  ];
  writeFileSync(join(outDir, RELEASE_FILES.sums), listed.map((f) => `${sha256(f)}  ${basename(f)}\n`).join(""));
  console.log(`  ${RELEASE_FILES.sums.padEnd(22)} ${listed.length} files`);
} catch (err) {
  console.error(`release: ${(err as Error).message}`);
  process.exit(1);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)}s`);
