import type { Whoami } from "./api.ts";

/** What every view gets: who is logged in, and the server's idea of "now". */
export interface ViewContext {
  who: Whoami;
  /** server time in ms: countdowns follow the server's clock, not the browser's */
  now(): number;
  /** record the server's `now` from a response */
  syncClock(iso: string): void;
  /** re-render the current view */
  refresh(): void;
}
