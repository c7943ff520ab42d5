/**
 * Structured logging: JSON lines (machines, containers) or one-line text
 * (terminals), always to stderr so stdout stays free for command output.
 *
 * Non-negotiable: the online key never appears in logs. Call sites cannot be
 * trusted to remember that, so redaction happens here, on every record, and
 * errs on the side of hiding too much:
 * - a field whose *name* says it holds a secret (key, private…, pem, token,
 *   secret, password, passphrase, authorization, cookie, credentials) is
 *   replaced by "<redacted>", at any depth;
 * - any string containing a PEM private key header is cut from that header
 *   to its END line (or to the end of the string, if truncated) — in
 *   messages, nested values, Error messages, stacks and causes;
 * - bearer tokens and passwords inside URLs are masked;
 * - bytes and key objects are never dumped.
 * `redact()` is exported so the HTTP layer can apply the same rules to
 * anything it echoes back.
 */
import { KeyObject } from "node:crypto";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "text";
export type LogFields = Record<string, unknown>;

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every record (e.g. `{ component: "publisher" }`). */
  child(fields: LogFields): Logger;
  /** Lets callers skip building expensive debug fields. */
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Receives one finished line, without the trailing newline. Default: stderr. */
  write?: (line: string) => void;
  /** Fields added to every record. */
  fields?: LogFields;
  /** Clock, for tests. */
  now?: () => Date;
}

export const REDACTED = "<redacted>";
export const REDACTED_PRIVATE_KEY = "<redacted private key>";

// Words that, ending a field name, mean "this holds a secret".
// Word-based rather than substring-based on purpose: TUF logs are full of
// `keyid`, `keyids`, `keytype` which are public and essential for debugging
// ("missing signatures from keyids …"), while `key`, `online_key`, `apiKey`,
// `keyPem` are exactly what must never be written.
const SECRET_WORDS = new Set([
  "key",
  "keys",
  "pem",
  "token",
  "tokens",
  "secret",
  "secrets",
  "password",
  "passwd",
  "passphrase",
  "authorization",
  "cookie",
  "credential",
  "credentials",
]);

/** Split `onlineKeyPem`, `online_key`, `x-api-key` into lower-case words. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** True when a field called `name` must never have its value logged. */
export function isSecretFieldName(name: string): boolean {
  const w = words(name);
  if (w.length === 0) return false;
  if (w.some((x) => x.startsWith("private"))) return true;
  // Ending with a secret word, also when written as one word (`apikey`,
  // `accesstoken`); `keyid` and `key_id` end with "id" and stay visible.
  const joined = w.join("");
  for (const s of SECRET_WORDS) if (joined.endsWith(s)) return true;
  return false;
}

// A private key block, from its header to its footer — or to the end of the
// string when the footer is missing (truncated key in an error message is
// still key material). Matches PKCS#8, "RSA", "EC", "ENCRYPTED", "OPENSSH".
const PEM_PRIVATE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*$)/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
// scheme://user:password@host → scheme://user:<redacted>@host
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/?#\s]+)@/gi;

/** Mask key material and credentials inside free text. */
export function redactString(s: string): string {
  if (s.includes("-----BEGIN")) s = s.replace(PEM_PRIVATE, REDACTED_PRIVATE_KEY);
  if (/bearer|basic/i.test(s)) s = s.replace(BEARER, `$1 ${REDACTED}`);
  if (s.includes("@")) s = s.replace(URL_PASSWORD, `$1:${REDACTED}@`);
  return s;
}

const MAX_DEPTH = 8;

/**
 * A JSON-safe copy of `value` with every secret masked. Never throws (a
 * logger that throws turns a log line into an outage) and never mutates.
 */
export function redact(value: unknown): unknown {
  return redactValue(value, 0, new WeakSet());
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  switch (typeof value) {
    case "string":
      return redactString(value);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
      return undefined;
    case "function":
      return `<function ${value.name || "anonymous"}>`;
    case "symbol":
      return value.toString();
  }
  if (value === null) return null;
  const obj = value as object;
  if (depth >= MAX_DEPTH) return "<too deep>";
  if (seen.has(obj)) return "<circular>";
  seen.add(obj);
  try {
    if (obj instanceof Error) return redactError(obj, depth, seen);
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
    // Raw bytes may be a private key seed; their length is all a log needs.
    if (obj instanceof Uint8Array || obj instanceof ArrayBuffer) return `<${obj.byteLength} bytes>`;
    if (ArrayBuffer.isView(obj)) return `<${obj.byteLength} bytes>`;
    if (obj instanceof KeyObject) return `<${obj.type} key object>`;
    if (typeof CryptoKey !== "undefined" && obj instanceof CryptoKey) return `<${obj.type} key object>`;
    if (obj instanceof URL) return redactString(obj.href);
    if (Array.isArray(obj)) return obj.map((v) => redactValue(v, depth + 1, seen));
    if (obj instanceof Map) {
      return redactEntries(
        [...obj.entries()].map(([k, v]) => [String(k), v]),
        depth,
        seen,
      );
    }
    if (obj instanceof Set) return [...obj].map((v) => redactValue(v, depth + 1, seen));
    return redactEntries(Object.entries(obj), depth, seen);
  } catch {
    return "<unloggable value>";
  } finally {
    seen.delete(obj); // only ancestors count as circular; siblings may share objects
  }
}

