/**
 * `tufbox validate`: check a published repository from the root the devices
 * trust, like a client and more (src/ops/validate.ts), and exit 0 only when
 * nothing is wrong: a deployment pipeline or a cron job can gate on it.
 */
import { existsSync } from "node:fs";
import { loadConfig } from "../config.ts";
import { openStore } from "../store/index.ts";
import type { Store } from "../store/store.ts";
import { createStorage } from "../storage/index.ts";
import type { ContentStorage } from "../storage/storage.ts";
import { TufboxStoreSource } from "../mirror/data-sources.ts";
import { HttpSource, type Source } from "../mirror/source.ts";
import { validateRepository, type ArtifactCheck, type ValidateReport } from "../ops/validate.ts";
import { httpArtifactCheck, storeArtifactCheck } from "../ops/validate-artifacts.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFlagsHelp } from "./help.ts";
import { flagBool, flagString } from "./flags.ts";
import { ServerError, serverCommand } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { loadAnchor } from "./mirror.ts";
import { progressFor } from "./progress.ts";
import { formatBytes, timeLeft } from "./format.ts";

export const VALIDATE_HELP = `tufbox validate (--server URL | --data-dir DIR | --metadata-url URL) --root TRUSTED_ROOT.json
                [--horizon DAYS] [--targets-url URL] [--skip-artifacts] [--json]

Walks a published repository the way a client does, from the root your devices
trust, and reports every problem instead of stopping at the first: the root
chain (each root signed by the previous root's threshold and its own, versions
+1), signatures and thresholds of timestamp, snapshot, targets and every
delegated role and hash bin, the versions, lengths and hashes each document
lists for the next, expiry (and anything expiring within --horizon days), the
download caps clients apply (root 512,000 bytes, snapshot 2,000,000, targets
and each bin 5,000,000) and every listed artifact present where clients fetch
it. Exit 0: clean; 1: problems found (listed); 2: bad usage.

  --server URL        a running tufbox, a mirror, or any repository serving
                      URL/metadata/ and URL/targets/
  --metadata-url URL  metadata files under URL (a CDN or bucket prefix); targets
                      from --targets-url (default: URL's sibling targets/)
  --data-dir DIR      a tufbox data directory: its store (--database for
                      PostgreSQL), content storage and targets directory
  --root FILE         the trusted root (e.g. the 1.root.json devices ship)
  --horizon DAYS      also a problem: anything expiring within DAYS (default 0:
                      only what has expired; fractions allowed, e.g. 0.5)
  --targets-url URL   where clients download artifacts from
  --skip-artifacts    do not check that artifact bytes are present
  --json              the report as one JSON document on stdout

${configFlagsHelp({ omit: ["data-dir"] })}`;

export const VALIDATE_FLAGS = {
  server: { type: "string" },
  "metadata-url": { type: "string" },
  "targets-url": { type: "string" },
  root: { type: "string" },
  horizon: { type: "string" },
  "skip-artifacts": { type: "boolean" },
  json: { type: "boolean" },
} as const;

function parseUrl(text: string, flag: string): string {
  try {
    const url = new URL(text);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
    return url.href.replace(/\/+$/, "");
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not an http(s) URL`, `e.g. ${flag} http://127.0.0.1:8080`);
  }
}

function parseHorizon(text: string | undefined): number {
  if (text === undefined) return 0;
  const days = Number(text);
  if (text.trim() === "" || !Number.isFinite(days) || days < 0 || days > 36_500)
    throw new UsageError(
      `--horizon ${JSON.stringify(text)} is not a number of days from 0 to 36500`,
      "e.g. --horizon 7",
    );
  return days;
}

const PROBLEMS_SHOWN_PER_KIND = 20;

function printReport(output: Output, r: ValidateReport): void {
  const now = Date.now();
  const line = (role: string, s: { version: number; expires: string; length: number } | undefined) => {
    if (!s) return;
    const left = timeLeft((new Date(s.expires).getTime() - now) / 1000);
    output.say(`  ${role.padEnd(10)} v${s.version}, ${formatBytes(s.length)}, expires ${s.expires} (${left})`);
  };
  const chain = r.root_chain.length > 0 ? ` → v${r.root_chain.join(", v")}` : "";
  output.say(`validate ${r.source} from trusted root v${r.trusted_root_version}${chain}`);
  line("root", r.root);
  line("timestamp", r.timestamp);
  line("snapshot", r.snapshot);
  line("targets", r.targets);
  const d = r.delegated_roles;
  if (d.verified > 0 || d.not_delegated > 0)
    output.say(
      `  delegated  ${d.verified} role(s) and bins checked${d.largest ? `, largest ${d.largest.role} ${formatBytes(d.largest.length)}` : ""}${d.earliest_expiry ? `, earliest expiry ${d.earliest_expiry}` : ""}${d.not_delegated ? `; ${d.not_delegated} listed in the snapshot without a delegation (kept for returning clients)` : ""}`,
    );
  output.say(
    r.artifacts.checked
      ? `  artifacts  ${r.artifacts.present} of ${r.artifacts.listed} present${r.artifacts.missing ? `, ${r.artifacts.missing} missing` : ""}`
      : "  artifacts  not checked (--skip-artifacts)",
  );
  const total = Object.values(r.problem_counts).reduce((a, b) => a + (b ?? 0), 0);
  if (total === 0) {
    output.say(`OK: no problems (${r.seconds} s)`);
    return;
  }
  output.say(`${total} PROBLEM(S):`);
  const shown = new Map<string, number>();
  for (const p of r.problems) {
    const n = shown.get(p.kind) ?? 0;
    shown.set(p.kind, n + 1);
    if (n < PROBLEMS_SHOWN_PER_KIND) output.say(`  [${p.kind}] ${p.message}`);
  }
  for (const [kind, count] of Object.entries(r.problem_counts)) {
    const more = (count ?? 0) - Math.min(PROBLEMS_SHOWN_PER_KIND, shown.get(kind) ?? 0);
    if (more > 0) output.say(`  [${kind}] … ${more} more (--json lists up to 1000)`);
  }
}

