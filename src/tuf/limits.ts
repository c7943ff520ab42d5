/**
 * Default download caps of TUF clients (tuf-js, python-tuf ngclient) when the
 * referring metadata gives no length (DESIGN.md "Client limits"). A document
 * over its cap cannot be fetched by those clients at all.
 */
export const CLIENT_LIMITS = {
  timestamp: 16_384,
  root: 512_000,
  snapshot: 2_000_000,
  /** each targets, bin or delegated targets document */
  targets: 5_000_000,
} as const;
