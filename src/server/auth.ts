/**
 * Bearer-token authentication for every mutating route (one check, one
 * place). Tokens are stored as sha256 hashes; the admin token comes from
 * TUFBOX_ADMIN_TOKEN or is generated at first start and printed once.
 * Scoped tokens and OAuth2 introspection plug in here later.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Store } from "../store/store.ts";
import type { Logger } from "../log.ts";

export type AuthOutcome = { ok: true; subject: string; scopes: string[] } | { ok: false; reason: string };

/**
 * Set while a generated admin token has not been printed yet: a start that
 * died between generating and printing would otherwise lock the user out
 * (only the hash is stored). Cleared once it is shown.
 */
const UNSHOWN_KEY = "admin_token_unshown";

function newToken(): string {
  return "tufbox_" + randomBytes(24).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export class Auth {
  readonly #store: Store;
  readonly #disabled: boolean;
  readonly #envTokenHash: Buffer | null;

  constructor(store: Store, opts: { adminToken: string | null; disabled: boolean }) {
    this.#store = store;
    this.#disabled = opts.disabled;
    this.#envTokenHash = opts.adminToken ? Buffer.from(hashToken(opts.adminToken), "hex") : null;
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  /**
   * At start-up: warn loudly when auth is off; when no admin token is configured
   * and none is stored, generate one, store its hash and return it (printed once
   * by the caller, never logged).
   */
  async init(log: Logger): Promise<string | null> {
    if (this.#disabled) {
      log.warn(
        "AUTHENTICATION IS DISABLED (--insecure-disable-auth): anyone who can reach this port can change the repository. Development use only.",
      );
      return null;
    }
    if (this.#envTokenHash) return null;
    if ((await this.#store.countTokens()) > 0) return null;
    const token = newToken();
    await this.#store.setSettings({ [UNSHOWN_KEY]: true });
    await this.#store.putToken({
      hash: hashToken(token),
      name: "admin",
      scopes: ["admin"],
      createdAt: new Date().toISOString(),
    });
    return token;
  }

  /** The generated admin token was printed: nothing left to warn about. */
  async markShown(): Promise<void> {
    await this.#store.setSettings({ [UNSHOWN_KEY]: undefined });
  }

  /** True when an admin token was generated at an earlier start but never printed. */
  async neverShown(): Promise<boolean> {
    if (this.#disabled || this.#envTokenHash) return false;
    return (await this.#store.getSetting<boolean>(UNSHOWN_KEY)) === true;
  }

  /**
   * `tufbox admin-token reset`: revoke every stored admin token and store a
   * new one, returned to be printed once. Takes effect on a running server at
   * once (tokens are looked up in the store on every request).
   */
  static async reset(store: Store): Promise<{ token: string; revoked: number }> {
    const revoked = await store.deleteTokens("admin");
    const token = newToken();
    await store.putToken({
      hash: hashToken(token),
      name: "admin",
      scopes: ["admin"],
      createdAt: new Date().toISOString(),
    });
    await store.setSettings({ [UNSHOWN_KEY]: undefined });
    return { token, revoked };
  }

  async check(request: Request): Promise<AuthOutcome> {
    if (this.#disabled) return { ok: true, subject: "anonymous (auth disabled)", scopes: ["admin"] };
    const header = request.headers.get("authorization");
    if (!header) return { ok: false, reason: "missing Authorization: Bearer <token> header" };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return { ok: false, reason: "Authorization header must be 'Bearer <token>'" };
    const hash = hashToken(m[1]!);
    if (this.#envTokenHash && timingSafeEqual(this.#envTokenHash, Buffer.from(hash, "hex")))
      return { ok: true, subject: "admin", scopes: ["admin"] };
    const stored = await this.#store.findToken(hash);
    if (stored) return { ok: true, subject: stored.name, scopes: stored.scopes };
    return { ok: false, reason: "invalid token" };
  }
}
