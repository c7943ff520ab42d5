/**
 * RSTUF's bootstrap payload (RSTUF-API.md "Bootstrap"): settings (expiry per
 * role; hash bins or custom delegations) and root v1 as the ceremony signed it.
 */
import { type Static, Type } from "@sinclair/typebox";
import { ValidationError } from "../../../repository/errors.ts";
import type { BootstrapPayload } from "../../../repository/payloads.ts";
import { bitLengthForBins, MAX_BINS, MIN_BINS } from "../../../tuf/bins.ts";
import type { KeyJSON } from "../../../tuf/keys.ts";
import type { Metadata, RootSigned } from "../../../tuf/metadata.ts";
import { ONLINE_TOP_LEVEL_ROLES, onlineRoleProblem, roleKeyId } from "../../../tuf/roles.ts";
import { delegations, toDelegations } from "../delegations/model.ts";
import { extend, type Loc, type Step, tufCheck, validate } from "../schema.ts";
import { ExpirationDays, Keys, rootMetadata } from "../tuf-model.ts";

const fail = (loc: Loc, msg: string): never => {
  throw ValidationError.at(loc, msg);
};

const Expiry = Type.Object({ expiration: ExpirationDays }, { additionalProperties: false });

/** TAP 15 hash bins: a power of two, never rounded. */
const Bins = extend(
  Type.Object(
    {
      expiration: ExpirationDays,
      number_of_delegated_bins: Type.Optional(
        Type.Union([
          extend(Type.Integer({ minimum: MIN_BINS, maximum: MAX_BINS, default: 256, description: "a power of two" }), {
            opaque: true,
          }),
          Type.Null(),
        ]),
      ),
      // tufbox: the bins' own online key (one entry: keyid → key with its
      // x-rstuf-online-key-uri); without it, the targets role's key signs the bins.
      online_key: Type.Optional(Type.Union([Keys, Type.Null()])),
    },
    { additionalProperties: false },
  ),
  {
    check: tufCheck(
      (b: { number_of_delegated_bins?: unknown }) => void bitLengthForBins(b.number_of_delegated_bins ?? 256),
      0,
    ),
  },
);

const oneLayout: Step = (_f, loc, _ctx, raw) => {
  const bins = raw.bins ?? null;
  const delegated = raw.delegations ?? null;
  if (bins !== null && delegated !== null) fail(loc, "set exactly one of bins or delegations, not both");
  if (bins === null && delegated === null) fail(loc, "set exactly one of bins or delegations");
};

const Roles = extend(
  Type.Object(
    {
      root: Expiry,
      targets: Expiry,
      snapshot: Expiry,
      timestamp: Expiry,
      bins: Type.Optional(Type.Union([Bins, Type.Null()])),
      delegations: Type.Optional(Type.Union([delegations({ namesOnly: false }), Type.Null()])),
    },
    { additionalProperties: false, description: "exactly one of bins and delegations" },
  ),
  { steps: ["root", "targets", "snapshot", "timestamp", oneLayout, "bins", "delegations"] },
);

/**
 * RSTUF's rules for root v1: version 1, one online key (not a root key) for
 * each of targets, snapshot and timestamp. RSTUF's payloads use the same key
 * for all three; tufbox also takes one key per role (issue 17).
 */
const rootRules: Step = (f, loc) => {
  const signed = (f.metadata.root as Metadata<RootSigned>).signed;
  const at = [...loc, "metadata", "root", "signed"];
  if (signed.version !== 1) fail([...at, "version"], "the bootstrap root must be version 1");
  for (const name of ONLINE_TOP_LEVEL_ROLES.toReversed()) {
    if (onlineRoleProblem(signed, name) === "keys")
      fail([...at, "roles", name], "online roles must have exactly one key (the online key) and threshold 1");
    if (signed.roles.root.keyids.includes(roleKeyId(signed, name)!))
      fail([...at, "roles", "root", "keyids"], `the online key of ${name} must not be a root key`);
  }
};

/** Delegated roles get keys of their own: root keys sign only root. */
const delegationKeysNotRoot: Step = (f, loc) => {
  const signed = (f.metadata.root as Metadata<RootSigned>).signed;
  const binsKey = f.settings.roles.bins?.online_key as Record<string, unknown> | undefined;
  if (binsKey && Object.keys(binsKey).length !== 1)
    fail([...loc, "settings", "roles", "bins", "online_key"], "give exactly one key (keyid → key)");
  for (const keyid of Object.keys(binsKey ?? {}))
    if (signed.roles.root.keyids.includes(keyid))
      fail([...loc, "settings", "roles", "bins", "online_key", keyid], "the bins' online key must not be a root key");
  const keys = f.settings.roles.delegations?.keys;
  if (!keys) return;
  const online = new Set(ONLINE_TOP_LEVEL_ROLES.map((r) => roleKeyId(signed, r)));
  for (const keyid of Object.keys(keys)) {
    if (online.has(keyid)) continue;
    if (signed.roles.root.keyids.includes(keyid))
      fail([...loc, "settings", "roles", "delegations", "keys", keyid], "a delegated role key must not be a root key");
  }
};

export const bootstrapBody = extend(
  Type.Object(
    {
      settings: Type.Object({ roles: Roles }, { additionalProperties: false }),
      metadata: Type.Object({ root: rootMetadata({ dropNullBundles: false }) }, { additionalProperties: false }),
      timeout: Type.Optional(Type.Union([Type.Integer({ exclusiveMinimum: 0, description: "seconds" }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  { steps: ["settings", "metadata", rootRules, "timeout", delegationKeysNotRoot] },
);

export type BootstrapBody = Static<typeof bootstrapBody>;

export function toBootstrap(body: BootstrapBody): BootstrapPayload {
  const r = body.settings.roles;
  const bins = r.bins ?? null;
  const count = bins ? (bins.number_of_delegated_bins ?? 256) : null;
  return {
    expiration: {
      root: r.root.expiration,
      targets: r.targets.expiration,
      snapshot: r.snapshot.expiration,
      timestamp: r.timestamp.expiration,
      bins: bins ? bins.expiration : 1,
    },
    binsCount: count,
    bitLength: count === null ? null : bitLengthForBins(count),
    delegations: r.delegations ? toDelegations(r.delegations) : null,
    ...(bins?.online_key ? { binsKey: binsKeyOf(bins.online_key as Record<string, KeyJSON>) } : {}),
    root: body.metadata.root as unknown as Metadata<RootSigned>,
    timeout: body.timeout ?? undefined,
  };
}

function binsKeyOf(keys: Record<string, KeyJSON>): { keyid: string; key: KeyJSON } {
  const [keyid, key] = Object.entries(keys)[0]!;
  return { keyid, key };
}

/** The engine's bootstrap request from an RSTUF bootstrap payload, checked exactly as POST /api/v1/bootstrap checks it. */
export function parseBootstrapPayload(payload: unknown): BootstrapPayload {
  return toBootstrap(validate<BootstrapBody>(bootstrapBody, payload, ["body"]));
}
