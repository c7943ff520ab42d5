/**
 * Default maximum download sizes of tuf-js and python-tuf (ngclient config),
 * used when the referring metadata gives no length (DESIGN.md "Client
 * limits"): a document over its cap can never be loaded by those clients.
 * (Same name and shape as issue 10's bounds module, which takes this file over.)
 */
export const CLIENT_MAX_BYTES = {
  timestamp: 16_384,
  root: 512_000,
  snapshot: 2_000_000,
  /** targets and every delegated targets role (bins included) */
  targets: 5_000_000,
} as const;
