/**
 * `tufbox mirror`: follow an upstream repository and serve verified copies
 * (src/mirror/mirror.ts); or, with --from, import a bundle made by `tufbox
 * export` into the mirror's data directory (src/mirror/import.ts). Also the
 * mirror part of `tufbox status --server MIRROR` (GET /api/v1/mirror).
 */
import { readFileSync } from "node:fs";
import { loadConfig, type Config } from "../config.ts";
import { VERSION } from "../version.ts";
import { Mirror } from "../mirror/mirror.ts";
import { serveMirror } from "../mirror/http.ts";
import { BundleRefused, importBundle, type ImportSummary } from "../mirror/import.ts";
import { MirrorSetupError, readAnchor, type Anchor } from "../mirror/state.ts";
import type { MirrorStatus } from "../mirror/mirror.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFlagsHelp } from "./help.ts";
import { flagBool, flagString, flagStrings, parseCount } from "./flags.ts";
import { ServerError, serverCommand, type ApiClient } from "./client.ts";
import { serverTerminal, Output, type ServerTerminal } from "./output.ts";
import { progressFor } from "./progress.ts";
import { formatBytes } from "./format.ts";
import { createLogger } from "../log.ts";
import { timeLeft } from "./format.ts";

export const MIRROR_HELP = `tufbox mirror --upstream URL --root TRUSTED_ROOT.json [--data-dir DIR] [--listen HOST:PORT]
              [--prefetch GLOB]... [--interval SECONDS]
tufbox mirror --from BUNDLE --root TRUSTED_ROOT.json [--data-dir DIR] [--valid-for DAYS] [--json]
tufbox mirror --root TRUSTED_ROOT.json [--data-dir DIR] [--listen HOST:PORT]

Follows the TUF repository at URL like a client (root chain with both
thresholds, timestamp, snapshot, every targets role and hash bin: signatures,
versions, rollback, expiry, lengths and hashes), starting from the root you
trust, and serves the verified copies with the same layout (/metadata/,
/targets/), so devices only change their base URL and keep verifying with
their own root. Syncs every --interval seconds (default 60) and at once when a
tufbox upstream announces a new version. If the upstream is unreachable or
serves anything that fails verification, the mirror keeps serving its last
verified state and says so (logs, /readyz stale_since, /metrics,
tufbox status --server THIS_MIRROR).

  --upstream URL      the repository's base URL (a tufbox, another mirror, or any
                      repository serving URL/metadata/ and URL/targets/)
  --root FILE         the root metadata the mirror trusts, as your devices do
                      (e.g. the repository's 1.root.json). Root versions older
                      than this one are not served.
  --prefetch GLOB     download, verify and keep the target files matching GLOB
                      ahead of requests (repeatable; ** crosses directories, so
                      --prefetch '**' mirrors every file). Default: none; other
                      target files are fetched and verified on first request,
                      then kept.
  --interval SECONDS  seconds between syncs (default 60)
  --from BUNDLE       import a bundle from tufbox export (a directory or .tar)
                      with the same verification, then exit; a mirror serving
                      the same --data-dir picks it up by itself
  --valid-for DAYS    with --from: warn about metadata that expires sooner
  --json              with --from: one JSON document on stdout
  --data-dir DIR      where verified documents (mirror.db) and target files
                      live (default ./tufbox-mirror)
  --listen HOST:PORT  default 127.0.0.1:8080

Without --upstream or --from, serves what the data directory holds (an
air-gapped mirror updated with --from). Config file keys mirror.upstream,
mirror.root, mirror.prefetch, mirror.interval_seconds; environment
TUFBOX_MIRROR_UPSTREAM, TUFBOX_MIRROR_ROOT, TUFBOX_MIRROR_PREFETCH
(comma-separated), TUFBOX_MIRROR_INTERVAL_SECONDS. Flags win.

${configFlagsHelp({ omit: ["data-dir", "listen"] })}`;

export const MIRROR_FLAGS = {
  upstream: { type: "string" },
  root: { type: "string" },
  prefetch: { type: "string", multiple: true },
  interval: { type: "string" },
  from: { type: "string" },
  "valid-for": { type: "string" },
  json: { type: "boolean" },
} as const;

/** The data directory: --data-dir / data_dir when given, else ./tufbox-mirror (not the server's ./tufbox-data). */
export function mirrorDataDir(config: Config): string {
  return config.meta.sources.data_dir === "default" ? "./tufbox-mirror" : config.data_dir;
}

