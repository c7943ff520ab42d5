#!/usr/bin/env bun
/** tufbox entry point: parse the command line and hand over to one command. */
import { ConfigError } from "./config.ts";
import { UsageError } from "./cli/args.ts";
import { withServerErrors } from "./cli/client.ts";
import { VERSION, COMMIT } from "./version.ts";
import { ConfigurationError } from "./repository/errors.ts";
import { StartupError } from "./startup.ts";

const USAGE = `tufbox ${VERSION} — a TUF repository service in one binary

Usage: tufbox <command> [flags]

Commands:
  quickstart   bootstrap a demo repository with development keys (if empty) and serve it
  serve        serve an existing repository (RSTUF-compatible API, metadata, targets)
  mirror       follow an upstream repository, verify it like a client, serve it (edge mirror);
               --from BUNDLE imports an export (air-gapped sites)
  export       write a verified static copy (directory or .tar) for static servers / USB sticks
  validate     check a published repository like a client, from a trusted root: chains, signatures,
               versions, hashes, expiry (--horizon), size caps, artifacts; exit 1 on any problem
  backup       an online, consistent backup of a running repository (--data-dir, or --server over the API)
  restore      a new data directory from a backup, that serves and continues publishing (next versions)
  healthcheck  exit 0 when the configured service answers GET /healthz (for containers)
  version      print the version
  admin-token  admin-token reset: revoke the stored admin API token, print a new one

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
  delegation   delegation upload FILE: a delegated role's next version, signed by its
               offline keys, published whole
  status       roles, versions, expiry, online key, bins, pending signatures
  bins         hash bins: how many serve the clients best (bins advise), change their
               number online (bins resize)
  publisher    pause or resume publication on every replica (changes queue up; online
               roles are still re-signed before they expire), or show whether it is paused
  token        create, list and revoke scoped API tokens (admin)
  audit        who changed what, from where (--follow to keep watching)

Run 'tufbox <command> --help' for a command's flags.`;

// Each command's module is loaded when it runs: an edge mirror on a small device
// must not carry the repository server (Elysia, stores, publisher) in memory.
const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  serve: async (argv) => (await import("./cli/serve.ts")).serveCommand(argv),
  quickstart: async (argv) => (await import("./cli/quickstart.ts")).quickstartCommand(argv),
  key: async (argv) => (await import("./cli/key.ts")).keyCommand(argv),
  ceremony: async (argv) => (await import("./cli/ceremony.ts")).ceremonyCommand(argv),
  sign: withServerErrors("sign", async (argv) => (await import("./cli/sign.ts")).signCommand(argv)),
  root: withServerErrors("root", async (argv) => (await import("./cli/root-update.ts")).rootCommand(argv)),
  bootstrap: withServerErrors("bootstrap", async (argv) => (await import("./cli/send.ts")).bootstrapCommand(argv)),
  send: withServerErrors("send", async (argv) => (await import("./cli/send.ts")).sendCommand(argv)),
  artifact: withServerErrors("artifact", async (argv) => (await import("./cli/artifact.ts")).artifactCommand(argv)),
  import: withServerErrors("import", async (argv) => (await import("./cli/import.ts")).importCommand(argv)),
  task: withServerErrors("task", async (argv) => (await import("./cli/task.ts")).taskCommand(argv)),
  delegation: withServerErrors("delegation", async (argv) =>
    (await import("./cli/delegation.ts")).delegationCommand(argv),
  ),
  status: withServerErrors("status", async (argv) => (await import("./cli/status.ts")).statusCommand(argv)),
  bins: withServerErrors("bins", async (argv) => (await import("./cli/bins.ts")).binsCommand(argv)),
  mirror: withServerErrors("mirror", async (argv) => (await import("./cli/mirror.ts")).mirrorCommand(argv)),
  export: withServerErrors("export", async (argv) => (await import("./cli/export.ts")).exportCommand(argv)),
  validate: withServerErrors("validate", async (argv) => (await import("./cli/validate.ts")).validateCommand(argv)),
  backup: withServerErrors("backup", async (argv) => (await import("./cli/backup.ts")).backupCommand(argv)),
  restore: withServerErrors("restore", async (argv) => (await import("./cli/backup.ts")).restoreCommand(argv)),
  healthcheck: withServerErrors("healthcheck", async (argv) =>
    (await import("./cli/healthcheck.ts")).healthcheckCommand(argv),
  ),
  publisher: withServerErrors("publisher", async (argv) => (await import("./cli/publisher.ts")).publisherCommand(argv)),
  token: withServerErrors("token", async (argv) => (await import("./cli/token.ts")).tokenCommand(argv)),
  audit: withServerErrors("audit", async (argv) => (await import("./cli/audit.ts")).auditCommand(argv)),
  "admin-token": async (argv) => (await import("./cli/admin-token.ts")).adminTokenCommand(argv),
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
    if (err instanceof UsageError || err instanceof ConfigurationError || err instanceof StartupError) {
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

const code = await main(process.argv.slice(2));
// A failed command exits now: a half-started server (publisher, scheduler,
// notifier) must not keep the process alive without listening, where a
// supervisor would never restart it.
if (code !== 0) process.exit(code);
process.exitCode = code;
