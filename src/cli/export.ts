/**
 * `tufbox export`: write a verified static copy of a repository (metadata,
 * optionally target files) to a directory or a tar file, for static web
 * servers and air-gapped sites (src/mirror/export.ts).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../config.ts";
import { openStore } from "../store/index.ts";
import { ExportRefused, exportRepository, type ExportSummary } from "../mirror/export.ts";
import { MirrorDirSource, TufboxStoreSource } from "../mirror/data-sources.ts";
import { HttpSource, SourceError, type Source } from "../mirror/source.ts";
import { readAnchor, MirrorSetupError, type Anchor } from "../mirror/state.ts";
import { CLIENT_LIMITS } from "../tuf/trusted-set.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFlagsHelp } from "./help.ts";
import { flagBool, flagString, flagStrings, parseCount } from "./flags.ts";
import { ServerError, serverCommand } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { loadAnchor } from "./mirror.ts";
import { progressFor } from "./progress.ts";
import { formatBytes } from "./format.ts";
import { timeLeft } from "./format.ts";

export const EXPORT_HELP = `tufbox export (--server URL | --data-dir DIR) --out DIR|FILE.tar [--root TRUSTED_ROOT.json]
              [--targets GLOB]... [--all-versions] [--valid-for DAYS] [--json]

Writes a static copy of a published repository that any static web server
(python3 -m http.server, nginx, a USB stick mounted on a device) serves to TUF
clients: OUT/metadata/ (every root from the trusted one, timestamp.json,
root.json, the current snapshot and every targets role and hash bin) and
OUT/targets/ (target files matching --targets, under <hash>.<name> for every
listed hash). Everything is verified like a client does before anything is
written; the output appears only when complete. Import it into an
air-gapped mirror with: tufbox mirror --from OUT --root TRUSTED_ROOT.json

  --server URL        read from a running tufbox (or mirror, or any repository
                      serving URL/metadata/ and URL/targets/)
  --data-dir DIR      read from a tufbox data directory (its store and targets
                      directory; --database for PostgreSQL) or a mirror's
  --out DIR|FILE.tar  a new (or empty) directory, or a tar file
  --root FILE         the trusted root to verify from (default: the source's
                      1.root.json, trusted on first use: give --root to check
                      against the root your devices ship)
  --targets GLOB      include target files matching GLOB (repeatable; ** crosses
                      directories, '**' = all)
  --all-versions      also every older version of every role (each verified)
  --valid-for DAYS    warn when the copy's timestamp, snapshot or targets roles
                      expire within DAYS (a bundle is only usable until then)
  --json              one JSON document on stdout

${configFlagsHelp({ omit: ["data-dir"] })}`;

export const EXPORT_FLAGS = {
  server: { type: "string" },
  out: { type: "string" },
  root: { type: "string" },
  targets: { type: "string", multiple: true },
  "all-versions": { type: "boolean" },
  "valid-for": { type: "string" },
  json: { type: "boolean" },
} as const;

async function firstRoot(source: Source, what: string): Promise<Anchor> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await source.metadata("1.root.json", CLIENT_LIMITS.root);
  } catch (err) {
    if (err instanceof SourceError)
      throw new ServerError(`cannot read ${what}: ${err.message}`, "check --server / --data-dir");
    throw err;
  }
  if (!bytes)
    throw new ServerError(`${what} has no 1.root.json`, "is it a bootstrapped repository? give --root otherwise");
  try {
    return readAnchor(bytes, `${what} 1.root.json`);
  } catch (err) {
    if (err instanceof MirrorSetupError) throw new ServerError(err.message, err.hint);
    throw err;
  }
}

export async function exportCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "export",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("export", argv, EXPORT_FLAGS);
      json = flagBool(args.own, "json");
      if (args.own.help) return term.out(EXPORT_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox export --help'");
      const out = flagString(args.own, "out");
      if (!out)
        throw new UsageError("--out is required", "e.g. tufbox export --server http://127.0.0.1:8080 --out bundle.tar");
      const server = flagString(args.own, "server");
      const dataDirGiven = args.config["data-dir"] !== undefined || args.config.database !== undefined;
      if ((server === undefined) === !dataDirGiven)
        throw new UsageError(
          "give exactly one of --server and --data-dir",
          "e.g. tufbox export --data-dir /var/lib/tufbox --out bundle.tar",
        );
      const validFor = flagString(args.own, "valid-for");
      const validForDays =
        validFor === undefined
          ? undefined
          : parseCount(validFor, "--valid-for", 0, "give whole days, e.g. --valid-for 30");
      const rootPath = flagString(args.own, "root");
      const output = new Output(term, json);

      let source: Source;
      if (server !== undefined) {
        let url: URL;
        try {
          url = new URL(server);
        } catch {
          throw new UsageError(
            `--server ${JSON.stringify(server)} is not a URL`,
            "e.g. --server http://127.0.0.1:8080",
          );
        }
        source = new HttpSource(url.href.replace(/\/+$/, "").replace(/\/metadata$/, ""));
      } else {
        const config = loadConfig({ flags: args.config });
        if (MirrorDirSource.isMirrorDir(config.data_dir)) source = new MirrorDirSource(config.data_dir);
        else {
          if (config.database.startsWith("sqlite:") && !existsSync(config.database.slice(7)))
            throw new UsageError(
              `${config.data_dir} holds no tufbox repository (no ${config.database.slice(7)}, no mirror.db)`,
              "give the --data-dir of tufbox serve (or of tufbox mirror)",
            );
          const store = await openStore(config.database);
          source = new TufboxStoreSource(store, config.data_dir, config.targets.dir);
        }
      }
      try {
        let anchor: Anchor;
        if (rootPath !== undefined) anchor = loadAnchor(rootPath);
        else {
          anchor = await firstRoot(source, source.label);
          term.info(
            `warning: trusting ${source.label}'s 1.root.json on first use (keyids ${anchor.root.signed.roles.root.keyids.map((k) => k.slice(0, 12)).join(", ")}); give --root to verify against the root your devices trust`,
          );
        }
        const progress = progressFor(term);
        let summary: ExportSummary;
        try {
          summary = await exportRepository({
            source,
            anchor,
            out,
            targets: flagStrings(args.own, "targets"),
            allVersions: flagBool(args.own, "all-versions"),
            validForDays,
            progress: {
              sync: (p) => progress.update(`verifying metadata (${p.phase})`, p.done, p.total || undefined, p.bytes),
              history: (done, total) => progress.update("verifying older versions", done, total),
              targets: (done, total, bytes) => progress.update("verifying target files", done, total, bytes),
            },
          });
        } catch (err) {
          progress.finish();
          if (err instanceof ExportRefused)
            throw new ServerError(
              `nothing was written: ${err.message} (${err.reason})`,
              err.reason === "invalid" && err.message.includes("already exists")
                ? "choose a new --out"
                : "the source does not verify against the trusted root; do not carry it to devices",
            );
          throw err;
        }
        progress.finish();
        for (const w of summary.warnings) term.info(`warning: ${w}`);
        if (json) return output.result(summary);
        const v = summary.versions;
        output.say(
          `wrote ${summary.out} (${summary.format}): root v${v.root}, timestamp v${v.timestamp}, snapshot v${v.snapshot}; ${summary.metadata_files} metadata file(s)${summary.older_versions ? ` + ${summary.older_versions} older version(s)` : ""}, ${summary.targets.files} target file(s) (${formatBytes(summary.targets.bytes)})`,
        );
        const now = Date.now();
        for (const [role, at] of Object.entries(summary.expires))
          output.say(`  ${role.padEnd(10)} expires ${at} (${timeLeft((new Date(at).getTime() - now) / 1000)})`);
        output.say(
          summary.format === "tar"
            ? `serve it: tar -xf ${summary.out} -C DIR && python3 -m http.server -d DIR; or import: tufbox mirror --from ${summary.out} --root ROOT`
            : `serve it: python3 -m http.server -d ${join(summary.out)}; or import: tufbox mirror --from ${summary.out} --root ROOT`,
        );
      } finally {
        await source.close?.();
      }
    },
  );
}
