/**
 * Value parsers for configuration keys (src/config.ts's table): each turns a
 * raw value — from YAML, an environment variable or a flag — into its typed
 * form, or throws Invalid saying what is allowed (the loader adds the key,
 * the value and where it came from).
 */
import { ASYMMETRIC_ALGORITHMS } from "../auth/algorithms.ts";

export interface Listen {
  /** Without brackets for IPv6 (`::1`), as Bun.serve expects. */
  host: string;
  port: number;
}

/** Thrown by parsers; the loader adds key, value and source. */
export class Invalid extends Error {}

export interface Ctx {
  stderrIsTTY: boolean;
}
export type Parser<T> = (raw: unknown, ctx: Ctx) => T;

/** A parser living next to its feature, which throws plain Errors. */
export const external =
  <T>(fn: (raw: unknown) => T): Parser<T> =>
  (raw) => {
    try {
      return fn(raw);
    } catch (e) {
      throw new Invalid(e instanceof Error ? e.message : String(e));
    }
  };

export function text(raw: unknown, what = "a string"): string {
  if (typeof raw !== "string")
    throw new Invalid(`expected ${what}${typeof raw === "number" ? " (quote it in YAML)" : ""}`);
  return raw;
}

export const path: Parser<string> = (raw) => {
  const s = text(raw, "a path").trim();
  if (s === "") throw new Invalid("expected a non-empty path");
  return s;
};

export const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const expected = `expected an integer between ${min} and ${max}`;
    let n: number;
    if (typeof raw === "number") n = raw;
    else if (typeof raw === "string" && /^\s*[+-]?\d+\s*$/.test(raw)) n = Number(raw);
    else throw new Invalid(expected);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid(expected);
    return n;
  };

/** A decimal number (fractions allowed: tests use minutes of grace). */
export const num =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const expected = `expected a number between ${min} and ${max}`;
    let n: number;
    if (typeof raw === "number") n = raw;
    else if (typeof raw === "string" && /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(raw)) n = Number(raw);
    else throw new Invalid(expected);
    if (!Number.isFinite(n) || n < min || n > max) throw new Invalid(expected);
    return n;
  };

export const bool: Parser<boolean> = (raw) => {
  if (typeof raw === "boolean") return raw;
  if (typeof raw === "string") {
    const s = raw.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(s)) return true;
    if (["false", "0", "no", "off"].includes(s)) return false;
  }
  throw new Invalid("expected true or false");
};

export const oneOf =
  <T extends string>(allowed: readonly T[]): Parser<T> =>
  (raw) => {
    const s = typeof raw === "string" ? raw.trim().toLowerCase() : raw;
    if (typeof s === "string" && (allowed as readonly string[]).includes(s)) return s as T;
    throw new Invalid(`expected one of ${allowed.join(", ")}`);
  };

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
export const size =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const expected = `expected a size between ${showSize(min)} and ${showSize(max)}: bytes, or a number with KiB/MiB/GiB (or KB/MB/GB), e.g. 16MiB`;
    const m =
      typeof raw === "number"
        ? ["", String(raw), ""]
        : /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(typeof raw === "string" ? raw : "");
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new Invalid(expected);
    const n = Number(m[1]) * unit;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid(expected);
    return n;
  };

export function showSize(n: number): string {
  for (const [u, f] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (n >= f && n % f === 0) return `${n / f} ${u}`;
  }
  return `${n} bytes`;
}

export const contentHashes: Parser<("sha256" | "sha512")[]> = (raw) => {
  const expected = "expected sha256, or sha256 and sha512 (a list, or comma-separated)";
  const list = typeof raw === "string" ? raw.split(",") : Array.isArray(raw) ? raw : null;
  if (list === null || list.some((x) => typeof x !== "string")) throw new Invalid(expected);
  const names = [...new Set((list as string[]).map((x) => x.trim().toLowerCase()).filter((x) => x !== ""))];
  if (!names.includes("sha256") || names.some((x) => x !== "sha256" && x !== "sha512")) throw new Invalid(expected);
  return names.includes("sha512") ? ["sha256", "sha512"] : ["sha256"];
};

export const s3Prefix: Parser<string> = (raw) => {
  const s = text(raw, "a key prefix").trim();
  if (s.startsWith("/") || s.includes("//") || /[\\\0]/.test(s))
    throw new Invalid("expected a key prefix such as tufbox/ (no leading slash, no empty segments)");
  return s === "" || s.endsWith("/") ? s : `${s}/`;
};

export const nonEmptyText: Parser<string> = (raw) => {
  const s = text(raw).trim();
  if (s === "") throw new Invalid("expected a non-empty string");
  return s;
};

// The WHATWG fetch "bad port" list: browsers, Node's fetch (and so tuf-js and
// python clients behind proxies that follow it) refuse these outright.
export const FETCH_BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