function targetsDirOf(config: Config): string | undefined {
  return config.meta.sources["targets.dir"] === "default" ? undefined : config.targets.dir;
}

export function loadAnchor(path: string): Anchor {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new UsageError(
      `cannot read the trusted root ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      "give the root metadata file your devices trust, e.g. --root 1.root.json",
    );
  }
  try {
    return readAnchor(bytes, path);
  } catch (err) {
    if (err instanceof MirrorSetupError) throw new UsageError(err.message, err.hint);
    throw err;
  }
}

function upstreamUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`--upstream ${JSON.stringify(text)} is not a URL`, "e.g. --upstream https://tuf.example.com");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new UsageError(
      `--upstream ${text}: only http:// and https:// are supported`,
      "e.g. --upstream https://tuf.example.com",
    );
  // The base URL; a trailing /metadata (what clients are given) is the same repository.
  return u.href.replace(/\/+$/, "").replace(/\/metadata$/, "");
}

export async function mirrorCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "mirror",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("mirror", argv, MIRROR_FLAGS);
      json = flagBool(args.own, "json");
      if (args.own.help) return term.out(MIRROR_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox mirror --help'");
      const config = loadConfig({ flags: args.config });
      const rootPath = flagString(args.own, "root") ?? config.mirror.root;
      if (!rootPath)
        throw new UsageError(
          "--root is required: the mirror verifies everything from a root you trust",
          "e.g. tufbox mirror --upstream https://tuf.example.com --root 1.root.json",
        );
      const anchor = loadAnchor(rootPath);
      const dataDir = mirrorDataDir(config);
      const from = flagString(args.own, "from");
      const upstreamText = flagString(args.own, "upstream") ?? config.mirror.upstream ?? undefined;
      if (from !== undefined) {
        if (flagString(args.own, "upstream") !== undefined)
          throw new UsageError(
            "--from and --upstream do not go together",
            "import the bundle first, then run the mirror",
          );
        return importCommand(term, json, {
          from,
          anchor,
          dataDir,
          targetsDir: targetsDirOf(config),
          validFor: flagString(args.own, "valid-for"),
        });
      }
      if (json)
        throw new UsageError("--json goes with --from", "a running mirror reports on /api/v1/mirror and /metrics");
      const prefetch = flagStrings(args.own, "prefetch");
      const intervalText = flagString(args.own, "interval");
      const interval =
        intervalText !== undefined
          ? parseCount(intervalText, "--interval", 1, "give whole seconds, e.g. --interval 60")
          : config.mirror.interval_seconds;
      const log = createLogger({ level: config.log.level, format: config.log.format });
      for (const w of config.meta.warnings) log.warn(w);
      // A bar on a terminal, a plain line every few seconds otherwise (first sync and prefetch only).
      const progress = progressFor(term, { plainEveryMs: 5000 });
      const mirror = await Mirror.open({
        dataDir,
        targetsDir: targetsDirOf(config),
        anchor,
        upstream: upstreamText ? upstreamUrl(upstreamText) : undefined,
        prefetch: prefetch.length > 0 ? prefetch : config.mirror.prefetch,
        intervalSeconds: interval,
        log: log.child({ component: "mirror" }),
        progress: {
          sync: (p) => progress.update(`first sync: ${p.phase}`, p.done, p.total || undefined, p.bytes),
          prefetch: (p) => progress.update("prefetch targets", p.targets, p.total, p.bytes),
          done: () => progress.finish(),
        },
      }).catch((err: unknown) => {
        if (err instanceof MirrorSetupError) throw new UsageError(err.message, err.hint);
        throw err;
      });
      const server = serveMirror(mirror, {
        hostname: config.listen.host,
        port: config.listen.port,
        tls: config.tls.cert && config.tls.key ? { cert: config.tls.cert, key: config.tls.key } : undefined,
        log,
      });
      mirror.start();
      // Always on stdout: scripts and supervisors wait for this line.
      console.log(
        `tufbox ${VERSION} mirror listening on ${server.url} (metadata: ${server.url}/metadata/, upstream: ${upstreamText ?? `none, serving ${dataDir}`})`,
      );
      if (!mirror.ready && !upstreamText)
        log.warn(`nothing to serve yet: import a bundle with tufbox mirror --from BUNDLE --data-dir ${dataDir}`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      log.info("stopping");
      await server.stop();
      await mirror.stop();
    },
  );
}

