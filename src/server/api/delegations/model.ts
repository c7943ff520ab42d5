/**
 * RSTUF's `delegations` object (bootstrap settings and /api/v1/delegations):
 * `{keys: {keyid: key}, roles: [{name, terminating, keyids, threshold,
 * paths | path_hash_prefixes, x-rstuf-expire-policy, x-rstuf-num-bins}]}`,
 * where empty `keyids` means "signed by the online key". Delete takes role
 * names only.
 *
 * `x-rstuf-num-bins` (RSTUF's draft for issue #876: repository-service-tuf-api
 * PR #860) gives a role hash bins of its own, `<name>-bins-<hex>`
 * (tuf/delegated-bins.ts): a power of two from 2 to 16384, on a role signed by
 * the online key.
 */
import { type Static, Type } from "@sinclair/typebox";
import { ValidationError } from "../../../repository/errors.ts";
import type { DelegationsInput } from "../../../repository/payloads.ts";
import { assertCanonicalSafe } from "../../../tuf/canonical.ts";
import type { KeyJSON } from "../../../tuf/keys.ts";
import type { DelegatedRole } from "../../../tuf/metadata.ts";
import {
  checkLength,
  DELEGATED_ROLES_MAX,
  DELEGATION_KEYIDS_MAX,
  DELEGATION_PATHS_MAX,
  PATH_HASH_PREFIX_MAX_LENGTH,
  TARGET_PATH_MAX_LENGTH,
} from "../../../tuf/limits.ts";
import { isBinLikeName, isTopLevelRole, ROLE_NAME } from "../../../tuf/roles.ts";
import { EXPIRE_POLICY } from "../../../tuf/rstuf.ts";
import { bitLengthForBins, MAX_BINS, MIN_BINS } from "../../../tuf/bins.ts";
import { NUM_BINS, nestedBinsProblem } from "../../../tuf/delegated-bins.ts";
import { extend, type Loc, type Step, tufCheck, type ValidationContext, words } from "../schema.ts";
import { atMost, ExpirationDays, Keys, roleNameLength } from "../tuf-model.ts";

const KEYS = "delegation keys";

const fail = (loc: Loc, msg: string, type = "value_error"): never => {
  throw ValidationError.at(loc, msg, type);
};

/** A delegated role's name: not a top-level role, not a bin, once per request. */
const Name = extend(Type.String({ pattern: ROLE_NAME.source }), {
  messages: { "*": words("role names match [A-Za-z0-9_-]+") },
  check: (name: string, loc, ctx: ValidationContext) => {
    roleNameLength(name, loc);
    if (isTopLevelRole(name) || isBinLikeName(name)) fail(loc, `"${name}" is reserved`);
    const names = ctx.memo("delegated role names", () => new Set<string>());
    if (names.has(name)) fail(loc, `duplicate role name ${name}`);
    names.add(name);
  },
});

const NON_EMPTY_STRINGS = "Input should be a non-empty list of strings";

const patternLength = (hex: boolean) =>
  tufCheck(
    (p: string) =>
      checkLength(
        p,
        hex ? PATH_HASH_PREFIX_MAX_LENGTH : TARGET_PATH_MAX_LENGTH,
        "",
        hex ? "a path hash prefix" : "a path pattern",
      ),
    0,
  );

/** `paths` (shell-style patterns) or `path_hash_prefixes` (hex): a non-empty list of non-empty strings. */
function patterns(hex: boolean) {
  return extend(
    Type.Array(Type.String({ minLength: 1, ...(hex ? { pattern: "^[0-9a-f]+$" } : {}) }), { minItems: 1 }),
    {
      opaque: true,
      check: (v: unknown, loc: Loc) => {
        if (!Array.isArray(v) || v.length === 0 || v.some((p) => typeof p !== "string" || p.length === 0))
          fail(loc, NON_EMPTY_STRINGS, "list_type");
        atMost(DELEGATION_PATHS_MAX, hex ? "path_hash_prefixes" : "paths")(v, loc);
        for (const [j, p] of (v as string[]).entries()) patternLength(hex)(p, [...loc, j]);
        if (hex && (v as string[]).some((p) => !/^[0-9a-f]+$/.test(p)))
          fail(loc, "path hash prefixes are lower-case hex");
      },
    },
  );
}

/** Every keyid of a role must be one of the request's delegation keys. */
const Keyids = extend(Type.Array(Type.String()), {
  opaque: true,
  check: (v: unknown, loc: Loc, ctx: ValidationContext) => {
    if (!Array.isArray(v) || v.some((k) => typeof k !== "string"))
      fail(loc, "Input should be a list of keyids", "list_type");
    atMost(DELEGATION_KEYIDS_MAX, "keyids per role")(v, loc);
    const keys = ctx.memo<Record<string, KeyJSON>>(KEYS, () => ({}));
    (v as string[]).forEach((k, j) => {
      if (!Object.hasOwn(keys, k)) fail([...loc, j], `keyid ${k} is not in delegations.keys`);
    });
  },
});

// RSTUF's defaults: online key (keyids []), threshold 1, not terminating, 1 day.
const thresholdFitsKeys: Step = (f, loc) => {
  const keyids: string[] = f.keyids ?? [];
  const threshold: number = f.threshold ?? 1;
  if (keyids.length > 0 && threshold > keyids.length)
    fail([...loc, "threshold"], `threshold ${threshold} is larger than the number of keys (${keyids.length})`);
  if (keyids.length === 0 && threshold !== 1)
    fail([...loc, "threshold"], "a role signed by the online key has threshold 1");
};

