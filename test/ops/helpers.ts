/** Running the backup/restore commands in-process, as the ops tests do. */
import type { backupCommand } from "../../src/cli/backup.ts";
import { ServerError } from "../../src/cli/client.ts";
import { testTerminal } from "../cli/helpers.ts";

/** Exit code 1 for a ServerError (what main.ts prints), the text, and `--json`'s output. */
export async function run(
  command: typeof backupCommand,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; text: string; json?: any }> {
  const t = testTerminal({ env });
  let code = 0;
  try {
    await command(args, t.term);
  } catch (err) {
    if (!(err instanceof ServerError)) throw err;
    code = 1;
    t.info.push(err.message);
  }
  return {
    code,
    text: t.text(),
    json: args.includes("--json") && code === 0 ? JSON.parse(t.out.join("\n")) : undefined,
  };
}
