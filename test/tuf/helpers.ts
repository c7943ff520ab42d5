/**
 * Shared helpers for the test/tuf suite: fixture access (python-tuf 3.1.1 +
 * securesystemslib 0.26 payloads in test/fixtures/rstuf (copied from the project's shared fixtures), located relative to
 * the repository so CI's layout works too), a seeded PRNG and TufError checks.
 */
import { expect } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { TufError } from "../../src/tuf/index.ts";
import { prng } from "../helpers/random.ts";

export { prng };

export const FIXTURES_DIR = fileURLToPath(new URL("../fixtures/rstuf/", import.meta.url));

export const KEY_NAMES = [
  "root-ed25519",
  "root-ecdsa",
  "online-ed25519",
  "online-ecdsa",
  "online-rsa",
  "offline-ed25519",
] as const;
export type KeyName = (typeof KEY_NAMES)[number];

export function fixtureText(rel: string): string {
  return readFileSync(join(FIXTURES_DIR, rel), "utf8");
}

export function fixtureJson(rel: string): any {
  return JSON.parse(fixtureText(rel));
}

export function keyPem(name: KeyName): string {
  return fixtureText(`keys/${name}.pem`);
}

export function keyIdFile(name: KeyName): string {
  return fixtureText(`keys/${name}.keyid`).trim();
}

/** every *.json under the fixtures dir (relative paths), recursively */
export function fixtureJsonFiles(dir = FIXTURES_DIR, prefix = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...fixtureJsonFiles(full, `${prefix}${name}/`));
    else if (name.endsWith(".json")) out.push(prefix + name);
  }
  return out;
}

/** bootstrap/update payloads: each has metadata.root */
export const PAYLOADS = [
  "bootstrap-bins.json",
  "bootstrap-bins-1-of-2-signatures.json",
  "bootstrap-delegations.json",
  "metadata-update-root-v2-online-ecdsa.json",
  "metadata-update-root-v3-online-rsa-1-of-2.json",
] as const;

export function clone<T>(v: T): T {
  return structuredClone(v);
}

export function randInt(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

export function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

export function shuffle<T>(rnd: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Runs fn, expects a TufError whose field is exactly `field` (and message matching `msg` when given). */
export function expectTufError(fn: () => unknown, field: string, msg?: RegExp): TufError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`expected a TufError on field "${field}", nothing was thrown`);
  expect(caught).toBeInstanceOf(TufError);
  const err = caught as TufError;
  expect(err.field).toBe(field);
  if (msg) expect(err.message).toMatch(msg);
  return err;
}
