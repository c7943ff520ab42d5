/**
 * Repository settings as stored (store key "repository"), and the RSTUF
 * `GET /api/v1/config` view of them.
 */
import type { ExpiringRole } from "../tuf/roles.ts";

export interface RepositorySettings {
  /** expiry in days per role */
  expiration: Record<ExpiringRole, number>;
  /** TAP 15 hash bins, or null for custom delegations */
  bins: { count: number; bitLength: number; prefix: string } | null;
  /** keyid of the online key (the timestamp role's key) */
  onlineKeyId: string;
  consistentSnapshot: boolean;
}

export type BootstrapState = "pre" | "signing" | "finished";

export interface BootstrapRecord {
  state: BootstrapState;
  taskId: string;
}

export const SETTINGS_KEY = "repository";
export const BOOTSTRAP_KEY = "bootstrap";
