/**
 * Start-up is all or nothing (issue 10): everything that can be wrong with
 * the machine — a path of the wrong kind, a TLS certificate that does not
 * match its key, a port already taken — is found before anything is created,
 * generated or bootstrapped, and reported as one line naming the option, plus
 * a hint. main exits non-zero on it, so a supervisor restarts or alerts
 * instead of watching a process that is alive but not listening.
 *
 * Also here: the data directory's permissions (0700, database files 0600)
 * and the start-up warnings that depend on stored settings.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { type Stats, chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import type { RepositorySettings } from "./repository/settings.ts";
import type { DelegatedRole } from "./tuf/metadata.ts";
import { effectiveResignWindowMs } from "./scheduler.ts";

/** A fatal start-up problem: one line saying what, and a hint saying how to fix it. */
export class StartupError extends Error {
  override readonly name = "StartupError";
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.hint = hint;
  }
}

/** `data_dir (flag --data-dir)`: the key and where its value came from, as the user wrote it. */
function option(config: Config, key: string): string {
  const source = config.meta.sources[key];
  if (!source || source === "default") return key;
  return `${key} (${source.replace(/^flag /, "").replace(/^env /, "")})`;
}

function kindOf(path: string): "missing" | "directory" | "file" | "other" {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return "missing";
  }
  return st.isDirectory() ? "directory" : st.isFile() ? "file" : "other";
}

function describeKind(kind: string): string {
  return kind === "file" ? "a file" : kind === "directory" ? "a directory" : "not a regular file or directory";
}

/** The SQLite file a `sqlite:PATH` database URL names, or null for PostgreSQL / in-memory. */
export function sqlitePath(database: string): string | null {
  const m = /^sqlite:(?:\/\/)?(.*)$/i.exec(database);
  if (!m || m[1] === "" || m[1] === ":memory:") return null;
  return m[1]!;
}

/**
 * Every path option must be of the right kind before anything is created:
 * `--data-dir` pointing at a file used to fail deep inside mkdir (EEXIST).
 */
export function checkStartupPaths(config: Config): void {
  const dirs: [string, string][] = [
    ["data_dir", config.data_dir],
    ["online_key_dir", config.online_key_dir],
    ["targets.dir", config.targets.dir],
  ];
  for (const [key, path] of dirs) {
    const kind = kindOf(path);
    if (kind !== "missing" && kind !== "directory") {
      throw new StartupError(
        `${option(config, key)} is ${path}, which is ${describeKind(kind)}, not a directory`,
        `point ${key} at a directory, or at a path that does not exist yet (tufbox creates it)`,
      );
    }
  }
  const db = sqlitePath(config.database);
  if (db !== null) {
    const kind = kindOf(db);
    if (kind !== "missing" && kind !== "file")
      throw new StartupError(
        `${option(config, "database")} names ${db}, which is ${describeKind(kind)}, not a database file`,
        "point database at a SQLite file (sqlite:PATH), or at a path that does not exist yet",
      );
  }
  checkTls(config);
}

/** The certificate and key must be readable PEM files that belong together. */
function checkTls(config: Config): void {
  const { cert, key } = config.tls;
  if (cert === null || key === null) return;
  const read = (k: "tls.cert" | "tls.key", path: string): string => {
    if (path.includes("-----BEGIN ")) return path;
    const kind = kindOf(path);
    if (kind === "missing")
      throw new StartupError(`${option(config, k)}: ${path} does not exist`, `point ${k} at a PEM file`);
    if (kind !== "file")
      throw new StartupError(
        `${option(config, k)} is ${path}, which is ${describeKind(kind)}, not a PEM file`,
        `point ${k} at a PEM file`,
      );
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      throw new StartupError(
        `${option(config, k)}: cannot read ${path} (${(err as { code?: string }).code ?? "error"})`,
        `make ${path} readable by the user tufbox runs as`,
      );
    }
  };
  const certText = read("tls.cert", cert);
  const keyText = read("tls.key", key);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certText);
  } catch {
    throw new StartupError(
      `${option(config, "tls.cert")} does not hold a PEM certificate`,
      "tls.cert is the certificate (-----BEGIN CERTIFICATE-----), tls.key its private key",
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyText);
  } catch {
    // The key's own text never goes into a message.
    throw new StartupError(
      `${option(config, "tls.key")} does not hold an unencrypted PEM private key`,
      "tls.key is the certificate's private key (-----BEGIN PRIVATE KEY-----), without a passphrase",
    );
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new StartupError(
      `${option(config, "tls.key")} does not match the certificate in ${option(config, "tls.cert")}`,
      "give the private key the certificate was issued for",
    );
}

