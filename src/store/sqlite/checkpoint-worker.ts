/**
 * Worker side of SQLite background checkpoints (store.ts): its own
 * connection copies committed WAL pages into the database file and fsyncs
 * it, so that work never runs inside a commit on the main thread. SQLite's
 * automatic checkpoint ran in whichever commit crossed 1000 WAL pages: with
 * 16384 bins (a ~0.6 MB snapshot per publication) one publication in five
 * paid for copying and syncing ~4 MB, a tail in add → visible latency.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

/** WAL frames (pages, 4 KiB) above which the worker truncates the WAL: ~64 MiB. */
const WAL_RESET_FRAMES = 16_384;

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number } | "stop">) => {
  if (event.data === "stop") {
    if (timer) clearInterval(timer);
    db?.close();
    db = undefined;
    self.postMessage("stopped");
    return;
  }
  const { path, intervalMs } = event.data;
  db = new Database(path);
  // Never wait for the writer: PASSIVE copies what it can and returns.
  db.run("PRAGMA busy_timeout = 0");
  timer = setInterval(() => {
    try {
      const r = db?.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { log: number; checkpointed: number } | null;
      // PASSIVE never waits, so under constant writes it may never catch up
      // and the WAL (reset only once fully copied) would keep growing. Past
      // WAL_RESET_FRAMES, wait briefly for a gap between writes and truncate it.
      if (r && r.log > WAL_RESET_FRAMES) {
        db?.run("PRAGMA busy_timeout = 200");
        try {
          db?.run("PRAGMA wal_checkpoint(TRUNCATE)");
        } finally {
          db?.run("PRAGMA busy_timeout = 0");
        }
      }
    } catch {
      // Busy or closing: the next tick tries again.
    }
  }, intervalMs);
  self.postMessage("started");
};