export const listen: Parser<Listen> = (raw) => {
  const s = text(raw, "HOST:PORT").trim();
  const m = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]:(\d{1,5})$/.exec(s) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  if (!m) {
    const hint = s.startsWith(":") ? " (write 0.0.0.0" + s + " to listen on every interface)" : "";
    throw new Invalid(`expected HOST:PORT such as 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080${hint}`);
  }
  const port = Number(m[2]);
  if (port > 65535) throw new Invalid("expected a port between 0 and 65535 in HOST:PORT");
  return { host: m[1]!, port };
};

/** host:port, the host bracketed when it is an IPv6 address. */
export function showListen(l: Listen): string {
  return l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

export function url(raw: unknown, schemes: readonly string[], expected: string): string {
  const s = text(raw, expected).trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Invalid(`expected ${expected}`);
  }
  if (!schemes.includes(u.protocol.slice(0, -1)) || (u.hostname === "" && !u.protocol.includes("unix"))) {
    throw new Invalid(`expected ${expected}`);
  }
  return s;
}

export const database: Parser<string> = (raw) => {
  const expected =
    "expected sqlite:PATH (e.g. sqlite:/var/lib/tufbox/tufbox.db) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB";
  const s = text(raw, "a database URL").trim();
  if (s.startsWith("sqlite:")) {
    // `sqlite://x` is ambiguous (host? relative? absolute with 3 or 4
    // slashes?) between conventions, so refuse it rather than guess.
    if (s.length === "sqlite:".length || s.startsWith("sqlite://")) throw new Invalid(expected);
    return s;
  }
  return url(s, ["postgres", "postgresql"], expected.slice("expected ".length));
};

export const redis: Parser<string> = (raw) =>
  url(
    raw,
    ["redis", "rediss", "redis+tls", "redis+unix", "redis+tls+unix"],
    "redis://[USER:PASSWORD@]HOST[:PORT][/DB] or rediss://…",
  );

export const pem: Parser<string> = (raw) => {
  const s = text(raw, "PEM text").trim();
  if (!/^-----BEGIN [A-Z0-9 ]+-----\r?\n[\s\S]+\n-----END [A-Z0-9 ]+-----$/.test(s)) {
    throw new Invalid(
      "expected PEM text (-----BEGIN … -----END …); to point at a file use TUFBOX_ONLINE_KEY_FILE or online_key_dir",
    );
  }
  return s;
};

export const token: Parser<string> = (raw) => {
  const s = text(raw, "a token").trim();
  if (s.length < 16 || /\s/.test(s)) {
    throw new Invalid("expected at least 16 characters without whitespace (e.g. the output of `openssl rand -hex 32`)");
  }
  return s;
};

/** A list: YAML sequence, or a string separated by commas and/or spaces. */
export const names: Parser<string[]> = (raw) => {
  const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/[\s,]+/) : null;
  if (items === null || items.some((x) => typeof x !== "string"))
    throw new Invalid("expected a list of names (a YAML list, or a string separated by commas or spaces)");
  const out = (items as string[]).map((x) => x.trim()).filter((x) => x !== "");
  if (out.length === 0) throw new Invalid("expected at least one name");
  return out;
};

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host);
}

/** https://, or http:// to a loopback host only: credentials and signing keys must not cross a network in clear. */
export const secureUrl: Parser<string> = (raw) => {
  const expected = "expected an https:// URL (http:// only to 127.0.0.1, ::1 or localhost)";
  const s = url(raw, ["http", "https"], expected.slice("expected ".length));
  const u = new URL(s);
  if (u.protocol === "http:" && !isLoopbackHost(u.hostname)) throw new Invalid(expected);
  return s;
};

export const nonEmpty_: Parser<string> = (raw) => {
  const s = text(raw).trim();
  if (s === "") throw new Invalid("expected a non-empty string");
  return s;
};

export const algorithms: Parser<string[]> = (raw, ctx) => {
  const list = names(raw, ctx);
  const bad = list.find((a) => !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
  if (bad !== undefined)
    throw new Invalid(
      `"${bad}" is not allowed; only asymmetric JWS algorithms are: ${ASYMMETRIC_ALGORITHMS.join(", ")}`,
    );
  return list;
};

/** Glob patterns: a YAML list, or one string with patterns separated by commas outside `{…}`. */
export const globs: Parser<string[]> = (raw) => {
  const list = Array.isArray(raw) ? raw : typeof raw === "string" ? splitGlobs(raw) : null;
  if (list === null || list.some((g) => typeof g !== "string" || g.trim() === ""))
    throw new Invalid("expected glob patterns (a YAML list, or comma-separated), e.g. releases/**,*.tar.gz");
  return list.map((g: string) => g.trim());
};

function splitGlobs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const c of s) {
    if (c === "{") depth++;
    if (c === "}") depth = Math.max(0, depth - 1);
    if (c === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out.filter((g) => g.trim() !== "");
}
