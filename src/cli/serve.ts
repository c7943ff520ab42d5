/** `tufbox serve`: run the service on an existing data directory. */
import { loadConfig } from "../config.ts";
import { createLogger, type Logger } from "../log.ts";
import { createApp, startApp, type Listener } from "../app.ts";
import type { App, RunningApp } from "../core.ts";
import { checkStartupPaths } from "../startup.ts";
import { parseCommandArgs } from "./args.ts";
import { VERSION } from "../version.ts";
import { configFlagsHelp } from "./help.ts";

export const SERVE_HELP = `tufbox serve [--data-dir DIR] [--listen HOST:PORT] [--config FILE] [flags below]

Serves the repository in DIR: the RSTUF-compatible API under /api/v1, metadata
under /metadata/, artifact bytes under /targets/, /healthz and /readyz. Until
a ceremony's payload is posted to /api/v1/bootstrap (tufbox bootstrap) it
serves no metadata.

${configFlagsHelp()}`;

export function loggerFor(config: {
  log: { level: "debug" | "info" | "warn" | "error"; format: "json" | "text" };
}): Logger {
  return createLogger({ level: config.log.level, format: config.log.format });
}

/** Start, print how to reach the service, and run until SIGINT/SIGTERM. */
export async function runUntilSignal(
  app: App,
  log: Logger,
  before?: (running: RunningApp) => void,
  listener?: Listener,
): Promise<void> {
  const running = await startApp(app, listener);
  before?.(running);
  if (running.generatedToken) {
    // Printed once, to stdout only (never to the log): only its hash is stored.
    console.log(
      `\nAdmin API token (shown once, store it now):\n\n  ${running.generatedToken}\n\nUse it as: Authorization: Bearer <token>\n`,
    );
    await app.auth.markShown();
  } else if (await app.auth.neverShown()) {
    log.warn(
      `the admin API token generated at an earlier start was never shown (tufbox stopped before printing it): get a new one with \`tufbox admin-token reset --data-dir ${app.config.data_dir}\``,
    );
  }
  // Always on stdout, whatever the log level: scripts and supervisors wait for this line.
  console.log(
    `tufbox ${VERSION} listening on ${running.url} (metadata: ${running.url}/metadata/, API: ${running.url}/api/v1/)`,
  );
  if (!app.repo.bootstrapped)
    log.warn(
      "repository not bootstrapped yet: POST a ceremony payload to /api/v1/bootstrap (RSTUF CLI: rstuf admin send bootstrap)",
    );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  log.info("stopping");
  await running.stop();
}

export async function serveCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs("serve", argv);
  if (args.own.help) {
    console.log(SERVE_HELP);
    return;
  }
  const config = loadConfig({ flags: args.config });
  const log = loggerFor(config);
  for (const w of config.meta.warnings) log.warn(w);
  checkStartupPaths(config);
  const app = await createApp(config, log);
  app.repo.checkOnlineKey();
  await runUntilSignal(app, log);
}
