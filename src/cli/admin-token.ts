/**
 * `tufbox admin-token reset`: a new admin API token for a data directory,
 * printed once; every stored admin token before it stops working (also on a
 * server running on that data directory, which looks tokens up per request).
 * The way back in when the token generated at first start was lost or never
 * shown.
 */
import { loadConfig } from "../config.ts";
import { openStore } from "../store/index.ts";
import { Tokens } from "../auth/tokens.ts";
import { checkStartupPaths, sqlitePath, StartupError } from "../startup.ts";
import { existsSync } from "node:fs";
import { parseCommandArgs, UsageError } from "./args.ts";

export const ADMIN_TOKEN_HELP = `tufbox admin-token reset [--data-dir DIR] [--database URL] [--config FILE]

Revokes the stored admin API token(s) of the repository in DIR and prints a
new one, once. A server running on DIR accepts only the new token from then on.
A token given as TUFBOX_ADMIN_TOKEN is configuration, not stored: change it there.`;

export async function adminTokenCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs("admin-token", argv);
  if (args.own.help) {
    console.log(ADMIN_TOKEN_HELP);
    return;
  }
  const [action, ...rest] = args.positionals;
  if (action !== "reset" || rest.length > 0)
    throw new UsageError(
      action === undefined ? "missing action" : `unknown action "${[action, ...rest].join(" ")}"`,
      "run 'tufbox admin-token reset --data-dir DIR'",
    );
  const config = loadConfig({ flags: args.config });
  checkStartupPaths(config);
  const db = sqlitePath(config.database);
  // Never create an empty database next to a mistyped --data-dir.
  if (db !== null && !existsSync(db))
    throw new StartupError(
      `no tufbox database at ${db}`,
      "point --data-dir at the data directory of the repository (the one `tufbox serve` uses)",
    );
  const store = await openStore(config.database);
  try {
    const { token, revoked } = await new Tokens(store).resetAdmin();
    console.log(
      `New admin API token (shown once, store it now)${revoked > 0 ? `; ${revoked} earlier admin token(s) revoked` : ""}:\n\n  ${token}\n\nUse it as: Authorization: Bearer <token>`,
    );
    if (config.auth.admin_token !== null)
      console.error(
        "note: TUFBOX_ADMIN_TOKEN is set in this environment; a server started with it accepts that token too",
      );
  } finally {
    await store.close();
  }
}
