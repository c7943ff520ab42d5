/**
 * `tufbox root update`: root N+1 from root N (keys added or removed, a new
 * threshold, a new online key, a new expiry), signed by the root keys at hand,
 * written as an RSTUF metadata-update payload (POST /api/v1/metadata).
 *
 * Root N comes from a `CurrentRootSource`: a file now (`--in`: N.root.json or
 * a payload that carried root N); a server later (`--server URL`: its
 * published `/metadata/root.json`, verified against a root the operator
 * trusts before building on it).
 */
import { readRootFile, writeDocument, type RootFile } from "../offline/root-files.ts";
import { readPublicKeyFile } from "../offline/key-files.ts";
import { nextRoot, type RootChanges } from "../offline/next-root.ts";
import { defaultOnlineKeyUri } from "../offline/bootstrap-payload.ts";
import { addRootSignatures, rootSignersFor } from "../offline/root-signing.ts";
import { formatRootSummary, formatStatus, summarizeRoot, thresholdsMet } from "../offline/root-summary.ts";
import { parseDays } from "../offline/expiration.ts";
import { signedBytesOf, verifyRole } from "../tuf/verify.ts";
import type { NativeSigner } from "../tuf/signer.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool, flagString, flagStrings, parseCount, requireFlag } from "./flags.ts";
import { loadPrivateKey, passphraseFilesFor } from "./passphrase.ts";
import { offlineCommand } from "./errors.ts";
import { processTerminal, type Terminal } from "./terminal.ts";

export const DEFAULT_UPDATE_OUT = "update-payload.json";
export const DEFAULT_ROOT_DAYS = 365;

export const ROOT_HELP = `tufbox root update --in CURRENT_ROOT.json
                   [--add-key FILE.pub]... [--remove-key KEYID]... [--threshold N]
                   [--online-key FILE.pub [--online-key-uri fn:NAME]] [--expires DAYS]
                   [--sign FILE]... [--passphrase-file F]... [--out ${DEFAULT_UPDATE_OUT}] [--force]

Builds root N+1 from root N and writes the RSTUF metadata-update payload
{"metadata": {"root": …}} (POST /api/v1/metadata). Root N+1 must be signed by
the threshold of root N's root keys AND of its own (TUF spec 5.3.4): --sign
takes keys of either; both counts are shown. Missing signatures can be added
later with 'tufbox sign --key K --trusted CURRENT_ROOT.json --in OUT'.

  --in FILE             root N: N.root.json, or the payload that carried it
  --add-key FILE.pub    a new root key (repeat)
  --remove-key KEYID    a root key to drop (full keyid, or 8+ leading characters; repeat)
  --threshold N         the new root threshold (default: unchanged)
  --online-key FILE.pub a new online key for targets, snapshot, timestamp (and bins)
  --online-key-uri URI  where the server finds it (default fn:<keyid>)
  --expires DAYS        root N+1 expires DAYS from now (default ${DEFAULT_ROOT_DAYS})
  --sign FILE           a root private key of root N or N+1 (repeat)
  --passphrase-file F   passphrase of the --sign keys (one for all, or one per key)
  --out FILE            default ${DEFAULT_UPDATE_OUT}; replaced only with --force`;

/** Where root N comes from. */
interface CurrentRootSource {
  load(): RootFile;
}

function fileSource(path: string): CurrentRootSource {
  return { load: () => readRootFile(path) };
}

export async function rootCommand(argv: string[], term: Terminal = processTerminal(), now: Date = new Date()): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === "update") return offlineCommand("root", () => rootUpdate(rest, term, now));
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    term.out(ROOT_HELP);
    if (sub === undefined) throw new UsageError("missing subcommand", "use 'tufbox root update'");
    return;
  }
  throw new UsageError(`unknown subcommand "${sub}"`, "use 'tufbox root update'");
}

