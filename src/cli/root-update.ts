/**
 * `tufbox root update`: root N+1 from root N (keys added or removed, a new
 * threshold, a new online key, a new expiry), signed by the root keys at hand,
 * as an RSTUF metadata-update payload (POST /api/v1/metadata).
 *
 * Root N comes from a file (`--in`: N.root.json or a payload that carried
 * root N) or from a server (`--server URL`: its published `root.json`,
 * reached from `--trusted` — a root the operator already trusts — by walking
 * N.root.json the way a client does, before anything is built on it). The
 * payload is written to `--out` and/or sent (`--send`, the task followed).
 */
import { readRootFile, writeDocument, type RootFile } from "../offline/root-files.ts";
import { readPublicKeyFile } from "../offline/key-files.ts";
import { nextRoot, type RootChanges } from "../offline/next-root.ts";
import { defaultOnlineKeyUri } from "../offline/bootstrap-payload.ts";
import { ONLINE_TOP_LEVEL_ROLES } from "../tuf/roles.ts";
import { addRootSignatures, rootSignersFor } from "../offline/root-signing.ts";
import { formatRootSummary, formatStatus, summarizeRoot, thresholdsMet } from "../offline/root-summary.ts";
import { parseDays } from "../offline/expiration.ts";
import { verifyRootUpdate } from "../tuf/root-chain.ts";
import { metadataFileName } from "../tuf/file-names.ts";
import type { NativeSigner } from "../tuf/signer.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool, flagString, flagStrings, parseCount } from "./flags.ts";
import { loadPrivateKey, passphraseFilesFor } from "./passphrase.ts";
import type { Terminal } from "./terminal.ts";
import { apiClient, serverCommand, type ApiClient } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP, wantsServer } from "./server-options.ts";
import { outcomeOf, taskJson } from "./task-follow.ts";
import { verifiedCurrentRoot } from "./server-root.ts";
import { sendRootUpdate } from "./send.ts";

export const DEFAULT_UPDATE_OUT = "update-payload.json";
export const DEFAULT_ROOT_DAYS = 365;

export const ROOT_HELP = `tufbox root update (--in CURRENT_ROOT.json | --server URL --trusted ROOT.json)
                   [--add-key FILE.pub]... [--remove-key KEYID]... [--threshold N]
                   [--online-key FILE.pub [--online-key-uri fn:NAME]] [--expires DAYS]
                   [--sign FILE]... [--passphrase-file F]... [--out ${DEFAULT_UPDATE_OUT}] [--force]
                   [--send [--token TOKEN] [--json]]

Builds root N+1 from root N and writes the RSTUF metadata-update payload
{"metadata": {"root": …}} (POST /api/v1/metadata). Root N+1 must be signed by
the threshold of root N's root keys AND of its own (TUF spec 5.3.4): --sign
takes keys of either; both counts are shown. Missing signatures can be added
later with 'tufbox sign --key K --trusted CURRENT_ROOT.json --in OUT', or,
once sent, with 'tufbox sign --key K --server URL'.

  --in FILE             root N: N.root.json, or the payload that carried it
  --server URL          root N is the server's published root.json (default
                        $TUFBOX_SERVER when --in is not given); it must be reached
                        from --trusted by walking N.root.json, each verifying with
                        the previous root's threshold and its own
  --trusted FILE        with --server: a root you already trust (e.g. your 1.root.json)
  --send                POST the payload to the server and follow the task (without
                        --out nothing is written)
  --add-key FILE.pub    a new root key (repeat)
  --remove-key KEYID    a root key to drop (full keyid, or 8+ leading characters; repeat)
  --threshold N         the new root threshold (default: unchanged)
  --online-key FILE.pub a new online key for targets, snapshot, timestamp (and the bins
                        and delegations that use the targets key)
  --timestamp-key FILE.pub, --snapshot-key FILE.pub, --targets-key FILE.pub
                        a new online key for that role only (fn:<keyid>): the server
                        re-signs exactly the roles that key signs
  --online-key-uri URI  where the server finds it (default fn:<keyid>)
  --expires DAYS        root N+1 expires DAYS from now (default ${DEFAULT_ROOT_DAYS})
  --sign FILE           a root private key of root N or N+1 (repeat)
  --passphrase-file F   passphrase of the --sign keys (one for all, or one per key)
  --out FILE            default ${DEFAULT_UPDATE_OUT} (unless --send); replaced only with --force
${SERVER_FLAGS_HELP}
  --no-wait             do not wait for tasks that wait for offline signatures`;