/** A listen error as the user can act on it. */
export function listenError(err: unknown, config: Config): Error {
  const code = (err as { code?: unknown }).code;
  const { host, port } = config.listen;
  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  if (code === "EADDRINUSE")
    return new StartupError(
      `address ${address} is already in use`,
      `choose another with --listen (or listen / TUFBOX_LISTEN), or stop the program using it`,
    );
  if (code === "EACCES")
    return new StartupError(
      `not allowed to listen on ${address}`,
      "ports below 1024 need privileges: use a higher port with --listen, or grant CAP_NET_BIND_SERVICE",
    );
  if (code === "EADDRNOTAVAIL")
    return new StartupError(
      `${address} is not an address of this machine`,
      "use one of this machine's addresses with --listen (0.0.0.0 for all)",
    );
  if (typeof code === "string" && code.startsWith("ERR_OSSL"))
    return new StartupError(
      `TLS: ${(err as Error).message}`,
      "check tls.cert and tls.key: the certificate and the private key it was issued for",
    );
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The data directory is created 0700 and the SQLite database (and so its
 * WAL/SHM files, which SQLite creates with the database's mode) 0600: the
 * database holds token hashes, signing sessions and every document. An
 * existing database file wider than 0600 is narrowed.
 */
export function prepareDataDir(config: Config, log?: Logger): void {
  if (!existsSync(config.data_dir)) mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  else {
    const mode = statSync(config.data_dir).mode & 0o777;
    if ((mode & 0o077) !== 0)
      log?.warn(`data directory ${config.data_dir} is accessible to other users (mode ${mode.toString(8)}); use 0700`);
  }
  const db = sqlitePath(config.database);
  if (db === null) return;
  const dir = dirname(db);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(db)) closeSync(openSync(db, "a", 0o600));
  for (const file of [db, `${db}-wal`, `${db}-shm`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // Not there (WAL/SHM before first open), or not ours to change.
    }
  }
}

/**
 * A re-sign window at least as long as a role's expiry makes the scheduler
 * re-sign that role on every period: say so at start-up.
 */
export function resignWindowWarnings(
  config: Config,
  settings: RepositorySettings | undefined,
  delegated: DelegatedRole[] = [],
): string[] {
  if (!settings) return [];
  const windowMs = effectiveResignWindowMs({
    periodSeconds: config.scheduler.period_seconds,
    resignWindowHours: config.scheduler.resign_window_hours,
    taskRetentionHours: config.tasks.retention_hours,
  });
  const roles: [string, number][] = (["targets", "snapshot", "timestamp", "bins"] as const)
    .filter((r) => r !== "bins" || settings.bins !== null)
    .map((r) => [r, settings.expiration[r]]);
  for (const r of delegated) {
    const days = r["x-rstuf-expire-policy"];
    if (typeof days === "number") roles.push([r.name, days]);
  }
  const hours = windowMs / 3_600_000;
  return roles
    .filter(([, days]) => windowMs >= days * 86_400_000)
    .map(
      ([role, days]) =>
        `the re-sign window (${hours} h, scheduler.resign_window_hours) is not shorter than ${role}'s expiry (${days} day${days === 1 ? "" : "s"}): ${role} is re-signed on every scheduler period; lower scheduler.resign_window_hours or raise the expiration`,
    );
}
