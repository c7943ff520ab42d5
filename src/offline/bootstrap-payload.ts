/**
 * The ceremony's output: an RSTUF bootstrap payload (shared/RSTUF-API.md) —
 * settings plus root v1 — containing only public keys. Checks that would
 * otherwise surface later at the server (or never) are made here, and name
 * the ceremony flag at fault.
 */
import { assertCanonicalSafe } from "../tuf/canonical.ts";
import { expiresIn } from "../tuf/dates.ts";
import { bitLengthForBins, MAX_BINS, MIN_BINS } from "../tuf/bins.ts";
import { SPEC_VERSION, parseRoot, type Metadata, type RootSigned } from "../tuf/metadata.ts";
import { TufError } from "../tuf/errors.ts";
import { ONLINE_KEY_URI, onlineKeyFile } from "../tuf/rstuf.ts";
import { OfflineError } from "./errors.ts";
import type { NamedKey } from "./key-files.ts";
import { sameKeyMaterial, type KeyJSON } from "../tuf/keys.ts";
import type { Expiration } from "./expiration.ts";
import type { RstufDelegations } from "./delegations.ts";

export type TargetsLayout = { bins: number } | { delegations: RstufDelegations; source: string };

/** Roles that may get an online key of their own (issue 17): root's three online roles and the hash bins. */
export const ROLE_KEY_ROLES = ["targets", "snapshot", "timestamp", "bins"] as const;
export type RoleKeyRole = (typeof ROLE_KEY_ROLES)[number];

export interface CeremonyPlan {
  rootKeys: NamedKey[];
  threshold: number;
  onlineKey: NamedKey;
  /** `fn:<name>`: the server loads the online key's private part from that file */
  onlineKeyUri: string;
  /**
   * Online keys of their own for some roles (--timestamp-key …), each found
   * by the server as fn:<keyid>; the others use `onlineKey`. RSTUF's
   * ceremonies give none: one key for all.
   */
  roleKeys?: Partial<Record<RoleKeyRole, NamedKey>>;
  layout: TargetsLayout;
  expiration: Expiration;
  now: Date;
}

/** The default root threshold: a majority of the root keys. */
export function defaultThreshold(rootKeyCount: number): number {
  return Math.floor(rootKeyCount / 2) + 1;
}

export function defaultOnlineKeyUri(keyid: string): string {
  return `fn:${keyid}`;
}

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

export function checkOnlineKeyUri(uri: string): void {
  if (!URI.test(uri))
    throw new OfflineError(
      `--online-key-uri "${uri}" is not a URI`,
      "use fn:NAME: the server reads the online key from the file NAME in its online-key directory",
    );
  // As the server resolves fn: names in its online-key directory (repository/online-key.ts).
  const file = onlineKeyFile(uri);
  if (file && "problem" in file)
    throw new OfflineError(
      `--online-key-uri "${uri}": ${file.problem}`,
      "use fn:NAME with a plain file name (no directories)",
    );
}

export function checkBins(bins: number, flag = "--bins"): void {
  try {
    bitLengthForBins(bins);
  } catch {
    throw new OfflineError(
      `${flag} ${bins} is not allowed`,
      `use a power of two between ${MIN_BINS} and ${MAX_BINS}, e.g. ${flag} 256`,
    );
  }
}

/** Checks a plan; every error names the flag (or prompt) it came from. */
export function checkPlan(plan: CeremonyPlan): void {
  if (plan.rootKeys.length === 0)
    throw new OfflineError(
      "--root-key: at least one root key is required",
      "give each root key holder's NAME.pub: --root-key alice.pub --root-key bob.pub",
    );
  plan.rootKeys.forEach((k, i) => {
    const dup = plan.rootKeys.findIndex((o, j) => j < i && (o.keyid === k.keyid || sameKeyMaterial(o.key, k.key)));
    if (dup >= 0)
      throw new OfflineError(
        `--root-key: ${k.source} is the same key as ${plan.rootKeys[dup]!.source} (${k.keyid})`,
        "give each root key once",
      );
  });
  if (!Number.isSafeInteger(plan.threshold) || plan.threshold < 1)
    throw new OfflineError(
      `--threshold ${plan.threshold} is not allowed`,
      "the root threshold is a whole number of keys, at least 1",
    );
  if (plan.threshold > plan.rootKeys.length) {
    throw new OfflineError(
      `--threshold ${plan.threshold} is larger than the number of root keys (${plan.rootKeys.length})`,
      `use at most ${plan.rootKeys.length}, or add root keys with --root-key`,
    );
  }
  const clash = plan.rootKeys.find(
    (k) => k.keyid === plan.onlineKey.keyid || sameKeyMaterial(k.key, plan.onlineKey.key),
  );
  if (clash)
    throw new OfflineError(
      `--online-key ${plan.onlineKey.source} is also a root key (${clash.source})`,
      "the online key lives on the server; root keys stay offline: generate a separate online key",
    );
  checkOnlineKeyUri(plan.onlineKeyUri);
  for (const [role, key] of Object.entries(plan.roleKeys ?? {})) {
    const root = plan.rootKeys.find((k) => k.keyid === key.keyid || sameKeyMaterial(k.key, key.key));
    if (root)
      throw new OfflineError(
        `--${role}-key ${key.source} is also a root key (${root.source})`,
        "online keys live on the server; root keys stay offline: generate a separate key",
      );
  }
  if (plan.roleKeys?.bins && !("bins" in plan.layout))
    throw new OfflineError(
      "--bins-key applies only with hash bins",
      "custom delegated roles name their keys in the delegations file",
    );
  if ("bins" in plan.layout) checkBins(plan.layout.bins);
  for (const [role, days] of Object.entries(plan.expiration)) {
    if (!Number.isSafeInteger(days) || days <= 0)
      throw new OfflineError(
        `--expires ${role}=${days}: days must be a whole number greater than 0`,
        "e.g. --expires root=365,targets=365,snapshot=1,timestamp=1,bins=1",
      );
  }
  if ("delegations" in plan.layout) {
    const source = `--delegations ${plan.layout.source}`;
    for (const [keyid, key] of Object.entries(plan.layout.delegations.keys)) {
      if (keyid === plan.onlineKey.keyid || sameKeyMaterial(key, plan.onlineKey.key))
        throw new OfflineError(
          `${source}: the online key is listed as an offline key`,
          'use "online: true" for roles signed by the online key',
        );
      const root = plan.rootKeys.find((k) => k.keyid === keyid || sameKeyMaterial(k.key, key));
      if (root)
        throw new OfflineError(
          `${source}: key ${keyid} is also a root key (${root.source})`,
          "delegated roles get their own keys: root keys sign only root",
        );
    }
  }
}

