import { PostgresStore } from "./postgres/store.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./store.ts";

export * from "./store.ts";
export { PostgresStore } from "./postgres/store.ts";
export { SqliteStore } from "./sqlite/store.ts";

/**
 * Open (and migrate) the store a URL names:
 * - `sqlite:PATH`, `sqlite://PATH`, `sqlite:///abs/path` or a plain path → SQLite
 *   (`:memory:` for a throwaway store)
 * - `postgres://…` / `postgresql://…` → PostgreSQL (Bun's client reads the
 *   usual URL parameters: `?sslmode=verify-full`, `?search_path=tufbox`, …)
 */
export async function openStore(url: string, opts: { server?: boolean } = {}): Promise<Store> {
  const store = storeFor(url, opts.server ?? false);
  await store.open();
  return store;
}

function storeFor(url: string, server: boolean): Store {
  if (url.trim() === "") throw new Error("store URL is empty; use sqlite:PATH or a file path");
  if (/^postgres(ql)?:\/\//i.test(url)) return new PostgresStore(url);
  const sqlite = /^sqlite:(?:\/\/)?(.*)$/i.exec(url);
  if (sqlite) {
    const path = sqlite[1] ?? "";
    if (path === "") throw new Error(`store URL "${url}" names no file; use sqlite:PATH`);
    return new SqliteStore(path, { backgroundCheckpoint: server });
  }
  // Anything else shaped like a URL is a typo or an unknown backend, not a
  // file to create in the working directory.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme) {
    throw new Error(`unknown store scheme "${scheme[1]}:" in "${url}"; use sqlite:PATH or postgres://…`);
  }
  return new SqliteStore(url, { backgroundCheckpoint: server });
}
