import { expect } from "bun:test";
/**
 * Shared helpers for the offline CLI tests: a scripted Terminal (answers to
 * prompts, captured output), temporary directories, fixture paths, and
 * tufbox as a subprocess (`bun src/main.ts …`, stdin not a terminal).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPrivateKey } from "node:crypto";
import type { Terminal } from "../../src/cli/terminal.ts";
import { publicKeyJSONFor } from "../../src/tuf/signer.ts";
import { tempDir as makeTempDir } from "../helpers/temp.ts";

export const FIXTURES = fileURLToPath(new URL("../fixtures/rstuf/", import.meta.url));
export const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

export function fixturePath(rel: string): string {
  return join(FIXTURES, rel);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readJson(path: string): any {
  return JSON.parse(readFileSync(path, "utf8"));
}

export function fixtureKeyFile(name: string): string {
  return fixturePath(`keys/${name}.pem`);
}

export function fixtureKeyid(name: string): string {
  return readFileSync(fixturePath(`keys/${name}.keyid`), "utf8").trim();
}

/** A fresh temporary directory, removed when the test process exits (see ../helpers/temp.ts). */
export function tempDir(): string {
  return makeTempDir("tufbox-cli-");
}

export function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

export interface TestTerminal {
  term: Terminal;
  out: string[];
  info: string[];
  asked: string[];
  /** everything printed, stdout then stderr */
  text(): string;
}

/**
 * A Terminal whose prompts are answered from `answers` (an empty answer takes
 * the default) and `secrets` (hidden prompts). An unexpected question fails
 * the test. `env` is empty unless given, so the runner's environment
 * (TUFBOX_KEY_PASSPHRASE) never leaks in.
 */
export function testTerminal(
  opts: { interactive?: boolean; answers?: string[]; secrets?: string[]; env?: Record<string, string> } = {},
): TestTerminal {
  const out: string[] = [];
  const info: string[] = [];
  const asked: string[] = [];
  const answers = [...(opts.answers ?? [])];
  const secrets = [...(opts.secrets ?? [])];
  const term: Terminal = {
    interactive: opts.interactive ?? false,
    env: opts.env ?? {},
    out: (t) => void out.push(t),
    info: (t) => void info.push(t),
    ask: async (q, d) => {
      asked.push(q);
      const a = answers.shift();
      if (a === undefined) throw new Error(`unexpected question: ${q}`);
      return a === "" ? (d ?? "") : a;
    },
    askSecret: async (q) => {
      asked.push(q);
      const a = secrets.shift();
      if (a === undefined) throw new Error(`unexpected secret question: ${q}`);
      return a;
    },
  };
  return { term, out, info, asked, text: () => [...out, ...info].join("\n") };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `bun src/main.ts ARGS` in `cwd` with stdin closed (not a terminal). */
export async function runCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "TUFBOX_KEY_PASSPHRASE") env[k] = v;
  const proc = Bun.spawn(["bun", MAIN, ...args], {
    cwd: opts.cwd,
    env: { ...env, NO_COLOR: "1", ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** No JavaScript stack frames in a command's output. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at\s/m.test(text) || /\.ts:\d+:\d+/.test(text);
}

/** Write NAME.pub for a fixture private key (optionally with an explicit keyid / name, as other tools write). */
export function pubFileFor(fixtureKey: string, path: string, extra: Record<string, unknown> = {}): string {
  const key = publicKeyJSONFor(createPrivateKey(readFileSync(fixtureKeyFile(fixtureKey), "utf8")));
  writeFileSync(path, JSON.stringify({ ...key, ...extra }, null, 2));
  return path;
}

/** Awaits `p`, which must reject with `type`, a message matching `pattern` and a hint. */
export async function rejects<T extends Error>(
  p: Promise<unknown>,
  type: new (...args: any[]) => T,
  pattern: RegExp,
): Promise<T> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as Error).message).toMatch(pattern);
  expect((caught as { hint?: string }).hint?.length ?? 0).toBeGreaterThan(0);
  return caught as T;
}
