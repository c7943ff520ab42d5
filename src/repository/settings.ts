/**
 * Repository settings as stored (store key "repository") and the bootstrap
 * record, and the one workflow that changes settings (RSTUF's PUT
 * /api/v1/config: expiry per role).
 */
import type { ExpiringRole } from "../tuf/roles.ts";
import type { Engine } from "./engine.ts";
import type { AuditActor } from "../store/store.ts";

export interface RepositorySettings {
  /** expiry in days per role */
  expiration: Record<ExpiringRole, number>;
  /**
   * TAP 15 hash bins, or null for custom delegations. `retiredBitLengths`:
   * the layouts used before a re-binning (rebin.ts), whose bins stay listed
   * in snapshot but are no longer delegated to.
   */
  bins: {
    count: number;
    bitLength: number;
    prefix: string;
    retiredBitLengths?: number[];
    /** artifact rows may still carry bins of this layout (rebin.ts moves them after the publication) */
    rekeyFrom?: number;
  } | null;
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

/** PUT /api/v1/config: per-role expiration; applies from the next signature of each role. */
export function acceptExpirationUpdate(
  e: Engine,
  expiration: Record<string, number>,
  actor: AuditActor,
): Promise<{ taskId: string }> {
  e.requireBootstrapped();
  return e.startTask("update_settings", { actor, summary: { expiration } }, () =>
    e.store.withLock("publisher", async () => {
      const st = e.state!;
      const updated: string[] = [];
      const invalid: string[] = [];
      const next = { ...st.settings.expiration };
      for (const [role, days] of Object.entries(expiration)) {
        // Own properties only: "toString" or "constructor" are not roles.
        if (Object.hasOwn(next, role)) {
          next[role as ExpiringRole] = days;
          updated.push(role);
        } else invalid.push(role);
      }
      const settings = { ...st.settings, expiration: next };
      await e.store.setSettings({ [SETTINGS_KEY]: settings });
      e.state = { ...st, settings };
      return {
        ok: updated.length > 0,
        message: updated.length > 0 ? "Settings Updated" : "Settings Update Failed",
        details: { updated_roles: updated, invalid_roles: invalid },
      };
    }),
  );
}