async function rootUpdate(argv: string[], term: Terminal, now: Date): Promise<void> {
  const args = parseCommandArgs("root", argv, {
    in: { type: "string" },
    "add-key": { type: "string", multiple: true },
    "remove-key": { type: "string", multiple: true },
    threshold: { type: "string" },
    "online-key": { type: "string" },
    "online-key-uri": { type: "string" },
    expires: { type: "string" },
    sign: { type: "string", multiple: true },
    "passphrase-file": { type: "string", multiple: true },
    out: { type: "string" },
    force: { type: "boolean" },
  });
  const own = args.own;
  if (own.help) return term.out(ROOT_HELP);
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox root update --help'");
  const inPath = requireFlag(own, "in", "root update", "--in 1.root.json --online-key online2.pub --sign root1");
  const current = fileSource(inPath).load();
  const currentSigned = current.root.signed;

  // Building on a root that does not verify with its own threshold is almost always a mistake (wrong file).
  const selfCheck = verifyRole(signedBytesOf(current.root), current.root.signatures, currentSigned.keys, currentSigned.roles.root);
  if (!selfCheck.verified) term.info(`warning: ${inPath} (root v${currentSigned.version}) has ${selfCheck.signed.length} of ${currentSigned.roles.root.threshold} required signatures: make sure it is the published root`);

  const onlineFile = flagString(own, "online-key");
  const uriFlag = flagString(own, "online-key-uri");
  if (uriFlag !== undefined && onlineFile === undefined) throw new UsageError("--online-key-uri needs --online-key", "give the new online key's .pub file with --online-key");
  const onlineKey = onlineFile !== undefined ? readPublicKeyFile(onlineFile) : undefined;
  const thresholdFlag = flagString(own, "threshold");
  const expiresFlag = flagString(own, "expires");
  const changes: RootChanges = {
    addKeys: flagStrings(own, "add-key").map(readPublicKeyFile),
    removeKeyids: flagStrings(own, "remove-key"),
    threshold: thresholdFlag !== undefined ? parseCount(thresholdFlag, "--threshold", 1, "the root threshold is a whole number of keys, at least 1") : undefined,
    onlineKey: onlineKey ? { key: onlineKey, uri: uriFlag ?? defaultOnlineKeyUri(onlineKey.keyid) } : undefined,
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
      if (signers.some((o) => o.keyid === s.keyid)) throw new UsageError(`--sign ${file}: key ${s.keyid} is given twice`, "give each --sign key once");
      signers.push(s);
    }
  }
  const root = addRootSignatures({ signed, signatures: [] }, signers);
  const summary = summarizeRoot(root, { kind: "update", trusted: current.root, now });
  if (summary.problems.length > 0) throw new UsageError(`root v${signed.version} would be refused: ${summary.problems.join("; ")}`, "check the changes given");

  const out = flagString(own, "out") ?? DEFAULT_UPDATE_OUT;
  writeDocument(out, { metadata: { root } }, { replace: flagBool(own, "force"), what: "metadata-update payload" });

  term.out(formatRootSummary(summary, currentSigned.keys));
  term.out(`\nwrote ${out} (metadata-update payload for root v${signed.version}, public data only)`);
  if (!thresholdsMet(summary)) {
    term.out("still needed:");
    for (const st of summary.status) if (!st.result.verified) term.out(`  ${formatStatus(st, st.of === "document" ? signed.keys : currentSigned.keys)}`);
    term.out(`each missing signer runs: tufbox sign --key THEIR_KEY --trusted ${inPath} --in ${out} --out ${out}`);
  }
  if (onlineKey) term.out(`before sending: copy the new online private key to the server's online-key directory${changes.onlineKey!.uri.startsWith("fn:") ? ` as ${changes.onlineKey!.uri.slice(3)}` : ""}`);
  term.out(`send ${out} to POST /api/v1/metadata (the server publishes root v${signed.version} once both thresholds are met)`);
}
