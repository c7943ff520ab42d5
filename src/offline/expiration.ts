/** Expiry in days per role, as the RSTUF bootstrap settings carry it (`settings.roles.<role>.expiration`). */
import { EXPIRING_ROLES, type ExpiringRole } from "../tuf/roles.ts";
import { OfflineError } from "./errors.ts";

export type Expiration = Record<ExpiringRole, number>;

/** DESIGN.md defaults. */
export const DEFAULT_EXPIRATION: Readonly<Expiration> = { root: 365, targets: 365, snapshot: 1, timestamp: 1, bins: 1 };

/** Days: a positive whole number (a string from a flag or a prompt). */
export function parseDays(text: string, what: string): number {
  const t = text.trim();
  const days = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(days) || days <= 0)
    throw new OfflineError(
      `${what}: "${text}" is not a positive number of days`,
      "give a whole number of days greater than 0, e.g. 365",
    );
  return days;
}

/** `root=365,targets=365,snapshot=1,timestamp=1,bins=1` (any subset) → days per role. */
export function parseExpirationList(text: string, flag = "--expires"): Partial<Expiration> {
  const out: Partial<Expiration> = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const m = /^([^=\s]+)\s*=\s*(.*)$/.exec(part);
    if (!m)
      throw new OfflineError(
        `${flag}: "${part}" is not ROLE=DAYS`,
        `e.g. ${flag} root=365,targets=365,snapshot=1,timestamp=1,bins=1`,
      );
    const role = m[1]!;
    if (!(EXPIRING_ROLES as readonly string[]).includes(role)) {
      throw new OfflineError(
        `${flag}: unknown role "${role}"`,
        `roles with an expiry: ${EXPIRING_ROLES.join(", ")} (custom delegated roles set theirs in the delegations file)`,
      );
    }
    out[role as ExpiringRole] = parseDays(m[2]!, `${flag} ${role}`);
  }
  return out;
}
