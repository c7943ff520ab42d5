/**
 * `bun run release`: both binaries, SHA256SUMS that `sha256sum -c` accepts,
 * a CycloneDX SBOM that the CycloneDX JSON schema accepts and that lists
 * exactly the npm packages compiled in (name, version, purl, integrity from
 * bun.lock), and a provenance file naming commit, Bun version, build flags
 * and date.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { COMMON_FLAGS } from "../../scripts/compile.ts";
import { readLock } from "../../scripts/sbom.ts";
import { releaseDir, REPO } from "../helpers/release.ts";
import { tempDir } from "../helpers/temp.ts";

let dir: string;
let sbomText: string;
let sbom: any;

beforeAll(async () => {
  dir = await releaseDir();
  sbomText = readFileSync(join(dir, "tufbox.cdx.json"), "utf8");
  sbom = JSON.parse(sbomText);
}, 300_000);

const schema = new Validation.JsonStrictValidator(Spec.Version.v1dot6);

describe("bun run release", () => {
  test("writes the binaries, the SBOM, the provenance and SHA256SUMS, and nothing else", () => {
    const files = ["tufbox-linux-x64", "tufbox-linux-arm64", "tufbox.cdx.json", "provenance.json", "SHA256SUMS"];
    for (const f of files) expect(existsSync(join(dir, f))).toBe(true);
    expect([...new Bun.Glob("*").scanSync({ cwd: dir, dot: true })].sort()).toEqual([...files].sort());
    for (const b of files.slice(0, 2)) expect(statSync(join(dir, b)).mode & 0o111).not.toBe(0);
  });

  test("the binaries are what they say: x64 and arm64 ELF executables", () => {
    const machine = (f: string) => {
      const head = readFileSync(join(dir, f)).subarray(0, 20);
      expect(head.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
      return head.readUInt16LE(18);
    };
    expect(machine("tufbox-linux-x64")).toBe(62); // EM_X86_64
    expect(machine("tufbox-linux-arm64")).toBe(183); // EM_AARCH64
  });

  test("SHA256SUMS lists every other file, and sha256sum -c accepts it; a changed byte fails it", async () => {
    const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8");
    expect(
      sums
        .trim()
        .split("\n")
        .map((l) => l.split("  ")[1])
        .sort(),
    ).toEqual(["provenance.json", "tufbox-linux-arm64", "tufbox-linux-x64", "tufbox.cdx.json"].sort());
    const check = Bun.spawnSync(["sha256sum", "--check", "--strict", "SHA256SUMS"], { cwd: dir, stdout: "pipe" });
    expect(check.stdout.toString()).toContain("tufbox-linux-arm64: OK");
    expect(check.exitCode).toBe(0);
    const tampered = Bun.spawnSync(["sha256sum", "--check", "-"], {
      cwd: dir,
      stdin: new TextEncoder().encode(sums.replace(/^[0-9a-f]/, (c) => (c === "0" ? "1" : "0"))),
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(tampered.exitCode).not.toBe(0);
  }, 120_000);
});

test("bun run build makes the very same x64 binary, byte for byte (same commit, same flags)", async () => {
  const out = tempDir("tufbox-build-");
  const p = Bun.spawn(["bun", "run", "build", "--", "--target", "linux-x64", "--out", out], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [text, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(code).toBe(0);
  expect(text).toContain("tufbox-linux-x64");
  const sha = (f: string) => new Bun.CryptoHasher("sha256").update(readFileSync(f)).digest("hex");
  expect(sha(join(out, "tufbox-linux-x64"))).toBe(sha(join(dir, "tufbox-linux-x64")));
  expect(err).not.toContain("warning");
}, 300_000);

describe("the SBOM", () => {
  test("is CycloneDX 1.6 JSON that the CycloneDX schema (strict) accepts", async () => {
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(sbom.specVersion).toBe("1.6");
    expect(await schema.validate(sbomText)).toBeNull();
  });

  test("the schema check can fail: a component without a name, or a bad hash, is refused", async () => {
    const broken = structuredClone(sbom);
    delete broken.components[0].name;
    expect(await schema.validate(JSON.stringify(broken))).not.toBeNull();
    const badHash = structuredClone(sbom);
    badHash.components[0].hashes[0].content = "not-hex";
    expect(await schema.validate(JSON.stringify(badHash))).not.toBeNull();
  });

  test("lists the runtime packages compiled in, each with version, purl and the lock's integrity", () => {
    const lock = readLock(REPO);
    const names = sbom.components.map((c: any) => (c.group ? `${c.group}/${c.name}` : c.name));
    // The project's own runtime dependencies are all in; the test and build tools are not.
    for (const dep of ["elysia", "yaml", "@noble/ed25519"]) expect(names).toContain(dep);
    for (const dev of ["tuf-js", "typescript", "@biomejs/biome", "@cyclonedx/cyclonedx-library", "playwright-core"])
      expect(names).not.toContain(dev);
    for (const c of sbom.components) {
      const name = c.group ? `${c.group}/${c.name}` : c.name;
      const entry = lock.packages[name]!;
      expect(entry).toBeDefined();
      expect(entry[0]).toBe(`${name}@${c.version}`);
      expect(c.purl).toBe(`pkg:npm/${name.replace("@", "%40")}@${c.version}`);
      expect(c["bom-ref"]).toBe(c.purl);
      const hex = Buffer.from(entry[3]!.slice("sha512-".length), "base64").toString("hex");
      expect(c.hashes).toEqual([{ alg: "SHA-512", content: hex }]);
      expect(c.properties).toContainEqual({ name: "cdx:npm:package:integrity", value: entry[3] });
    }
    // Names are unique, and every dependency edge points at a listed component.
    expect(new Set(names).size).toBe(names.length);
    const refs = new Set([sbom.metadata.component["bom-ref"], ...sbom.components.map((c: any) => c["bom-ref"])]);
    for (const d of sbom.dependencies) for (const on of d.dependsOn ?? []) expect(refs.has(on)).toBe(true);
    const app = sbom.dependencies.find((d: any) => d.ref === sbom.metadata.component["bom-ref"]);
    expect(app.dependsOn).toContain("pkg:npm/elysia@" + lock.packages.elysia![0].split("@")[1]);
  });

  test("describes tufbox itself: version, commit and the binaries' hashes, made by the CycloneDX library", () => {
    const app = sbom.metadata.component;
    expect(app.name).toBe("tufbox");
    const props = Object.fromEntries(app.properties.map((p: any) => [p.name, p.value]));
    const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8");
    expect(sums).toContain(`${props["tufbox:sha256:tufbox-linux-x64"]}  tufbox-linux-x64`);
    expect(sums).toContain(`${props["tufbox:sha256:tufbox-linux-arm64"]}  tufbox-linux-arm64`);
    expect(sbom.metadata.tools.components[0]).toMatchObject({ group: "@cyclonedx", name: "cyclonedx-library" });
  });
});

describe("the provenance file", () => {
  test("names commit, Bun version, build flags and date, and the binaries it describes", () => {
    const p = JSON.parse(readFileSync(join(dir, "provenance.json"), "utf8"));
    const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: REPO, stdout: "pipe" });
    expect(p.commit.replace(/-dirty$/, "")).toBe(head.stdout.toString().trim());
    expect(p.builder.bun).toBe(Bun.version);
    expect(p.build_flags).toEqual([...COMMON_FLAGS]);
    expect(p.builds["linux-arm64"].args).toContain("--target=bun-linux-arm64");
    expect(Math.abs(Date.parse(p.built_at) - Date.now())).toBeLessThan(24 * 3600 * 1000);
    const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8");
    for (const s of p.subjects) expect(sums).toContain(`${s.sha256}  ${s.name}`);
    const lockHash = new Bun.CryptoHasher("sha256").update(readFileSync(join(REPO, "bun.lock"))).digest("hex");
    expect(p.materials["bun.lock"].sha256).toBe(lockHash);
  });
});