export async function validateCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "validate",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("validate", argv, VALIDATE_FLAGS);
      json = flagBool(args.own, "json");
      if (args.own.help) return term.out(VALIDATE_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox validate --help'");
      const server = flagString(args.own, "server");
      const metadataUrl = flagString(args.own, "metadata-url");
      const dataDirGiven = args.config["data-dir"] !== undefined || args.config.database !== undefined;
      if ([server !== undefined, metadataUrl !== undefined, dataDirGiven].filter(Boolean).length !== 1)
        throw new UsageError(
          "give exactly one of --server, --metadata-url and --data-dir",
          "e.g. tufbox validate --server http://127.0.0.1:8080 --root 1.root.json",
        );
      const rootPath = flagString(args.own, "root");
      if (rootPath === undefined)
        throw new UsageError(
          "--root is required: validation starts from the root your devices trust",
          "e.g. --root 1.root.json",
        );
      const horizonDays = parseHorizon(flagString(args.own, "horizon"));
      const skipArtifacts = flagBool(args.own, "skip-artifacts");
      const targetsFlag = flagString(args.own, "targets-url");
      const anchor = loadAnchor(rootPath);

      let source: Source;
      let artifacts: ArtifactCheck | undefined;
      let store: Store | undefined;
      let storage: ContentStorage | undefined;
      if (server !== undefined || metadataUrl !== undefined) {
        let http: HttpSource;
        if (server !== undefined) {
          const base = parseUrl(server, "--server").replace(/\/metadata$/, "");
          http = new HttpSource(base, {
            userAgent: "tufbox-validate",
            targetsUrl: targetsFlag && parseUrl(targetsFlag, "--targets-url"),
          });
        } else {
          const meta = parseUrl(metadataUrl!, "--metadata-url");
          const sibling = meta.endsWith("/metadata") ? `${meta.slice(0, -"/metadata".length)}/targets` : undefined;
          const targets = targetsFlag !== undefined ? parseUrl(targetsFlag, "--targets-url") : sibling;
          if (targets === undefined && !skipArtifacts)
            throw new UsageError(
              "--metadata-url does not end in /metadata, so where artifacts are is not known",
              "give --targets-url URL (or --skip-artifacts)",
            );
          http = new HttpSource(meta, {
            userAgent: "tufbox-validate",
            metadataUrl: meta,
            targetsUrl: targets ?? `${meta}/../targets`,
          });
        }
        source = http;
        if (!skipArtifacts) artifacts = httpArtifactCheck(http.targetsUrl);
      } else {
        const config = loadConfig({ flags: args.config });
        if (config.database.startsWith("sqlite:") && !existsSync(config.database.slice(7)))
          throw new UsageError(
            `${config.data_dir} holds no tufbox repository (no ${config.database.slice(7)})`,
            "give the --data-dir of tufbox serve",
          );
        store = await openStore(config.database);
        source = new TufboxStoreSource(store, config.data_dir, config.targets.dir);
        if (!skipArtifacts) {
          storage = createStorage(config.storage);
          await storage.open();
          artifacts = storeArtifactCheck(store.contents, storage, config.targets.dir);
        }
      }

      const output = new Output(term, json);
      const progress = progressFor(term);
      let report: ValidateReport;
      try {
        report = await validateRepository({
          source,
          trusted: anchor,
          horizonDays,
          artifacts,
          progress: (p) =>
            p.phase === "root"
              ? progress.update("walking the root chain", 0, undefined)
              : progress.update(
                  p.phase === "metadata" ? "checking targets roles and bins" : "checking artifacts",
                  p.done,
                  p.total,
                ),
        });
      } finally {
        progress.finish();
        await storage?.close();
        await source.close?.();
      }
      if (json) output.result(report);
      else printReport(output, report);
      if (!report.ok) {
        const total = Object.values(report.problem_counts).reduce((a, b) => a + (b ?? 0), 0);
        throw new ServerError(
          `${total} problem(s) found in ${report.source}`,
          "see the list above; each names the file and what is wrong",
        ).printed();
      }
    },
  );
}
