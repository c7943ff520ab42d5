/**
 * Progress of a transfer (artifact uploads, imports): on a terminal one line
 * rewritten in place — count, bytes, byte rate, ETA; otherwise a plain line
 * every few seconds and at the end, so CI logs show it is alive without
 * flooding. Beside progress.ts (which counts items) because a transfer's rate
 * and ETA must come from bytes: one 2 GiB file is one item for most of its time.
 */
import type { ServerTerminal } from "./output.ts";
import { formatBytes } from "./format.ts";

const REDRAW_MS = 200;
const PLAIN_EVERY_MS = 5000;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

export class TransferProgress {
  readonly #term: ServerTerminal;
  readonly #label: string;
  readonly #unit: string;
  #totalCount: number;
  #totalBytes: number;
  #count = 0;
  #bytes = 0;
  readonly #started = performance.now();
  #lastDraw = 0;
  #lastPlain = performance.now();

  constructor(term: ServerTerminal, opts: { label: string; unit?: string; totalCount: number; totalBytes: number }) {
    this.#term = term;
    this.#label = opts.label;
    this.#unit = opts.unit ?? "files";
    this.#totalCount = opts.totalCount;
    this.#totalBytes = opts.totalBytes;
  }

  get count(): number {
    return this.#count;
  }
  get bytes(): number {
    return this.#bytes;
  }
  get seconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Some of the work was there already (resumed): counts toward totals, not toward the rate. */
  skip(count: number, bytes: number): void {
    this.#totalCount -= count;
    this.#totalBytes -= bytes;
  }

  add(count: number, bytes: number): void {
    this.#count += count;
    this.#bytes += bytes;
    this.#maybeDraw();
  }

  line(): string {
    const secs = this.seconds;
    const rate = secs > 0 ? this.#bytes / secs : 0;
    const countRate = secs > 0 ? this.#count / secs : 0;
    const remaining =
      this.#totalBytes > 0 && rate > 0
        ? (this.#totalBytes - this.#bytes) / rate
        : countRate > 0
          ? (this.#totalCount - this.#count) / countRate
          : Number.POSITIVE_INFINITY;
    const pct = this.#totalCount > 0 ? Math.floor((100 * this.#count) / this.#totalCount) : 100;
    const bytes = this.#totalBytes > 0 ? ` · ${formatBytes(this.#bytes)}/${formatBytes(this.#totalBytes)}` : "";
    const speed = this.#totalBytes > 0 ? `${formatBytes(rate)}/s` : `${Math.round(countRate)} ${this.#unit}/s`;
    return `${this.#label} ${pct}% ${this.#count}/${this.#totalCount} ${this.#unit}${bytes} · ${speed} · ETA ${formatDuration(remaining)}`;
  }

  #maybeDraw(): void {
    const now = performance.now();
    if (this.#term.live) {
      if (now - this.#lastDraw < REDRAW_MS) return;
      this.#lastDraw = now;
      this.#term.live(this.line());
    } else if (now - this.#lastPlain >= PLAIN_EVERY_MS) {
      this.#lastPlain = now;
      this.#term.info(this.line());
    }
  }

  /** Clear the live line and print the summary. */
  done(summary: string): void {
    this.#term.live?.(null);
    this.#term.info(summary);
  }
}
