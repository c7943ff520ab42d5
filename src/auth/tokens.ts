/**
 * tufbox's own API tokens. A token is shown once, when created; the store
 * keeps only its SHA-256 (a token is 256 random bits, so a fast hash is
 * enough: there is nothing to brute-force that a slow hash would protect).
 * Every check reads the store, so a revocation is effective on the very next
 * request on every replica, SQLite or PostgreSQL, with no cache to expire.
 *
 * Tokens start with `tufbox_`, so they are recognisable in a leaked file
 * (secret scanners) and are never sent to an external authorization server.
 */
import { createHash, randomBytes } from "node:crypto";
import type { AuditActor, Store, TokenRecord } from "../store/store.ts";
import type { Principal } from "./principal.ts";
import type { Scope } from "./scopes.ts";

export const TOKEN_PREFIX = "tufbox_";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** A token as listed: everything but its hash. */
export interface TokenInfo {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  expires_at: string | null;
  created_by: string | null;
}

export function tokenInfo(t: TokenRecord): TokenInfo {
  return {
    id: t.id,
    name: t.name,
    scopes: t.scopes as Scope[],
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    created_by: t.createdBy,
  };
}

/**
 * Set while a generated admin token has not been printed yet: a start that
 * died between generating and printing would otherwise lock the user out
 * (only the hash is stored). Cleared once it is shown, or by a reset.
 */
const UNSHOWN_KEY = "admin_token_unshown";

function adminRecord(token: string, now: Date): TokenRecord {
  return {
    id: randomBytes(8).toString("hex"),
    hash: hashToken(token),
    name: "admin",
    scopes: ["admin"],
    createdAt: now.toISOString(),
    expiresAt: null,
    createdBy: null,
  };
}

export type TokenCheck = { ok: true; principal: Principal } | { ok: false; reason: string };

export class Tokens {
  readonly #store: Store;
  readonly #now: () => Date;

  constructor(store: Store, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  /** Create a token; returns the secret (shown once) and what is stored, audited in the same transaction. */
  async create(
    input: { name: string; scopes: Scope[]; expiresInDays?: number },
    actor: AuditActor,
  ): Promise<{ token: string; info: TokenInfo }> {
    const token = generateToken();
    const now = this.#now();
    const record: TokenRecord = {
      id: randomBytes(8).toString("hex"),
      hash: hashToken(token),
      name: input.name,
      scopes: [...new Set(input.scopes)],
      createdAt: now.toISOString(),
      expiresAt:
        input.expiresInDays === undefined
          ? null
          : new Date(now.getTime() + input.expiresInDays * 86_400_000).toISOString(),
      createdBy: actor.principal,
    };
    await this.#store.putToken(record, {
      ...actor,
      taskId: null,
      action: "token_create",
      summary: { token_id: record.id, name: record.name, scopes: record.scopes, expires_at: record.expiresAt },
    });
    return { token, info: tokenInfo(record) };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.#store.listTokens()).map(tokenInfo);
  }

  /** false when there is no such token */
  async revoke(id: string, actor: AuditActor): Promise<boolean> {
    return this.#store.revokeToken(id, {
      ...actor,
      taskId: null,
      action: "token_revoke",
      summary: { token_id: id },
    });
  }

  async check(token: string): Promise<TokenCheck> {
    const record = await this.#store.findToken(hashToken(token));
    if (!record) return { ok: false, reason: "invalid token" };
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= this.#now().getTime())
      return { ok: false, reason: `token expired at ${record.expiresAt}` };
    return {
      ok: true,
      principal: { kind: "token", id: `token:${record.id}`, name: record.name, scopes: record.scopes as Scope[] },
    };
  }

  /**
   * First start without TUFBOX_ADMIN_TOKEN: generate an admin token, store its
   * hash, return it for the caller to print once (never logged). Nothing when
   * any token exists.
   */
  async generateAdminIfNone(): Promise<string | null> {
    if ((await this.#store.countTokens()) > 0) return null;
    const token = generateToken();
    await this.#store.setSettings({ [UNSHOWN_KEY]: true });
    await this.#store.putToken(adminRecord(token, this.#now()), {
      principal: "internal",
      principalName: "first start",
      source: null,
      route: null,
      taskId: null,
      action: "token_create",
      summary: { name: "admin", scopes: ["admin"], generated: true },
    });
    return token;
  }

  /** The generated admin token was printed: nothing left to warn about. */
  async markShown(): Promise<void> {
    await this.#store.setSettings({ [UNSHOWN_KEY]: undefined });
  }

  /** True when an admin token was generated at an earlier start but never printed. */
  async neverShown(): Promise<boolean> {
    return (await this.#store.getSetting<boolean>(UNSHOWN_KEY)) === true;
  }

  /**
   * `tufbox admin-token reset`: revoke every stored token named "admin" and
   * store a new admin token, returned to be printed once; audited as the
   * command's. A running server sees it on its next request (every check
   * reads the store). Scoped tokens with other names are left alone.
   */
  async resetAdmin(): Promise<{ token: string; revoked: number }> {
    const revoked = await this.#store.deleteTokens("admin");
    const token = generateToken();
    const record = adminRecord(token, this.#now());
    await this.#store.putToken(record, {
      principal: "internal",
      principalName: "tufbox admin-token reset",
      source: null,
      route: null,
      taskId: null,
      action: "token_create",
      summary: { token_id: record.id, name: "admin", scopes: ["admin"], reset: true, revoked },
    });
    await this.#store.setSettings({ [UNSHOWN_KEY]: undefined });
    return { token, revoked };
  }
}
