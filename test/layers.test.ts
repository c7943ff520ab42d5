/**
 * Layers only call downward (DESIGN.md "The shape of the program", STYLE.md):
 * every import in src/ is read and checked against the rules below, so a
 * lower layer importing a higher one fails the suite instead of a review.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}

/** `src/`-relative paths of the modules a file imports (packages are left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"|import\("([^"]+)"\)/g)].map(
    (m) => (m[1] ?? m[2])!,
  );
  return specs.filter((s) => s.startsWith(".")).map((s) => relative(SRC, resolve(dirname(file), s)));
}

const files = sourceFiles(SRC).map((f) => ({ path: relative(SRC, f), imports: importsOf(f) }));

/** [what, the files it applies to, the imports they may not have] */
const RULES: [string, (path: string) => boolean, (imported: string) => boolean][] = [
  ["the pure TUF layer imports nothing outside src/tuf/", (p) => p.startsWith("tuf/"), (i) => !i.startsWith("tuf/")],
  [
    "offline tooling builds on the TUF layer only",
    (p) => p.startsWith("offline/"),
    (i) => !i.startsWith("tuf/") && !i.startsWith("offline/"),
  ],
  [
    "store/ and notify/ import nothing from the engine, the server, the CLI or the App",
    (p) => p.startsWith("store/") || p.startsWith("notify/"),
    (i) => /^(repository|server|cli|offline)\//.test(i) || ["app.ts", "core.ts", "scheduler.ts", "main.ts"].includes(i),
  ],
  [
    "the engine (repository/) does not reach up to the server, the CLI, the scheduler or the App",
    (p) => p.startsWith("repository/"),
    (i) => /^(server|cli)\//.test(i) || ["app.ts", "core.ts", "scheduler.ts", "main.ts"].includes(i),
  ],
  [
    "the HTTP layer never imports the composition root or the CLI (it gets the App passed down)",
    (p) => p.startsWith("server/"),
    (i) => i.startsWith("cli/") || i === "app.ts" || i === "main.ts",
  ],
  [
    "artifact storage (storage/) sits beside the store: no engine, server, CLI, ingest or App",
    (p) => p.startsWith("storage/"),
    (i) =>
      /^(repository|server|cli|ingest|offline)\//.test(i) ||
      ["app.ts", "core.ts", "scheduler.ts", "main.ts"].includes(i),
  ],
  [
    "ingest/ (drop directory, multipart) builds on the engine and storage, never on the server, the CLI or the App",
    (p) => p.startsWith("ingest/"),
    (i) => /^(server|cli)\//.test(i) || ["app.ts", "core.ts", "main.ts"].includes(i),
  ],
  [
    "auth/ (tokens, OAuth2, JWT, scopes) builds on the store's types only",
    (p) => p.startsWith("auth/"),
    (i) =>
      /^(repository|server|cli|offline|notify)\//.test(i) ||
      ["app.ts", "core.ts", "scheduler.ts", "main.ts"].includes(i),
  ],
  [
    "alerts/ read the App's parts but never the server, the CLI or the composition root",
    (p) => p.startsWith("alerts/"),
    (i) => /^(server|cli)\//.test(i) || ["app.ts", "main.ts"].includes(i),
  ],
  ["nothing imports the entry point", () => true, (i) => i === "main.ts"],
];

describe("layers only call downward", () => {
  test("the import scan sees the source tree", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.find((f) => f.path === "app.ts")?.imports).toContain("core.ts");
  });

  for (const [what, applies, forbidden] of RULES) {
    test(what, () => {
      const offending = files
        .filter((f) => applies(f.path))
        .flatMap((f) => f.imports.filter(forbidden).map((i) => `${f.path} imports ${i}`));
      expect(offending).toEqual([]);
    });
  }
});