async function importCommand(
  term: ServerTerminal,
  json: boolean,
  o: { from: string; anchor: Anchor; dataDir: string; targetsDir?: string; validFor?: string },
): Promise<void> {
  const out = new Output(term, json);
  const validForDays =
    o.validFor === undefined
      ? undefined
      : parseCount(o.validFor, "--valid-for", 0, "give whole days, e.g. --valid-for 30");
  const progress = progressFor(term);
  let summary: ImportSummary;
  try {
    summary = await importBundle({
      dataDir: o.dataDir,
      targetsDir: o.targetsDir,
      anchor: o.anchor,
      bundle: o.from,
      validForDays,
      progress: {
        sync: (p) => progress.update(`verifying metadata (${p.phase})`, p.done, p.total || undefined, p.bytes),
        targets: (done, total, bytes) => progress.update("verifying target files", done, total, bytes),
      },
    });
  } catch (err) {
    progress.finish();
    if (err instanceof BundleRefused)
      throw new ServerError(
        `refusing the bundle ${o.from} (${err.reason}): ${err.message}`,
        "nothing was imported; the mirror keeps serving what it had. Get a bundle exported from the repository itself",
      );
    if (err instanceof MirrorSetupError) throw new UsageError(err.message, err.hint);
    throw err;
  }
  progress.finish();
  for (const w of summary.warnings) term.info(`warning: ${w}`);
  if (json) return out.result(summary);
  const v = summary.versions;
  out.say(
    summary.unchanged
      ? `the mirror already had this state (timestamp v${v.timestamp}); ${summary.targets.imported} target file(s) added`
      : `imported ${o.from}: root v${v.root}, timestamp v${v.timestamp}, snapshot v${v.snapshot}; ${summary.documents} document(s), ${summary.targets.imported} target file(s) (${formatBytes(summary.targets.bytes)})`,
  );
  const now = Date.now();
  for (const [role, at] of Object.entries(summary.expires))
    out.say(`  ${role.padEnd(10)} expires ${at} (${timeLeft((new Date(at).getTime() - now) / 1000)})`);
}

/** A mirror's status, when `api` points at a mirror (GET /api/v1/mirror); undefined for a repository. */
export async function mirrorStatusOf(api: ApiClient): Promise<MirrorStatus | undefined> {
  try {
    const r = await api.get("/api/v1/mirror", { what: "read the mirror status" });
    return r.body?.data?.mirror === true ? (r.body.data as MirrorStatus) : undefined;
  } catch (err) {
    if (err instanceof ServerError && err.status !== undefined && err.status < 500) return undefined;
    throw err;
  }
}

export function formatMirrorStatus(s: MirrorStatus, server: string): string[] {
  const now = Date.now();
  const lines = [
    `mirror        ${server}`,
    `upstream      ${s.upstream ?? "none (air-gapped: updated with tufbox mirror --from)"}`,
  ];
  const v = s.versions;
  lines.push(
    s.versions.timestamp === null
      ? "state         nothing verified yet"
      : `state         root v${v.root}, timestamp v${v.timestamp}, snapshot v${v.snapshot}, targets v${v.targets}; ${s.roles} targets role(s)`,
  );
  for (const [role, at] of Object.entries(s.expires))
    lines.push(`  ${role.padEnd(11)} expires ${at} (${timeLeft((new Date(at).getTime() - now) / 1000)})`);
  lines.push(`last success  ${s.last_success_at ?? "never"}`);
  if (s.stale_since)
    lines.push(
      `STALE since   ${s.stale_since}: serving the last verified state; last failure (${s.last_failure?.reason}): ${s.last_failure?.message}`,
    );
  else lines.push("current       yes");
  const failures = Object.entries(s.failures).filter(([, n]) => n > 0);
  if (failures.length > 0) lines.push(`refused syncs ${failures.map(([r, n]) => `${r} ${n}`).join(", ")}`);
  lines.push(
    `change feed   ${s.events_connected ? "connected" : `not connected (syncing every ${s.interval_seconds} s)`}`,
  );
  lines.push(
    `targets       ${s.targets.fetched} file(s) fetched (${formatBytes(s.targets.bytes)}) since start; prefetch ${s.prefetch.length > 0 ? s.prefetch.join(" ") : "none (on request)"}`,
  );
  const tf = Object.entries(s.targets.failures).filter(([, n]) => n > 0);
  if (tf.length > 0) lines.push(`  refused     ${tf.map(([r, n]) => `${r} ${n}`).join(", ")}`);
  return lines;
}
