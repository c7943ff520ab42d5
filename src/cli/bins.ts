/**
 * `tufbox bins <action>`: the repository's hash bins (TAP 15).
 *
 *   resize   a new number of bins, published online (bins-resize.ts)
 *
 * Each action is one entry of BINS_ACTIONS (its summary goes into the help).
 */
import { UsageError } from "./args.ts";
import { BINS_RESIZE_SUMMARY, binsResizeCommand } from "./bins-resize.ts";
import { serverTerminal, type ServerTerminal } from "./output.ts";

export interface BinsAction {
  /** one line for `tufbox bins --help` */
  summary: string;
  run(argv: string[], term: ServerTerminal): Promise<void>;
}

export const BINS_ACTIONS: Record<string, BinsAction> = {
  resize: { summary: BINS_RESIZE_SUMMARY, run: binsResizeCommand },
};

export function binsHelp(): string {
  const width = Math.max(...Object.keys(BINS_ACTIONS).map((a) => a.length)) + 3;
  return `tufbox bins <action> [flags]

${Object.entries(BINS_ACTIONS)
  .map(([name, a]) => `  ${name.padEnd(width)}${a.summary}`)
  .join("\n")}

Run 'tufbox bins <action> --help' for an action's flags.`;
}

export async function binsCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  const [action, ...rest] = argv;
  if (action === undefined || action === "--help" || action === "-h" || action === "help") {
    term.out(binsHelp());
    return;
  }
  const a = BINS_ACTIONS[action];
  if (!a)
    throw new UsageError(
      `unknown action "${action}"`,
      `tufbox bins ${Object.keys(BINS_ACTIONS).join(" | ")} (run 'tufbox bins --help')`,
    );
  return a.run(rest, term);
}
