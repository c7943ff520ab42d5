/** Shared by the `--server` CLI tests: terminals pointed at a test server, error assertions. */
import { ServerError } from "../../src/cli/client.ts";
import { UsageError } from "../../src/cli/args.ts";
import { TOKEN } from "../helpers/server.ts";
import { rejects, testTerminal, type TestTerminal } from "./helpers.ts";

export { rejects };

/** A scripted terminal whose environment names the server and the token (as an operator's shell would). */
export function serverTerm(
  url: string,
  opts: { interactive?: boolean; answers?: string[]; token?: string | null; env?: Record<string, string> } = {},
): TestTerminal {
  const env: Record<string, string> = { TUFBOX_SERVER: url, ...opts.env };
  if (opts.token !== null) env.TUFBOX_TOKEN = opts.token ?? TOKEN;
  return testTerminal({ interactive: opts.interactive, answers: opts.answers, env });
}

export const serverError = (p: Promise<unknown>, pattern: RegExp) => rejects(p, ServerError, pattern);
export const usageError = (p: Promise<unknown>, pattern: RegExp) => rejects(p, UsageError, pattern);
