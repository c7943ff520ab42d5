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
      db?.run("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // Busy or closing: the next tick tries again.
    }
  }, intervalMs);
  self.postMessage("started");
};
