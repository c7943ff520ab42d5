/** Command-line parsing shared by every command: config flags plus the command's own. */
import { parseArgs } from "node:util";
import { CONFIG_FLAGS } from "../config.ts";

export class UsageError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = "UsageError";
    this.hint = hint;
  }
}

export type FlagSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

export interface ParsedArgs {
  /** flags that are configuration keys (passed to loadConfig) */
  config: Record<string, string | boolean | string[]>;
  /** the command's own flags */
  own: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parse a command's flags. Commands that read the service configuration
 * (serve, quickstart, healthcheck, …) take the configuration flags too; the
 * others pass `config: false`, else `--data-dir` and friends would be
 * accepted there and silently do nothing (and their --help would have to list them).
 */
export function parseCommandArgs(
  command: string,
  argv: string[],
  own: FlagSpec = {},
  opts: { config: boolean } = { config: true },
): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...(opts.config ? CONFIG_FLAGS : {}), ...own, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(
      err instanceof Error ? err.message : String(err),
      `run 'tufbox ${command} --help' for the flags it takes`,
    );
  }
  const config: Record<string, string | boolean | string[]> = {};
  const mine: Record<string, string | boolean | string[] | undefined> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    if (v === undefined) continue;
    if (k in own || k === "help") mine[k] = v as string | boolean | string[];
    else config[k] = v as string | boolean | string[];
  }
  return { config, own: mine, positionals: parsed.positionals };
}
