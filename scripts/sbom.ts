/**
 * The release's SBOM: CycloneDX 1.6 JSON (made with the CycloneDX project's
 * own JavaScript library, not by hand) listing the npm packages compiled into
 * the binary.
 *
 * Which packages: exactly those with a file in the bundle, as `bun build
 * --metafile` reports them — not everything in bun.lock, which also holds the
 * test and build tools, and not a guess from package.json. Each one's version
 * and integrity hash (the lock's `sha512-…`, as a CycloneDX SHA-512 hash in
 * hex) come from bun.lock, its license from its package.json; a bundled
 * package missing from the lock, or reachable only from devDependencies, stops
 * the release. `dependencies` in the SBOM is the lock's graph restricted to
 * the bundled packages.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Enums, Models, Serialize, Spec } from "@cyclonedx/cyclonedx-library";
import { PackageURL } from "packageurl-js";
import cdxPkg from "@cyclonedx/cyclonedx-library/package.json" with { type: "json" };

export const SBOM_SPEC = Spec.Spec1dot6;

/** One `packages` entry of bun.lock: [name@version, registry, info, integrity]. */
type LockEntry = [
  string,
  string,
  {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  },
  string?,
];

interface BunLock {
  workspaces: Record<
    string,
    { name?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }
  >;
  packages: Record<string, LockEntry>;
}

export interface BundledPackage {
  /** bun.lock key: the package name, or parent/name for a nested copy */
  key: string;
  name: string;
  version: string;
  /** the lock's integrity, e.g. sha512-BASE64 */
  integrity: string;
  license?: string;
  /** lock keys of the bundled packages it depends on */
  dependsOn: string[];
  /** a dependency in package.json itself (not only through another package) */
  direct: boolean;
}

export function readLock(root: string): BunLock {
  const text = readFileSync(join(root, "bun.lock"), "utf8");
  return Bun.JSONC.parse(text) as BunLock;
}

/** bun.lock keys of the packages with at least one file in the bundle (`bun build --metafile`). */
export function bundledKeys(metafile: { inputs: Record<string, unknown> }): string[] {
  const keys = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const parts = input.split("/");
    if (!parts.includes("node_modules")) continue;
    // node_modules/a/node_modules/@s/b/x.js → a/@s/b (bun.lock's key for a nested copy)
    const names: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (parts[i] !== "node_modules") continue;
      const scoped = parts[i + 1]?.startsWith("@");
      names.push(scoped ? `${parts[i + 1]}/${parts[i + 2]}` : parts[i + 1]!);
    }
    keys.add(names.join("/"));
  }
  return [...keys].sort();
}

function nameAndVersion(spec: string): { name: string; version: string } {
  const at = spec.lastIndexOf("@");
  if (at <= 0) throw new Error(`bun.lock: cannot read name@version from ${JSON.stringify(spec)}`);
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}

/** The lock key a dependency `dep` of package `from` resolves to (nearest nested copy first, as Node resolves). */
function resolveKey(lock: BunLock, from: string, dep: string): string | undefined {
  const segments = from.split("/");
  for (let n = segments.length; n >= 0; n--) {
    const prefix = segments.slice(0, n).join("/");
    const key = prefix ? `${prefix}/${dep}` : dep;
    if (lock.packages[key]) return key;
  }
  return undefined;
}

/** Lock keys reachable from the root workspace's runtime `dependencies`. */
function runtimeClosure(lock: BunLock): Set<string> {
  const root = lock.workspaces[""];
  const seen = new Set<string>();
  const queue = Object.keys(root?.dependencies ?? {});
  while (queue.length > 0) {
    const key = queue.shift()!;
    if (seen.has(key) || !lock.packages[key]) continue;
    seen.add(key);
    const info = lock.packages[key]![2] ?? {};
    for (const dep of Object.keys({ ...info.dependencies, ...info.optionalDependencies, ...info.peerDependencies })) {
      const k = resolveKey(lock, key, dep);
      if (k) queue.push(k);
    }
  }
  return seen;
}

/** a/@s/b → ["a", "@s/b"] */
function packageNames(key: string): string[] {
  const parts = key.split("/");
  const names: string[] = [];
  for (let i = 0; i < parts.length; i++)
    names.push(parts[i]!.startsWith("@") ? `${parts[i]}/${parts[++i]}` : parts[i]!);
  return names;
}

