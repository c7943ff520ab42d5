/**
 * Worker side of a backup's SQLite snapshot (backup.ts): `VACUUM INTO` is a
 * synchronous call that can take seconds on a large store; here it never
 * blocks the server's event loop.
 */
import { sqliteSnapshot } from "./sqlite-snapshot.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ path: string; into: string }>) => {
  try {
    self.postMessage({ snapshot: sqliteSnapshot(event.data.path, event.data.into) });
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