const NUM_BINS_WORDS = `a power of two between ${MIN_BINS} and ${MAX_BINS}`;

/** The number of bins of a role's own: a power of two in range (never rounded), and only on an online-key role. */
const NumBins = extend(Type.Integer({ minimum: MIN_BINS, maximum: MAX_BINS, description: NUM_BINS_WORDS }), {
  messages: { "*": words(`${NUM_BINS} is ${NUM_BINS_WORDS}`) },
  check: tufCheck((v: number) => {
    bitLengthForBins(v, "");
    return v;
  }, 0),
});

const binsOnOnlineRole: Step = (f, loc) => {
  if (f[NUM_BINS] !== undefined && (f.keyids ?? []).length > 0)
    fail(
      [...loc, NUM_BINS],
      `${NUM_BINS} needs a role signed by the online key (keyids []): the service writes every bin`,
    );
};

/** Across the request's roles: bin names that fit, clash with no role, 16384 nested bins at most. */
const nestedBinsFit: Step = (f, loc) => {
  const roles = f.roles as DelegatedRole[] | undefined;
  if (!Array.isArray(roles)) return;
  const problem = nestedBinsProblem(roles, null);
  if (problem) fail([...loc, "roles", roles.findIndex((r) => r.name === problem.role)], problem.reason);
};

const exactlyOnePathKind: Step = (_f, loc, _ctx, raw) => {
  const hasPaths = raw.paths !== undefined;
  const hasPrefixes = raw.path_hash_prefixes !== undefined && raw.path_hash_prefixes !== null;
  if (hasPaths === hasPrefixes) fail(loc, "set exactly one of paths or path_hash_prefixes");
};

const Role = extend(
  Type.Object(
    {
      name: Name,
      terminating: Type.Optional(Type.Boolean({ default: false })),
      keyids: Type.Optional(Keyids),
      threshold: Type.Optional(Type.Integer({ exclusiveMinimum: 0, default: 1 })),
      paths: Type.Optional(patterns(false)),
      path_hash_prefixes: Type.Optional(Type.Union([patterns(true), Type.Null()])),
      [EXPIRE_POLICY]: Type.Optional(ExpirationDays),
      [NUM_BINS]: Type.Optional(NumBins),
    },
    { additionalProperties: false, description: "empty keyids: signed by the online key" },
  ),
  {
    steps: [
      "name",
      "keyids",
      "threshold",
      thresholdFitsKeys,
      "terminating",
      exactlyOnePathKind,
      "paths",
      "path_hash_prefixes",
      EXPIRE_POLICY,
      NUM_BINS,
      binsOnOnlineRole,
    ],
    check: tufCheck((f: Record<string, unknown>): DelegatedRole => {
      const role: DelegatedRole = {
        name: f.name as string,
        terminating: (f.terminating as boolean | undefined) ?? false,
        keyids: (f.keyids as string[] | undefined) ?? [],
        threshold: (f.threshold as number | undefined) ?? 1,
      };
      if (f.paths !== undefined) role.paths = f.paths as string[];
      else role.path_hash_prefixes = f.path_hash_prefixes as string[];
      role[EXPIRE_POLICY] = f[EXPIRE_POLICY] ?? 1;
      if (f[NUM_BINS] !== undefined) role[NUM_BINS] = f[NUM_BINS];
      assertCanonicalSafe(role, "");
      return role;
    }, 0),
  },
);

const RoleToDelete = extend(
  Type.Object({ name: Name, path_hash_prefixes: Type.Optional(Type.Null()) }, { additionalProperties: false }),
  {
    check: (f: { name: string }): DelegatedRole => ({ name: f.name, keyids: [], threshold: 1, terminating: false }),
  },
);

export function delegations(opts: { namesOnly: boolean }) {
  return extend(
    Type.Object(
      {
        keys: Type.Optional(Keys),
        roles: extend(
          Type.Array(opts.namesOnly ? RoleToDelete : Role, { minItems: 1, maxItems: DELEGATED_ROLES_MAX }),
          {
            messages: {
              type: words("Input should be a non-empty list", "list_type"),
              minItems: words("Input should be a non-empty list", "list_type"),
              maxItems: (v) => words(`at most ${DELEGATED_ROLES_MAX} delegated roles (got ${(v as unknown[]).length})`),
            },
          },
        ),
      },
      { additionalProperties: false },
    ),
    {
      steps: [
        "keys",
        (f, _loc, ctx) => void ctx.memo(KEYS, () => f.keys ?? {}),
        (_f, loc, _ctx, raw) => {
          if (raw.roles === undefined) return; // "Field required", next
          if (opts.namesOnly && raw.keys !== undefined && Object.keys(raw.keys as object).length > 0)
            fail([...loc, "keys"], "delete takes role names only");
        },
        "roles",
        nestedBinsFit,
      ],
    },
  );
}

export function delegationsBody(opts: { namesOnly: boolean }) {
  return Type.Object({ delegations: delegations(opts) }, { additionalProperties: false });
}

export type DelegationsField = Static<ReturnType<typeof delegations>>;

export function toDelegations(d: DelegationsField): DelegationsInput {
  return { keys: (d.keys ?? {}) as Record<string, KeyJSON>, roles: d.roles as unknown as DelegatedRole[] };
}
