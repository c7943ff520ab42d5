/**
 * Root N+1 from root N (spec 5.3: a client walks root versions one by one):
 * version + 1, a new expiry, root keys added / removed, a new threshold, the
 * online key swapped on targets, snapshot and timestamp (or on one of them:
 * each may have a key of its own, issue 17). Everything else in
 * `signed` (unknown fields included) is carried over unchanged.
 */
import { assertCanonicalSafe } from "../tuf/canonical.ts";
import { expiresIn } from "../tuf/dates.ts";
import { parseRoot, type RootSigned } from "../tuf/metadata.ts";
import { TufError } from "../tuf/errors.ts";
import { OfflineError } from "./errors.ts";
import type { NamedKey } from "./key-files.ts";
import { sameKeyMaterial } from "../tuf/keys.ts";
import { checkOnlineKeyUri } from "./bootstrap-payload.ts";
import { ONLINE_TOP_LEVEL_ROLES, type OnlineTopLevelRole } from "../tuf/roles.ts";
import { ONLINE_KEY_URI } from "../tuf/rstuf.ts";

export interface RootChanges {
  addKeys: NamedKey[];
  /** full keyids, or unambiguous prefixes of at least 8 hex characters */
  removeKeyids: string[];
  threshold?: number;
  onlineKey?: { key: NamedKey; uri: string };
  /** a new online key for one role only (--timestamp-key …), found as fn:<keyid> */
  roleKeys?: Partial<Record<OnlineTopLevelRole, NamedKey>>;
  expiresDays: number;
  now: Date;
}

/** Resolve a --remove-key argument against the current root keys. */
function resolveRootKeyid(current: RootSigned, given: string): string {
  const rootIds = current.roles.root.keyids;
  const id = given.trim().toLowerCase();
  if (rootIds.includes(id)) return id;
  const matches = id.length >= 8 ? rootIds.filter((k) => k.startsWith(id)) : [];
  if (matches.length === 1) return matches[0]!;
  if (current.roles.timestamp.keyids.some((k) => k === id || (id.length >= 8 && k.startsWith(id)))) {
    throw new OfflineError(
      `--remove-key ${given} is the online key, not a root key`,
      "replace the online key with --online-key NEW.pub",
    );
  }
  if (matches.length > 1)
    throw new OfflineError(`--remove-key ${given} matches several root keys`, "give more characters of the keyid");
  throw new OfflineError(
    `--remove-key ${given} is not a root key of root v${current.version}`,
    `root keys: ${rootIds.join(", ")}`,
  );
}

/** Keys no role uses any more are dropped from `keys`. */
function dropUnusedKeys(signed: RootSigned): void {
  const used = new Set(Object.values(signed.roles).flatMap((r) => r.keyids));
  for (const id of Object.keys(signed.keys)) if (!used.has(id)) delete signed.keys[id];
}

