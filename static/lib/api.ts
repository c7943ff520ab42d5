/**
 * Talking to tufbox: same origin only (the page's CSP allows nothing else),
 * the token from sessionStorage (gone when the tab closes), the RSTUF
 * envelope unwrapped, errors turned into readable messages.
 */
const TOKEN_KEY = "tufbox.token";

export interface Whoami {
  subject: string;
  scopes: string[];
  auth_disabled: boolean;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function describe(status: number, body: any): string {
  const d = body?.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((i: any) => `${(i.loc ?? []).join(".")}: ${i.msg}`).join("; ");
  if (d && typeof d === "object") return d.error ?? d.message ?? `HTTP ${status}`;
  return `HTTP ${status}`;
}

export async function api<T = any>(path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  const t = init.token ?? token.get();
  const headers: Record<string, string> = {};
  if (t) headers.authorization = `Bearer ${t}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: "omit",
    cache: "no-store",
  });
  let body: any = null;
  try {
    body = await res.json();
  } catch {}
  if (!res.ok) throw new ApiError(res.status, describe(res.status, body));
  return { data: (body?.data ?? null) as T, message: (body?.message ?? "") as string };
}

/** admin includes every scope; any token can read */
export function can(who: Whoami | null, scope: "read" | "artifacts:write" | "metadata:sign" | "admin"): boolean {
  if (!who) return false;
  if (scope === "read") return who.scopes.length > 0;
  return who.scopes.includes("admin") || who.scopes.includes(scope);
}
