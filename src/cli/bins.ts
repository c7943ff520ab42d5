/**
 * `tufbox bins <action>`: the repository's hash bins (TAP 15).
 *
 *   advise   how many bins serve the clients best (tuf/bin-advice.ts): from a
 *            server's GET /api/v1/roles `bins_advice`, or offline from
 *            --artifacts N; --artifacts with --server asks "what if".
 *
 *   resize   a new number of bins, published online (bins-resize.ts)
 *
 * Each action is one entry of BINS_ACTIONS (its summary goes into the help).
 */
import {
  adviseBins,
  type BinAdvice,
  type BinEstimate,
  BIN_TARGET_BYTES,
  formatBytes,
  formatSeconds,
} from "../tuf/bin-advice.ts";
import { bitLengthForBins } from "../tuf/bins.ts";
import { TufError } from "../tuf/errors.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { BINS_RESIZE_SUMMARY, binsResizeCommand } from "./bins-resize.ts";
import { apiClient, ServerError, serverCommand, type ApiClient } from "./client.ts";
import { flagString, parseCount } from "./flags.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP, wantsServer } from "./server-options.ts";

export interface BinsAction {
  /** one line for `tufbox bins --help` */
  summary: string;
  run(argv: string[], term: ServerTerminal): Promise<void>;
}

export const BINS_ADVISE_FLAGS = {
  artifacts: { type: "string" },
  "entry-bytes": { type: "string" },
  bins: { type: "string" },
  ...SERVER_FLAGS,
} as const;

export const BINS_ADVISE_HELP = `tufbox bins advise --server URL [--artifacts N] [--json]
tufbox bins advise --artifacts N [--bins N] [--entry-bytes B] [--json]

Recommends a number of hash bins for the clients: enough that each bin stays
under ${BIN_TARGET_BYTES / 1024} KiB and far from the 5,000,000-byte limit clients download, few
enough that tuf-js (which parses the snapshot in time growing faster than the
square of its roles) refreshes within a second. Warns when the current count
is 4× or more off, its bins are near or over the limit, or tuf-js is slow with it.

With --server, the repository's own advice (GET /api/v1/roles: its artifacts,
current bins and measured entry size).

  --artifacts N         advise for N artifacts (with --server: what if it had N)
  --bins N              the current bin count, to compare (offline; --server knows it)
  --entry-bytes B       bytes one target entry adds to a bin (default: measured from
                        the server's bins, else 160: sha256 + length + a 50-character path;
                        more with sha512 or custom)
${SERVER_FLAGS_HELP}

Exit status: 0 advice given (warnings included); 1 the server failed; 2 usage.`;

function countFlag(own: Record<string, unknown>, name: string, min: number, hint: string): number | undefined {
  const v = flagString(own as Parameters<typeof flagString>[0], name);
  return v === undefined ? undefined : parseCount(v, `--${name}`, min, hint);
}

function binsFlag(own: Record<string, unknown>): number | undefined {
  const n = countFlag(own, "bins", 2, "use a power of two between 2 and 16384, e.g. --bins 256");
  if (n === undefined) return undefined;
  try {
    bitLengthForBins(n, "--bins");
  } catch (err) {
    if (err instanceof TufError)
      throw new UsageError(`--bins ${n} is not allowed`, "use a power of two between 2 and 16384, e.g. --bins 256");
    throw err;
  }
  return n;
}

/** The server's advice; an RSTUF server (no /api/v1/roles) has none. */
async function serverAdvice(api: ApiClient): Promise<BinAdvice | null> {
  const r = await api.get("/api/v1/roles", {
    what: "read the repository's roles",
    hint404: "an RSTUF server has no bin advice: run tufbox bins advise --artifacts N --bins N offline",
  });
  const advice = r.body?.data?.bins_advice;
  if (advice === undefined)
    throw new ServerError(
      "the server gave no bins_advice in GET /api/v1/roles",
      "is --server a tufbox server of this version? Offline: tufbox bins advise --artifacts N --bins N",
      { detail: r.body },
    );
  return advice as BinAdvice | null;
}

function describe(e: BinEstimate): string {
  return `each bin ~${formatBytes(e.mean_bin_bytes)} (fullest ~${formatBytes(e.largest_bin_bytes)}), snapshot ${formatBytes(e.snapshot_bytes)}, tuf-js ~${formatSeconds(e.tufjs_refresh_seconds)} per refresh`;
}

/** Two significant digits: estimates are not exact to the artifact. */
function roughly(n: number): string {
  if (n < 100) return String(n);
  const step = 10 ** (Math.floor(Math.log10(n)) - 1);
  return (Math.round(n / step) * step).toLocaleString("en-US");
}

