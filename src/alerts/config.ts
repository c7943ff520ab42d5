/**
 * Parsers for the `alerts.*` configuration keys (registered in src/config.ts).
 * They throw plain Errors whose message says what is allowed; the config
 * loader adds the key, the value and where it came from.
 */
import { readFileSync } from "node:fs";
import type { WebhookConfig } from "./webhooks.ts";
import type { OfflineExpiryDays } from "./sources.ts";

export const DEFAULT_OFFLINE_EXPIRY_DAYS: OfflineExpiryDays = { root: 30, default: 14 };

const DAYS_EXPECTED =
  "expected a mapping of role name to days (1-3650), e.g. {root: 30, default: 14, my-role: 21}, or as text root=30,default=14";

/** Role name → days; what is given is merged over the defaults (root 30, every other offline role 14). */
export function parseOfflineExpiryDays(raw: unknown): OfflineExpiryDays {
  let entries: [string, unknown][];
  if (typeof raw === "string") {
    entries = raw
      .split(",")
      .filter((p) => p.trim() !== "")
      .map((p) => {
        const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(p);
        if (!m) throw new Error(DAYS_EXPECTED);
        return [m[1]!, m[2]!];
      });
  } else if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    entries = Object.entries(raw);
  } else throw new Error(DAYS_EXPECTED);
  const out: OfflineExpiryDays = { ...DEFAULT_OFFLINE_EXPIRY_DAYS };
  for (const [role, v] of entries) {
    const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 3650)
      throw new Error(`${DAYS_EXPECTED}; ${JSON.stringify(role)} has ${JSON.stringify(v)}`);
    out[role] = n;
  }
  return out;
}

const WEBHOOKS_EXPECTED =
  "expected a list of webhooks, each a URL or {url, secret} / {url, secret_file} (http or https), or as an environment variable a JSON array of them";

function webhookUrl(raw: unknown): string {
  if (typeof raw !== "string") throw new Error(`${WEBHOOKS_EXPECTED}; url must be a string`);
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Error(`${WEBHOOKS_EXPECTED}; url is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new Error(`${WEBHOOKS_EXPECTED}; url must start with http:// or https://`);
  return u.href;
}

export function parseWebhooks(raw: unknown): WebhookConfig[] {
  let list = raw;
  if (typeof raw === "string") {
    const s = raw.trim();
    if (s.startsWith("[")) {
      try {
        list = JSON.parse(s);
      } catch {
        throw new Error(`${WEBHOOKS_EXPECTED}; the JSON does not parse`);
      }
    } else list = [s];
  }
  if (!Array.isArray(list)) throw new Error(WEBHOOKS_EXPECTED);
  return list.map((item, i): WebhookConfig => {
    if (typeof item === "string") return { url: webhookUrl(item), secret: null };
    if (typeof item !== "object" || item === null || Array.isArray(item))
      throw new Error(`${WEBHOOKS_EXPECTED}; entry ${i} is neither`);
    const { url, secret, secret_file: secretFile, ...rest } = item as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined)
      throw new Error(`unknown field ${JSON.stringify(extra)} in webhook ${i}; allowed: url, secret, secret_file`);
    if (secret != null && secretFile != null) throw new Error(`webhook ${i}: set secret or secret_file, not both`);
    let key: string | null = null;
    if (secret != null) {
      if (typeof secret !== "string" || secret.trim() === "")
        throw new Error(`webhook ${i}: secret must be a non-empty string`);
      key = secret;
    } else if (secretFile != null) {
      if (typeof secretFile !== "string") throw new Error(`webhook ${i}: secret_file must be a path`);
      try {
        key = readFileSync(secretFile, "utf8").trim();
      } catch (err) {
        throw new Error(
          `webhook ${i}: cannot read secret_file ${secretFile} (${(err as { code?: string }).code ?? "error"})`,
        );
      }
      if (key === "") throw new Error(`webhook ${i}: secret_file ${secretFile} is empty`);
    }
    return { url: webhookUrl(url), secret: key };
  });
}
