/**
 * Progress of long operations (a mirror's first sync, an export, an import):
 * on a terminal one line rewritten in place with a bar, the count, the rate,
 * the bytes and an ETA; otherwise (pipes, CI, journald) a plain line at most
 * every `plainEveryMs`, so logs stay readable. Both go to stderr: stdout
 * carries results (and --json documents) only.
 */
import type { ServerTerminal } from "./output.ts";
import { formatBytes } from "./format.ts";

export { formatBytes };

export interface Progress {
  /** `done` of `total` (total unknown: undefined) units of `label`, `bytes` so far */
  update(label: string, done: number, total: number | undefined, bytes?: number): void;
  /** clears the live line; prints `summary` (a plain line) if given */
  finish(summary?: string): void;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** The text of one progress line: `label [####....] 120/16388 3400/s 1.2 MiB ETA 5s`. */
export function progressText(
  label: string,
  done: number,
  total: number | undefined,
  bytes: number,
  seconds: number,
  bar: boolean,
): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const parts = [label];
  if (total !== undefined && total > 0) {
    const frac = Math.min(1, done / total);
    if (bar) {
      const width = 20;
      const filled = Math.round(frac * width);
      parts.push(`[${"#".repeat(filled)}${".".repeat(width - filled)}]`);
    }
    parts.push(`${done}/${total}`, `${Math.round(rate)}/s`);
    if (bytes > 0) parts.push(formatBytes(bytes));
    parts.push(
      done >= total ? `${formatSeconds(seconds)}` : `ETA ${formatSeconds(rate > 0 ? (total - done) / rate : NaN)}`,
    );
  } else {
    parts.push(`${done}`, `${Math.round(rate)}/s`);
    if (bytes > 0) parts.push(formatBytes(bytes));
  }
  return parts.join(" ");
}

export function progressFor(
  term: Pick<ServerTerminal, "live" | "info">,
  opts: { plainEveryMs?: number } = {},
): Progress {
  const started = performance.now();
  const plainEvery = opts.plainEveryMs ?? 2000;
  let lastAt = -Infinity;
  let lastLabel = "";
  let pending: string | undefined;
  return {
    update(label, done, total, bytes = 0) {
      const now = performance.now();
      const text = progressText(label, done, total, bytes, (now - started) / 1000, term.live !== undefined);
      if (term.live) {
        // ~10 redraws a second is plenty; the last state is drawn by finish().
        pending = text;
        if (now - lastAt < 100) return;
        term.live(text);
      } else {
        // Plain lines: each new phase at once, then at most one line every plainEvery.
        pending = text;
        if (label === lastLabel && now - lastAt < plainEvery) return;
        term.info(text);
        pending = undefined;
      }
      lastAt = now;
      lastLabel = label;
    },
    finish(summary) {
      if (term.live) term.live(null);
      else if (pending !== undefined) term.info(pending);
      pending = undefined;
      if (summary) term.info(summary);
    },
  };
}