export const ROOT_UPDATE_FLAGS = {
  in: { type: "string" },
  "add-key": { type: "string", multiple: true },
  "remove-key": { type: "string", multiple: true },
  threshold: { type: "string" },
  "online-key": { type: "string" },
  "online-key-uri": { type: "string" },
  "timestamp-key": { type: "string" },
  "snapshot-key": { type: "string" },
  "targets-key": { type: "string" },
  expires: { type: "string" },
  sign: { type: "string", multiple: true },
  "passphrase-file": { type: "string", multiple: true },
  out: { type: "string" },
  force: { type: "boolean" },
  trusted: { type: "string" },
  send: { type: "boolean" },
  "no-wait": { type: "boolean" },
  ...SERVER_FLAGS,
} as const;

/** Root N, and how the messages name where it came from. */
interface CurrentRoot {
  file: RootFile;
  /** for the "tufbox sign --trusted X" hint */
  trustedHint: string;
  api?: ApiClient;
}

export async function rootCommand(
  argv: string[],
  term: ServerTerminal = serverTerminal(),
  now: Date = new Date(),
): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === "update") {
    let json = false;
    return serverCommand(
      "root",
      term,
      () => json,
      () => rootUpdate(rest, term, now, (j) => (json = j)),
    );
  }
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    term.out(ROOT_HELP);
    if (sub === undefined) throw new UsageError("missing subcommand", "use 'tufbox root update'");
    return;
  }
  throw new UsageError(`unknown subcommand "${sub}"`, "use 'tufbox root update'");
}

/** Root N from --in, or the server's root verified from --trusted. */
async function currentRoot(
  own: Record<string, string | boolean | string[] | undefined>,
  term: Terminal,
  out: Output,
): Promise<CurrentRoot> {
  const inPath = flagString(own, "in");
  const trustedPath = flagString(own, "trusted");
  if (inPath !== undefined) {
    if (flagString(own, "server") !== undefined)
      throw new UsageError(
        "--in and --server exclude each other",
        "build on a root file (--in), or on the server's published root (--server with --trusted)",
      );
    if (trustedPath !== undefined)
      throw new UsageError("--trusted goes with --server", "with --in, the file given is root N");
    if (flagBool(own, "send"))
      throw new UsageError(
        "--send needs --server",
        `build on the server's root: --server URL --trusted YOUR_1.root.json, or send the file later: tufbox send update ${flagString(own, "out") ?? DEFAULT_UPDATE_OUT} --server URL`,
      );
    const file = readRootFile(inPath);
    const signed = file.root.signed;
    // Building on a root that does not verify with its own threshold is almost always a mistake (wrong file).
    const selfCheck = verifyRootUpdate(file.root).own;
    if (!selfCheck.verified)
      term.info(
        `warning: ${inPath} (root v${signed.version}) has ${selfCheck.signed.length} of ${signed.roles.root.threshold} required signatures: make sure it is the published root`,
      );
    return { file, trustedHint: inPath };
  }
  if (!wantsServer(own, term))
    throw new UsageError(
      "--in is required",
      "give root N: --in 1.root.json (or build on a server's published root: --server URL --trusted YOUR_1.root.json)",
    );
  const api = apiClient(own, term, "root update");
  if (trustedPath === undefined) {
    throw new UsageError(
      "--trusted is required with --server",
      `give a root you already trust (e.g. the 1.root.json you kept from the ceremony): the server's root is only built on once it is reached from it`,
    );
  }
  const trusted = readRootFile(trustedPath).root;
  const { root, walked } = await verifiedCurrentRoot(api, trusted, trustedPath);
  const v = root.signed.version;
  out.say(
    `current root v${v} from ${api.opts.metadataUrl}/root.json: verified from ${trustedPath} (root v${trusted.signed.version})${walked.length > 0 ? ` through ${walked.map((n) => metadataFileName("root", n)).join(", ")}` : ""}`,
  );
  return {
    file: { kind: "metadata", root, content: root, source: `${api.opts.metadataUrl}/${metadataFileName("root", v)}` },
    trustedHint: `${metadataFileName("root", v)} (from ${api.opts.metadataUrl}/)`,
    api,
  };
}

