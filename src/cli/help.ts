/**
 * The configuration flags' part of `--help`, generated from the config table
 * (src/config.ts CONFIG_KEYS): a key that gains a flag shows up in the help of
 * every command that reads the configuration, with its environment variable
 * and default, without anyone editing a help text. A flag without a line here
 * fails test/cli/help.test.ts.
 */
import { CONFIG_KEYS, describeConfig, loadConfig } from "../config.ts";

interface FlagDoc {
  /** the value's placeholder; none for boolean flags */
  arg?: string;
  text: string;
  /** when the default is derived from another key, say how */
  default?: string;
}

/** One line per config key that has a flag, keyed by the key's path. */
export const CONFIG_FLAG_DOCS: Readonly<Record<string, FlagDoc>> = {
  data_dir: { arg: "DIR", text: "where tufbox keeps its state (SQLite database, keys, targets)" },
  listen: { arg: "HOST:PORT", text: "address to serve on; IPv6 as [::1]:8080; 0.0.0.0:8080 for other machines" },
  "tls.cert": { arg: "FILE", text: "serve HTTPS with this PEM certificate (chain); needs --tls-key" },
  "tls.key": { arg: "FILE", text: "the PEM private key of --tls-cert" },
  database: {
    arg: "URL",
    text: "sqlite:PATH, or postgres://USER:PASSWORD@HOST:5432/DB for several replicas",
    default: "sqlite:DATA_DIR/tufbox.db",
  },
  redis: { arg: "URL", text: "optional redis://HOST:6379 to wake replicas at once" },
  online_key_dir: { arg: "DIR", text: "where fn:NAME online key URIs point", default: "DATA_DIR/keys" },
  "auth.insecure_disable": { text: "DEVELOPMENT ONLY: no authentication on mutating routes (logged loudly)" },
  "targets.dir": { arg: "DIR", text: "artifact bytes served under /targets/", default: "DATA_DIR/targets" },
  "ingest.drop_dir": {
    arg: "DIR",
    text: "watch DIR for tuf_ready_<id>/ directories and publish their files (no credentials needed)",
  },
  "log.level": { arg: "LEVEL", text: "debug, info, warn or error" },
  "log.format": { arg: "FORMAT", text: "json, text, or auto (text on a terminal, else json)", default: "auto" },
};

const COLUMN = 28;

function line(flag: string, text: string, details: string[]): string {
  const head = `  ${flag}`;
  const first = head.length < COLUMN ? head.padEnd(COLUMN) + text : `${head}\n${" ".repeat(COLUMN)}${text}`;
  return details.length === 0 ? first : `${first}\n${" ".repeat(COLUMN)}(${details.join("; ")})`;
}

function valueAt(tree: Record<string, unknown>, path: string): unknown {
  let v: unknown = tree;
  for (const part of path.split(".")) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

/**
 * The "Configuration flags" section for the commands that read the
 * configuration. `omit`: flags the command's own text already explains (with
 * its own default, e.g. the mirror's data directory); they are named, not repeated.
 */
export function configFlagsHelp(opts: { omit?: readonly string[] } = {}): string {
  const omit = new Set(opts.omit ?? []);
  // Defaults as the loader computes them, with no file, environment or flag.
  const defaults = describeConfig(loadConfig({ flags: {}, env: {}, stderrIsTTY: false })) as Record<string, unknown>;
  const lines = [
    "Configuration flags (each also a TUFBOX_* environment variable and a key of the",
    "--config file; flags win over the environment, the environment over the file;",
    "config/tufbox.example.yaml documents every key, also those without a flag):",
    line("--config FILE", "the YAML configuration file", ["env TUFBOX_CONFIG"]),
  ];
  if (omit.size > 0) lines.push(`  (${[...omit].map((f) => `--${f}`).join(", ")}: see above)`);
  for (const key of CONFIG_KEYS) {
    if (key.flag === undefined || omit.has(key.flag)) continue;
    const doc = CONFIG_FLAG_DOCS[key.path];
    if (doc === undefined)
      throw new Error(`config key ${key.path} (--${key.flag}) has no help line in src/cli/help.ts`);
    const value = valueAt(defaults, key.path);
    const dflt = doc.default ?? (value === null || value === false ? undefined : String(value));
    const details = [...(dflt !== undefined ? [`default ${dflt}`] : []), `env ${key.env.join(" or ")}`];
    lines.push(line(`--${key.flag}${doc.arg ? ` ${doc.arg}` : ""}`, doc.text, details));
  }
  return lines.join("\n");
}