/** The advice as lines of text (also part of `tufbox status`). */
export function formatBinAdvice(a: BinAdvice, indent = ""): string[] {
  const lines: string[] = [];
  const pad = (label: string) => `${indent}${label.padEnd(14)}`;
  lines.push(
    `${pad("artifacts")}${a.artifacts.toLocaleString("en-US")} (a target entry ~${a.entry_bytes} B, ${a.entry_bytes_source === "measured" ? "measured from the published bins" : "assumed"})`,
  );
  if (a.current) lines.push(`${pad("current")}${a.current.bins} bins: ${describe(a.current)}`);
  const r = a.recommended;
  lines.push(
    `${pad("recommended")}${r.bins} bins: ${describe(r)}${a.current && a.current.bins === r.bins ? " (as now)" : ""}`,
  );
  lines.push(
    `${pad("")}${r.bins} bins hold ~${roughly(a.holds_artifacts.within_target)} artifacts within the ${BIN_TARGET_BYTES / 1024} KiB target, ~${roughly(a.holds_artifacts.within_cap_headroom)} within half the client limit`,
  );
  lines.push(`${pad("trade-off")}${a.trade_off[0]}`);
  lines.push(`${pad("")}${a.trade_off[1]}`);
  for (const w of a.warnings) lines.push(`${indent}${w.severity.toUpperCase()}: ${w.message}`);
  return lines;
}

/** The advice in `tufbox status`: the recommendation, the trade-off, the warnings. */
export function formatBinAdviceSummary(a: BinAdvice): string[] {
  const r = a.recommended;
  const now = a.current ? (a.current.bins === r.bins ? " (as now)" : ` (now ${a.current.bins})`) : "";
  return [
    `bins advice   ${r.bins} bins for ${a.artifacts.toLocaleString("en-US")} artifacts${now}: ${describe(r)}`,
    `              ${a.trade_off[0]}`,
    `              ${a.trade_off[1]}`,
    ...a.warnings.map((w) => `  ${w.severity.toUpperCase()}: ${w.message}`),
    ...(a.warnings.length > 0 ? ["  details: tufbox bins advise"] : []),
  ];
}

export async function binsAdviseCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "bins advise",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("bins advise", argv, BINS_ADVISE_FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(BINS_ADVISE_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox bins advise --help'");
      const artifacts = countFlag(
        args.own,
        "artifacts",
        0,
        "give a whole number of artifacts, e.g. --artifacts 100000",
      );
      const entryBytes = countFlag(args.own, "entry-bytes", 1, "give bytes per target entry, e.g. --entry-bytes 160");
      const bins = binsFlag(args.own);
      const out = new Output(term, json);
      let advice: BinAdvice;
      if (wantsServer(args.own, term)) {
        if (bins !== undefined)
          throw new UsageError("--bins is for offline advice", "with --server the repository's own bin count is used");
        const api = apiClient(args.own, term, "bins advise");
        const fromServer = await serverAdvice(api);
        if (fromServer === null)
          throw new ServerError(
            `${api.server} has no hash bins to advise on (not bootstrapped, or custom delegations)`,
            "offline: tufbox bins advise --artifacts N",
          );
        advice =
          artifacts === undefined && entryBytes === undefined
            ? fromServer
            : adviseBins({
                artifacts: artifacts ?? fromServer.artifacts,
                entryBytes:
                  entryBytes ?? (fromServer.entry_bytes_source === "measured" ? fromServer.entry_bytes : undefined),
                currentBins: fromServer.current?.bins,
                otherRoles: fromServer.other_roles,
              });
      } else {
        if (artifacts === undefined)
          throw new UsageError(
            "give --server URL (or TUFBOX_SERVER) or --artifacts N",
            "e.g. tufbox bins advise --artifacts 1000000 --bins 256",
          );
        advice = adviseBins({ artifacts, entryBytes, currentBins: bins });
      }
      if (json) return out.result(advice);
      for (const line of formatBinAdvice(advice)) out.say(line);
    },
  );
}

/** The actions of `tufbox bins`, in help order. */
export const BINS_ACTIONS: Record<string, BinsAction> = {
  advise: { summary: "how many hash bins serve tuf-js and python-tuf clients best", run: binsAdviseCommand },
  resize: { summary: BINS_RESIZE_SUMMARY, run: binsResizeCommand },
};

export function binsHelp(): string {
  const width = Math.max(...Object.keys(BINS_ACTIONS).map((a) => a.length)) + 3;
  return `tufbox bins <action> [flags]

${Object.entries(BINS_ACTIONS)
  .map(([name, a]) => `  ${name.padEnd(width)}${a.summary}`)
  .join("\n")}

Run 'tufbox bins <action> --help' for an action's flags.`;
}

export async function binsCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  const [action, ...rest] = argv;
  if (action === undefined || action === "--help" || action === "-h" || action === "help") {
    term.out(binsHelp());
    return;
  }
  const a = BINS_ACTIONS[action];
  if (!a)
    throw new UsageError(
      `unknown action "${action}"`,
      `tufbox bins ${Object.keys(BINS_ACTIONS).join(" | ")} (run 'tufbox bins --help')`,
    );
  return a.run(rest, term);
}
