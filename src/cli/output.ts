/**
 * Where a server command writes: stdout, or stderr with --json (stdout then
 * holds one JSON document), and a status line rewritten in place on a TTY.
 */
import { processTerminal, type Terminal } from "./terminal.ts";

/**
 * A Terminal that may rewrite one status line in place (stderr is a TTY).
 * Commands fall back to plain lines when `live` is missing (tests, pipes, CI).
 */
export interface ServerTerminal extends Terminal {
  /** replace the status line with `text`; null clears it */
  live?(text: string | null): void;
}

export function serverTerminal(): ServerTerminal {
  const term: ServerTerminal = processTerminal();
  if (process.stderr.isTTY === true && process.env.TERM !== "dumb") {
    let shown = false;
    term.live = (text) => {
      if (text === null) {
        if (shown) process.stderr.write("\r\x1b[2K");
        shown = false;
        return;
      }
      const cols = process.stderr.columns;
      const width = cols !== undefined && cols > 20 ? cols - 1 : 79;
      process.stderr.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = true;
    };
  }
  return term;
}

/**
 * Where a command's human-readable output goes: stdout normally, stderr with
 * --json (stdout then holds one JSON document and nothing else).
 */
export class Output {
  readonly term: ServerTerminal;
  readonly json: boolean;
  constructor(term: ServerTerminal, json: boolean) {
    this.term = term;
    this.json = json;
  }
  say(text: string): void {
    if (this.json) this.term.info(text);
    else this.term.out(text);
  }
  /** the --json document (only with --json) */
  result(value: unknown): void {
    if (this.json) this.term.out(JSON.stringify(value, null, 2));
  }
}
