/**
 * tufbox's scopes and who they let in. One home for the implication rules,
 * used by the HTTP guard, token creation and the OAuth2/JWT scope mapping.
 *
 * - `admin` implies every scope (bootstrap, root updates, config,
 *   delegations, bumps, tokens).
 * - A write scope implies `read`: a CI job that adds artifacts must be able to
 *   follow the task it started (GET /api/v1/task), and a signer must see what
 *   is pending (GET /api/v1/metadata/sign). Giving it a write scope without
 *   read would only force every such token to carry both.
 */

export const SCOPES = ["read", "artifacts:write", "metadata:sign", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

/** Whether a principal holding `granted` may use a route that requires `required`. */
export function grants(granted: readonly Scope[], required: Scope): boolean {
  if (granted.includes("admin") || granted.includes(required)) return true;
  return required === "read" && granted.some((s) => s === "artifacts:write" || s === "metadata:sign");
}

/** Default external scope names (OAuth2 `scope` / JWT `scope`, `scp`): `tufbox:<scope>`. */
export function defaultScopeNames(): Record<Scope, string[]> {
  return Object.fromEntries(SCOPES.map((s) => [s, [`tufbox:${s}`]])) as Record<Scope, string[]>;
}

/**
 * tufbox scopes held by an external token, from its scope names through the
 * configured mapping (so an existing realm's names, e.g. Keycloak's
 * `rdfm_admin_rw`, can be used). Unknown names are ignored.
 */
export function mapScopes(external: readonly string[], names: Record<Scope, readonly string[]>): Scope[] {
  const held = new Set(external);
  return SCOPES.filter((s) => names[s].some((n) => held.has(n)));
}

/**
 * Scope names of a token's claims: RFC 7662 / RFC 9068 `scope` is one
 * space-separated string; some servers (Azure AD, Okta) use `scp`, as an
 * array or a string.
 */
export function scopeClaim(claims: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const claim of [claims.scope, claims.scp]) {
    if (typeof claim === "string") out.push(...claim.split(" ").filter((s) => s !== ""));
    else if (Array.isArray(claim)) out.push(...claim.filter((s): s is string => typeof s === "string"));
  }
  return out;
}
