#!/usr/bin/env bun
/** tufbox entry point: parse the command line and hand over to one command. */
import { ConfigError } from "./config.ts";
import { UsageError } from "./cli/args.ts";
import { serveCommand } from "./cli/serve.ts";
import { quickstartCommand } from "./cli/quickstart.ts";
import { keyCommand } from "./cli/key.ts";
import { ceremonyCommand } from "./cli/ceremony.ts";
import { signCommand } from "./cli/sign.ts";
import { rootCommand } from "./cli/root-update.ts";
import { bootstrapCommand, sendCommand } from "./cli/send.ts";
import { artifactCommand } from "./cli/artifact.ts";
import { importCommand } from "./cli/import.ts";
import { taskCommand } from "./cli/task.ts";
import { statusCommand } from "./cli/status.ts";
import { withServerErrors } from "./cli/client.ts";
import { VERSION, COMMIT } from "./version.ts";
import { ConfigurationError } from "./repository/errors.ts";

const USAGE = `tufbox ${VERSION} — a TUF repository service in one binary

Usage: tufbox <command> [flags]

Commands:
  quickstart   bootstrap a demo repository with development keys (if empty) and serve it
  serve        serve an existing repository (RSTUF-compatible API, metadata, targets)
  version      print the version

Offline (root keys never touch the server):
  key          generate a key pair (key generate), show a key's keyid (key info)
  ceremony     write root v1 + settings as a bootstrap payload, signed by root keys
  sign         add a root key's signature to a bootstrap / metadata-update payload
               (--server: sign what a server has pending, root or a delegated role)
  root         build root N+1 (root update): rotate root keys, the online key, expiry
               (--server --trusted ROOT --send: build on the server's root and send it)

Against a server (--server URL or TUFBOX_SERVER; --token or TUFBOX_TOKEN; --json):
  bootstrap    send a ceremony's bootstrap payload and follow the task
  send         send a bootstrap / metadata-update / signature payload file
  artifact     add files to the repository (artifact add), upload their bytes too (artifact
               upload), remove them (artifact delete)
  import       upload a directory of artifacts (import DIR), or add a JSONL manifest of
               artifact entries (import --manifest FILE): parallel, resumable, with progress
  task         show (or --wait for) a task
  status       roles, versions, expiry, online key, bins, pending signatures

Run 'tufbox <command> --help' for a command's flags.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  serve: serveCommand,
  quickstart: quickstartCommand,
  key: (argv) => keyCommand(argv),
  ceremony: (argv) => ceremonyCommand(argv),
  sign: withServerErrors("sign", (argv) => signCommand(argv)),
  root: withServerErrors("root", (argv) => rootCommand(argv)),
  bootstrap: withServerErrors("bootstrap", (argv) => bootstrapCommand(argv)),
  send: withServerErrors("send", (argv) => sendCommand(argv)),
  artifact: withServerErrors("artifact", (argv) => artifactCommand(argv)),
  import: withServerErrors("import", (argv) => importCommand(argv)),
  task: withServerErrors("task", (argv) => taskCommand(argv)),
  status: withServerErrors("status", (argv) => statusCommand(argv)),
  version: async () => {
    console.log(`tufbox ${VERSION} (${COMMIT}) bun ${Bun.version} ${process.platform}-${process.arch}`);
  },
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === "--version") return main(["version"]);
  const run = COMMANDS[command];
  if (!run) {
    console.error(`tufbox: unknown command "${command}"\nhint: run 'tufbox help' to list commands`);
    return 2;
  }
  try {
    await run(rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigurationError) {
      console.error(`tufbox ${command}: ${err.message}\nhint: ${err.hint}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(
        `tufbox ${command}: ${err.message}\nhint: fix the key named above in the config file, environment or flags; config/tufbox.example.yaml documents every key`,
      );
      return 2;
    }
    console.error(
      `tufbox ${command}: ${err instanceof Error ? err.message : String(err)}\nhint: run with --log-level debug for details`,
    );
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