function redactEntries(entries: [string, unknown][], depth: number, seen: WeakSet<object>): LogFields {
  const out: LogFields = {};
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    out[k] = isSecretFieldName(k) ? REDACTED : redactValue(v, depth + 1, seen);
  }
  return out;
}

function redactError(err: Error, depth: number, seen: WeakSet<object>): LogFields {
  const out: LogFields = { name: err.name, message: redactString(String(err.message)) };
  // Own enumerable props carry codes and context (e.g. `code`, `field`); they
  // go through the same name rules as any object.
  Object.assign(out, redactEntries(Object.entries(err), depth, seen));
  if (err.stack) out.stack = redactString(err.stack);
  if (err.cause !== undefined) out.cause = redactValue(err.cause, depth + 1, seen);
  // AggregateError keeps its inner errors in a non-enumerable property.
  if (err instanceof AggregateError) out.errors = redactValue(err.errors, depth + 1, seen);
  return out;
}

/** Create the process logger. Create it once in main and pass it down. */
export function createLogger(opts: LoggerOptions): Logger {
  const write = opts.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const now = opts.now ?? (() => new Date());
  const format = opts.format === "text" ? formatText : formatJson;
  const min = SEVERITY[opts.level];

  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (SEVERITY[level] < min) return;
      try {
        // Redact base + call fields together so a secret in either is caught,
        // and call-site fields win over base fields of the same name.
        const merged = redactValue({ ...base, ...fields }, 0, new WeakSet()) as LogFields;
        write(format(now(), level, redactString(String(msg)), merged));
      } catch {
        // Logging must never take the service down.
      }
    };
    return {
      level: opts.level,
      debug: (msg, fields) => emit("debug", msg, fields),
      info: (msg, fields) => emit("info", msg, fields),
      warn: (msg, fields) => emit("warn", msg, fields),
      error: (msg, fields) => emit("error", msg, fields),
      child: (fields) => make({ ...base, ...fields }),
      isEnabled: (level) => SEVERITY[level] >= min,
    };
  };
  return make(opts.fields ?? {});
}

/** A logger that drops everything (tests, library callers). */
export function silentLogger(): Logger {
  return createLogger({ level: "error", format: "json", write: () => {} });
}

function formatJson(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  // time/level/msg first and not overridable, so log shippers can rely on them.
  const { time: _t, level: _l, msg: _m, ...rest } = fields;
  return JSON.stringify({ time: time.toISOString(), level, msg, ...rest });
}

function formatText(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  let line = `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
  const details: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    line += ` ${k}=${textValue(v)}`;
    if (isErrorRecord(v)) errorDetails(v, "", details);
  }
  // Stacks and causes on their own indented lines: readable in a terminal,
  // and a text log is for humans anyway (JSON keeps everything on one line).
  for (const d of details) line += `\n    ${d.split("\n").join("\n    ")}`;
  return line;
}

function errorDetails(err: Record<string, unknown>, label: string, out: string[]): void {
  const head = `${label}${String(err.name)}: ${String(err.message)}`;
  const stack = typeof err.stack === "string" ? err.stack : "";
  // A stack starts with "Name: message"; print that line once.
  out.push(
    label === ""
      ? stack || head
      : stack.startsWith(`${String(err.name)}: `)
        ? label + stack
        : `${head}\n${stack}`.trimEnd(),
  );
  if (isErrorRecord(err.cause)) errorDetails(err.cause, "caused by: ", out);
  if (Array.isArray(err.errors)) {
    err.errors.forEach((e, i) => {
      if (isErrorRecord(e)) errorDetails(e, `errors[${i}]: `, out);
    });
  }
}

function isErrorRecord(v: unknown): v is Record<string, unknown> {
  return isRecord(v) && typeof v.name === "string" && typeof v.message === "string";
}

function textValue(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (isErrorRecord(v)) return JSON.stringify(`${v.name}: ${v.message}`);
  return JSON.stringify(v) ?? String(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