async function rootUpdate(
  argv: string[],
  term: ServerTerminal,
  now: Date,
  setJson: (json: boolean) => void,
): Promise<void> {
  const args = parseCommandArgs("root", argv, ROOT_UPDATE_FLAGS, { config: false });
  const own = args.own;
  const json = jsonFlag(own);
  setJson(json);
  if (own.help) return term.out(ROOT_HELP);
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox root update --help'");
  const out = new Output(term, json);
  const send = flagBool(own, "send");
  if (json && !send) throw new UsageError("--json goes with --send", "without --send the result is the --out file");
  const current = await currentRoot(own, term, out);
  const currentSigned = current.file.root.signed;

  const onlineFile = flagString(own, "online-key");
  const uriFlag = flagString(own, "online-key-uri");
  if (uriFlag !== undefined && onlineFile === undefined)
    throw new UsageError(
      "--online-key-uri needs --online-key",
      "give the new online key's .pub file with --online-key",
    );
  const onlineKey = onlineFile !== undefined ? readPublicKeyFile(onlineFile) : undefined;
  const roleKeys: RootChanges["roleKeys"] = {};
  for (const role of ONLINE_TOP_LEVEL_ROLES) {
    const file = flagString(own, `${role}-key`);
    if (file !== undefined) roleKeys[role] = readPublicKeyFile(file);
  }
  const thresholdFlag = flagString(own, "threshold");
  const expiresFlag = flagString(own, "expires");
  const changes: RootChanges = {
    addKeys: flagStrings(own, "add-key").map(readPublicKeyFile),
    removeKeyids: flagStrings(own, "remove-key"),
    threshold:
      thresholdFlag !== undefined
        ? parseCount(thresholdFlag, "--threshold", 1, "the root threshold is a whole number of keys, at least 1")
        : undefined,
    onlineKey: onlineKey ? { key: onlineKey, uri: uriFlag ?? defaultOnlineKeyUri(onlineKey.keyid) } : undefined,
    roleKeys,
    expiresDays: expiresFlag !== undefined ? parseDays(expiresFlag, "--expires") : DEFAULT_ROOT_DAYS,
    now,
  };
  const signed = nextRoot(currentSigned, changes);

  const signFiles = flagStrings(own, "sign");
  const passFiles = passphraseFilesFor(signFiles, flagStrings(own, "passphrase-file"));
  const signers: NativeSigner[] = [];
  for (const [i, file] of signFiles.entries()) {
    const privateKey = await loadPrivateKey(term, file, passFiles[i]);
    for (const s of rootSignersFor({ privateKey, source: file }, signed, currentSigned)) {
      if (signers.some((o) => o.keyid === s.keyid))
        throw new UsageError(`--sign ${file}: key ${s.keyid} is given twice`, "give each --sign key once");
      signers.push(s);
    }
  }
  const root = addRootSignatures({ signed, signatures: [] }, signers);
  const summary = summarizeRoot(root, { kind: "update", trusted: current.file.root, now });
  if (summary.problems.length > 0)
    throw new UsageError(
      `root v${signed.version} would be refused: ${summary.problems.join("; ")}`,
      "check the changes given",
    );

  const outFlag = flagString(own, "out");
  const outPath = outFlag ?? (send ? undefined : DEFAULT_UPDATE_OUT);
  if (outPath !== undefined)
    writeDocument(
      outPath,
      { metadata: { root } },
      { replace: flagBool(own, "force"), what: "metadata-update payload" },
    );

  out.say(formatRootSummary(summary, currentSigned.keys));
  if (outPath !== undefined)
    out.say(`\nwrote ${outPath} (metadata-update payload for root v${signed.version}, public data only)`);
  const onlineUri = changes.onlineKey?.uri;
  const perRole = Object.entries(roleKeys).map(([role, k]) => `${role} key as ${k.keyid}`);
  const copyOnline = onlineKey
    ? `copy the new online private key to the server's online-key directory${onlineUri?.startsWith("fn:") ? ` as ${onlineUri.slice(3)}` : ""}`
    : `copy the new private key(s) to the server's online-key directory: ${perRole.join(", ")}`;
  if (!send || !current.api) {
    if (!thresholdsMet(summary)) {
      out.say("still needed:");
      for (const st of summary.status)
        if (!st.result.verified)
          out.say(`  ${formatStatus(st, st.of === "document" ? signed.keys : currentSigned.keys)}`);
      out.say(
        `each missing signer runs: tufbox sign --key THEIR_KEY --trusted ${current.trustedHint} --in ${outPath} --out ${outPath}`,
      );
    }
    if (onlineKey || perRole.length > 0) out.say(`before sending: ${copyOnline}`);
    out.say(
      current.api
        ? `send it: tufbox send update ${outPath} --server ${current.api.server} (the server publishes root v${signed.version} once both thresholds are met)`
        : `send ${outPath} to POST /api/v1/metadata (tufbox send update ${outPath} --server URL; the server publishes root v${signed.version} once both thresholds are met)`,
    );
    return;
  }
  // The server refuses root N+1 (422) while it cannot load the new online key: say what to do first.
  if (onlineKey || perRole.length > 0) out.say(`the server must have the new online private key: ${copyOnline}`);
  const task = await sendRootUpdate(current.api, out, { metadata: { root } }, signed.version, flagBool(own, "no-wait"));
  out.result(taskJson(task, { version: signed.version, outcome: outcomeOf(task) }));
}