function licenseOf(root: string, key: string): string | undefined {
  const dir = join(root, ...packageNames(key).flatMap((n) => ["node_modules", n]));
  try {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { license?: unknown };
    return typeof pkg.license === "string" ? pkg.license : undefined;
  } catch {
    return undefined;
  }
}

export function bundledPackages(root: string, lock: BunLock, keys: string[]): BundledPackage[] {
  const runtime = runtimeClosure(lock);
  const bundled = new Set(keys);
  return keys.map((key) => {
    const entry = lock.packages[key];
    if (!entry) throw new Error(`${key} is compiled into the binary but is not in bun.lock: run bun install`);
    if (!runtime.has(key))
      throw new Error(
        `${key} is compiled into the binary but only a devDependency leads to it: make it a dependency in package.json`,
      );
    const { name, version } = nameAndVersion(entry[0]);
    const integrity = entry[3];
    if (!integrity?.startsWith("sha512-")) throw new Error(`bun.lock has no sha512 integrity for ${entry[0]}`);
    const info = entry[2] ?? {};
    const dependsOn = Object.keys({ ...info.dependencies, ...info.optionalDependencies, ...info.peerDependencies })
      .map((dep) => resolveKey(lock, key, dep))
      .filter((k): k is string => k !== undefined && bundled.has(k))
      .sort();
    const direct = key in (lock.workspaces[""]?.dependencies ?? {});
    return { key, name, version, integrity, license: licenseOf(root, key), dependsOn, direct };
  });
}

export function npmPurl(name: string, version: string): string {
  const scoped = name.startsWith("@");
  const [namespace, short] = scoped
    ? [name.slice(0, name.indexOf("/")), name.slice(name.indexOf("/") + 1)]
    : [undefined, name];
  return new PackageURL("npm", namespace, short, version, undefined, undefined).toString();
}

/** SRI `sha512-BASE64` → hex, as CycloneDX hashes are written. */
export function sriToHex(integrity: string): string {
  return Buffer.from(integrity.slice("sha512-".length), "base64").toString("hex");
}

export function makeSbom(opts: {
  packages: BundledPackage[];
  version: string;
  commit: string;
  timestamp: Date;
  /** the released binaries, as hashes of the described application */
  binaries: { name: string; sha256: string }[];
}): string {
  const bom = new Models.Bom();
  bom.metadata.timestamp = opts.timestamp;
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Library, "cyclonedx-library", {
      group: "@cyclonedx",
      version: cdxPkg.version,
    }),
  );
  const app = new Models.Component(Enums.ComponentType.Application, "tufbox", {
    version: opts.version,
    bomRef: `tufbox@${opts.version}`,
    purl: `pkg:generic/tufbox@${opts.version}`,
    description: "A TUF repository service in one executable",
  });
  app.licenses.add(new Models.SpdxLicense("Apache-2.0"));
  app.properties.add(new Models.Property("tufbox:commit", opts.commit));
  for (const b of opts.binaries) app.properties.add(new Models.Property(`tufbox:sha256:${b.name}`, b.sha256));
  bom.metadata.component = app;

  const components = new Map<string, Models.Component>();
  for (const p of opts.packages) {
    const purl = npmPurl(p.name, p.version);
    const scoped = p.name.startsWith("@");
    const c = new Models.Component(
      Enums.ComponentType.Library,
      scoped ? p.name.slice(p.name.indexOf("/") + 1) : p.name,
      {
        group: scoped ? p.name.slice(0, p.name.indexOf("/")) : undefined,
        version: p.version,
        bomRef: purl,
        purl,
        scope: Enums.ComponentScope.Required,
      },
    );
    c.hashes.set(Enums.HashAlgorithm["SHA-512"], sriToHex(p.integrity));
    if (p.license) {
      if (/^[A-Za-z0-9.+-]+$/.test(p.license)) c.licenses.add(new Models.SpdxLicense(p.license));
      else c.licenses.add(new Models.LicenseExpression(p.license));
    }
    c.properties.add(new Models.Property("cdx:npm:package:integrity", p.integrity));
    components.set(p.key, c);
    bom.components.add(c);
  }
  for (const p of opts.packages) {
    const c = components.get(p.key)!;
    for (const d of p.dependsOn) c.dependencies.add(components.get(d)!.bomRef);
    if (p.direct) app.dependencies.add(c.bomRef);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(SBOM_SPEC));
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}