/** A role's own online key as published: its URI is fn:<keyid> (the online key's may be set with --online-key-uri). */
function onlineKeyJSON(plan: CeremonyPlan, k: NamedKey): KeyJSON {
  return {
    ...k.key,
    [ONLINE_KEY_URI]: k.keyid === plan.onlineKey.keyid ? plan.onlineKeyUri : defaultOnlineKeyUri(k.keyid),
  };
}

/** Where the server must find each online private key: role → { keyid, uri } (public data only). */
export function onlineKeyPlaces(plan: CeremonyPlan): { role: string; keyid: string; uri: string }[] {
  const out: { role: string; keyid: string; uri: string }[] = [];
  for (const role of ROLE_KEY_ROLES) {
    if (role === "bins" && !("bins" in plan.layout)) continue;
    const k = plan.roleKeys?.[role] ?? (role === "bins" ? plan.roleKeys?.targets : undefined) ?? plan.onlineKey;
    out.push({ role, keyid: k.keyid, uri: onlineKeyJSON(plan, k)[ONLINE_KEY_URI] as string });
  }
  return out;
}

/** Root v1 of the plan (unsigned). */
export function ceremonyRoot(plan: CeremonyPlan): RootSigned {
  checkPlan(plan);
  const keys: Record<string, KeyJSON> = {};
  for (const k of plan.rootKeys) keys[k.keyid] = k.key;
  keys[plan.onlineKey.keyid] = { ...plan.onlineKey.key, [ONLINE_KEY_URI]: plan.onlineKeyUri };
  const own = plan.roleKeys ?? {};
  const online = (role: "targets" | "snapshot" | "timestamp") => {
    const k = own[role];
    if (!k) return { keyids: [plan.onlineKey.keyid], threshold: 1 };
    keys[k.keyid] = onlineKeyJSON(plan, k);
    return { keyids: [k.keyid], threshold: 1 };
  };
  const signed: RootSigned = {
    _type: "root",
    spec_version: SPEC_VERSION,
    version: 1,
    expires: expiresIn(plan.now, plan.expiration.root),
    consistent_snapshot: true,
    keys,
    roles: {
      root: { keyids: plan.rootKeys.map((k) => k.keyid), threshold: plan.threshold },
      targets: online("targets"),
      snapshot: online("snapshot"),
      timestamp: online("timestamp"),
    },
  };
  try {
    assertCanonicalSafe(signed, "root");
    parseRoot({ signed, signatures: [] });
  } catch (err) {
    if (err instanceof TufError)
      throw new OfflineError(`root v1 would be invalid: ${err.message}`, "check the key files given to the ceremony");
    throw err;
  }
  return signed;
}

/** The RSTUF bootstrap payload for a plan and its (possibly partly) signed root. */
export function bootstrapPayload(plan: CeremonyPlan, root: Metadata<RootSigned>): Record<string, unknown> {
  const e = plan.expiration;
  const layout = plan.layout;
  return {
    settings: {
      roles: {
        root: { expiration: e.root },
        targets: { expiration: e.targets },
        snapshot: { expiration: e.snapshot },
        timestamp: { expiration: e.timestamp },
        bins:
          "bins" in layout
            ? {
                expiration: e.bins,
                number_of_delegated_bins: layout.bins,
                // tufbox: the bins' own online key (without it, the targets key signs them).
                ...(plan.roleKeys?.bins
                  ? { online_key: { [plan.roleKeys.bins.keyid]: onlineKeyJSON(plan, plan.roleKeys.bins) } }
                  : {}),
              }
            : null,
        delegations: "delegations" in layout ? layout.delegations : null,
      },
    },
    metadata: { root: { signed: root.signed, signatures: root.signatures } },
  };
}