export function nextRoot(current: RootSigned, changes: RootChanges): RootSigned {
  const next = structuredClone(current);
  next.version = current.version + 1;
  if (!Number.isSafeInteger(changes.expiresDays) || changes.expiresDays <= 0)
    throw new OfflineError(
      `--expires ${changes.expiresDays}: days must be a whole number greater than 0`,
      "e.g. --expires 365",
    );
  next.expires = expiresIn(changes.now, changes.expiresDays);

  const onlineNow = current.roles.timestamp.keyids;
  for (const given of changes.removeKeyids) {
    const keyid = resolveRootKeyid(current, given);
    if (!next.roles.root.keyids.includes(keyid))
      throw new OfflineError(`--remove-key ${given} is given twice`, "remove each key once");
    next.roles.root.keyids = next.roles.root.keyids.filter((k) => k !== keyid);
  }

  const newOnline = changes.onlineKey;
  for (const added of changes.addKeys) {
    const where = `--add-key ${added.source}`;
    const same = Object.entries(next.keys).find(([id, key]) => id === added.keyid || sameKeyMaterial(key, added.key));
    if (same && next.roles.root.keyids.includes(same[0]))
      throw new OfflineError(
        `${where} is already a root key (${same[0]})`,
        "a key is listed once; to replace a key, --remove-key the old one and --add-key the new one",
      );
    if (same && ONLINE_TOP_LEVEL_ROLES.some((r) => current.roles[r].keyids.includes(same[0])))
      throw new OfflineError(
        `${where} is the online key of root v${current.version}`,
        "a key that has been on the server must never become a root key: generate a new root key",
      );
    if (newOnline && (newOnline.key.keyid === added.keyid || sameKeyMaterial(newOnline.key.key, added.key)))
      throw new OfflineError(`${where} is also given as --online-key`, "the online key must not be a root key");
    if (same && same[0] !== added.keyid)
      throw new OfflineError(
        `${where} is key ${same[0]} under another keyid`,
        "use the same .pub file for the same key",
      );
    next.keys[added.keyid] = added.key;
    next.roles.root.keyids.push(added.keyid);
  }

  if (newOnline) {
    checkOnlineKeyUri(newOnline.uri);
    const { key } = newOnline;
    if (
      onlineNow.length === 1 &&
      (onlineNow[0] === key.keyid || sameKeyMaterial(current.keys[onlineNow[0]!]!, key.key))
    ) {
      throw new OfflineError(
        `--online-key ${key.source} is already the online key`,
        "generate a new online key to rotate to",
      );
    }
    const rootClash = next.roles.root.keyids.find((id) => id === key.keyid || sameKeyMaterial(next.keys[id]!, key.key));
    if (rootClash)
      throw new OfflineError(
        `--online-key ${key.source} is a root key (${rootClash})`,
        "the online key lives on the server; root keys stay offline: generate a separate online key",
      );
    next.keys[key.keyid] = { ...key.key, [ONLINE_KEY_URI]: newOnline.uri };
    for (const role of ONLINE_TOP_LEVEL_ROLES)
      next.roles[role] = { ...next.roles[role], keyids: [key.keyid], threshold: 1 };
  }

  for (const [role, key] of Object.entries(changes.roleKeys ?? {}) as [OnlineTopLevelRole, NamedKey][]) {
    const flag = `--${role}-key ${key.source}`;
    if (newOnline)
      throw new OfflineError(
        `${flag} and --online-key exclude each other`,
        "rotate all three with --online-key, or one role with its own flag",
      );
    const now = current.roles[role].keyids;
    if (now.length === 1 && (now[0] === key.keyid || sameKeyMaterial(current.keys[now[0]!]!, key.key)))
      throw new OfflineError(`${flag} is already the ${role} key`, "generate a new key to rotate to");
    const rootClash = next.roles.root.keyids.find((id) => id === key.keyid || sameKeyMaterial(next.keys[id]!, key.key));
    if (rootClash)
      throw new OfflineError(
        `${flag} is a root key (${rootClash})`,
        "online keys live on the server; root keys stay offline: generate a separate key",
      );
    next.keys[key.keyid] = { ...key.key, [ONLINE_KEY_URI]: `fn:${key.keyid}` };
    next.roles[role] = { ...next.roles[role], keyids: [key.keyid], threshold: 1 };
  }

  if (changes.threshold !== undefined) {
    if (!Number.isSafeInteger(changes.threshold) || changes.threshold < 1)
      throw new OfflineError(
        `--threshold ${changes.threshold} is not allowed`,
        "the root threshold is a whole number of keys, at least 1",
      );
    next.roles.root.threshold = changes.threshold;
  }
  const n = next.roles.root.keyids.length;
  if (n === 0)
    throw new OfflineError(
      `root v${next.version} would have no root keys`,
      "add a root key with --add-key before removing the last one",
    );
  if (next.roles.root.threshold > n) {
    const flag =
      changes.threshold !== undefined
        ? `--threshold ${changes.threshold}`
        : `the threshold (${next.roles.root.threshold}, unchanged)`;
    throw new OfflineError(
      `${flag} is larger than the number of root keys of root v${next.version} (${n})`,
      `pass --threshold ${n} or lower, or keep more root keys`,
    );
  }
  dropUnusedKeys(next);
  try {
    assertCanonicalSafe(next, "root");
    parseRoot({ signed: next, signatures: [] });
  } catch (err) {
    if (err instanceof TufError)
      throw new OfflineError(`root v${next.version} would be invalid: ${err.message}`, "check the key files given");
    throw err;
  }
  return next;
}
