/**
 * `tufbox sign`: add one key's signature to a document after showing what is
 * being signed.
 *
 * Offline (`--in FILE`): a root document — a ceremony's bootstrap payload, a
 * root update's metadata-update payload, or a root metadata file — signed in
 * place or written to `--out`.
 *
 * Against a server (`--server URL`): the signing session of GET
 * /api/v1/metadata/sign — the pending root (with `trusted_root`, the root it
 * follows), or a pending delegated targets role (`--role NAME`, with
 * `trusted_targets`, which names the role's keys and threshold) — each new
 * signature POSTed to /api/v1/metadata/sign, the task followed to its end.
 */
import { resolve } from "node:path";
import { computeKeyId } from "../tuf/keys.ts";
import { metadataFileName } from "../tuf/file-names.ts";
import { canonicalJson } from "../tuf/canonical.ts";
import { parseRoot } from "../tuf/metadata.ts";
import { readRootFile, withRoot, writeDocument, type RootFile } from "../offline/root-files.ts";
import { reviewRoot, signRoot, type RootSignature, type RootToSign } from "../offline/root-signing.ts";
import { formatRootSummary, formatStatus, thresholdsMet } from "../offline/root-summary.ts";
import { publicKeyOf } from "../offline/key-files.ts";
import { parseCommandArgs, UsageError, type ParsedArgs } from "./args.ts";
import { flagBool, flagString, requireFlag } from "./flags.ts";
import { loadPrivateKey } from "./passphrase.ts";
import { confirm, type Terminal } from "./terminal.ts";
import { apiClient, serverCommand, ServerError, type ApiClient, type TaskData } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP, wantsServer } from "./server-options.ts";
import { outcomeOf, taskJson } from "./task-follow.ts";
import { verifiedCurrentRoot } from "./server-root.ts";
import { postSignature, signOutcome } from "./send.ts";
import { fromServer, pendingDocuments, pendingRoles } from "./pending.ts";
import { signDelegatedOnServer } from "./sign-delegated.ts";

export const SIGN_HELP = `tufbox sign --key FILE --in FILE [--out FILE] [--trusted FILE] [--role root]
            [--passphrase-file F] [--yes] [--force]
tufbox sign --key FILE --server URL [--role root|NAME] [--trusted FILE]
            [--passphrase-file F] [--yes] [--token TOKEN] [--json]

Adds the signature of one key to a document after showing what is signed;
in a terminal it asks for confirmation (--yes skips that).

Offline (--in): a root document, written back in place when --out is omitted
or equals --in. --in is a bootstrap payload (tufbox ceremony), a
metadata-update payload (tufbox root update) or a root metadata file
(N.root.json). It shows version, expiry, keys and thresholds, what changed
from --trusted (the root this one follows: N.root.json, or the payload that
carried it) and how many signatures each threshold still needs. The key is
matched to the root's keys by key material, so keyids written by other tools
work. For a root update, give --trusted: keys the update removes must sign
too, and changes are only shown against the trusted root.

Against a server (--server URL, default $TUFBOX_SERVER when --in is not
given): signs what is pending in the server's signing session and sends the
signature (POST /api/v1/metadata/sign), then follows the task:
  --role root (default)  the pending root v1 (bootstrap) or root N+1 (update),
                         reviewed against the server's current root; --trusted
                         FILE (a root you already trust, e.g. your 1.root.json)
                         checks that current root by walking N.root.json
  --role NAME            a delegated targets role signed by offline keys:
                         version, expiry, targets added / removed / changed
                         since the published version, its keys and threshold

  --key FILE            the private key (PKCS#8 PEM); its passphrase comes from
                        --passphrase-file F, TUFBOX_KEY_PASSPHRASE, or a prompt
  --force               replace an existing --out that is not --in
${SERVER_FLAGS_HELP}
  --no-wait             do not wait for tasks that wait for offline signatures`;

export const FLAGS = {
  key: { type: "string" },
  role: { type: "string" },
  in: { type: "string" },
  out: { type: "string" },
  trusted: { type: "string" },
  "passphrase-file": { type: "string" },
  yes: { type: "boolean", short: "y" },
  force: { type: "boolean" },
  "no-wait": { type: "boolean" },
  ...SERVER_FLAGS,
} as const;

export interface SignOptions {
  passphraseFile?: string;
  yes: boolean;
  now: Date;
}

/** Show, confirm, sign a root. Returns undefined when the signer declines. */
async function signRootDoc(
  term: Terminal,
  say: (text: string) => void,
  doc: RootToSign,
  keyFile: string,
  opts: SignOptions,
): Promise<RootSignature | undefined> {
  const before = reviewRoot(doc, opts.now);
  say(formatRootSummary(before, doc.trusted?.signed.keys));
  const privateKey = await loadPrivateKey(term, keyFile, opts.passphraseFile);
  const question = `Sign root v${doc.root.signed.version} with key ${computeKeyId(publicKeyOf(privateKey))} (${keyFile})?`;
  // Refuses a non-root key before asking anything.
  const signed = signRoot(doc, { privateKey, source: keyFile }, opts.now);
  if (term.interactive && !opts.yes && !(await confirm(term, question))) return undefined;
  return signed;
}

export function declined(where: string): UsageError {
  return new UsageError(
    "not signed: the signature was declined",
    `${where}; run the command again and answer y (or pass --yes)`,
  );
}

function signedAs(signed: RootSignature): string {
  return signed.keyids
    .map((id) => `${id}${signed.replaced.includes(id) ? " (replacing its earlier signature)" : ""}`)
    .join(", ");
}

export async function signCommand(
  argv: string[],
  term: ServerTerminal = serverTerminal(),
  now: Date = new Date(),
): Promise<void> {
  let json = false;
  return serverCommand(
    "sign",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("sign", argv, FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(SIGN_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(
          `unexpected argument "${args.positionals[0]}"`,
          "the document is given with --in FILE, or comes from --server URL",
        );
      const inPath = flagString(args.own, "in");
      if (inPath !== undefined && flagString(args.own, "server") !== undefined)
        throw new UsageError(
          "--in and --server exclude each other",
          "sign a file offline (--in), or what a server has pending (--server)",
        );
      if (inPath === undefined && wantsServer(args.own, term)) return signOnServer(args, term, now, json);
      if (json)
        throw new UsageError("--json is for --server mode", "offline signing writes the signed document to --out");
      return signOffline(args, term, now);
    },
  );
}

// ------------------------------------------------------------------ offline

async function signOffline(args: ParsedArgs, term: Terminal, now: Date): Promise<void> {
  const own = args.own;
  const role = flagString(own, "role") ?? "root";
  if (role !== "root")
    throw new UsageError(
      `--role ${role} cannot be signed offline`,
      `offline signing handles root documents; a delegated role pending signatures is signed against the server: tufbox sign --key FILE --role ${role} --server URL`,
    );
  const keyFile = requireFlag(own, "key", "sign", "--key root1 --in ceremony-payload.json");
  const inPath = requireFlag(own, "in", "sign", "--key root1 --in ceremony-payload.json");
  const outPath = flagString(own, "out") ?? inPath;
  const trustedPath = flagString(own, "trusted");
  const file: RootFile = readRootFile(inPath);
  if (trustedPath !== undefined && file.kind === "bootstrap")
    throw new UsageError(
      "--trusted does not apply to a bootstrap payload",
      "root v1 follows no earlier root; drop --trusted",
    );
  const doc: RootToSign = {
    root: file.root,
    kind: file.kind,
    trusted: trustedPath !== undefined ? readRootFile(trustedPath).root : undefined,
  };
  const signed = await signRootDoc(term, (t) => term.out(t), doc, keyFile, {
    passphraseFile: flagString(own, "passphrase-file"),
    yes: flagBool(own, "yes"),
    now,
  });
  if (!signed) throw declined("nothing was written");
  const inPlace = resolve(outPath) === resolve(inPath);
  writeDocument(outPath, withRoot(file, signed.root), {
    replace: inPlace || flagBool(own, "force"),
    what: "signed document",
  });
  const where = inPlace ? `${outPath} (in place)` : outPath;
  term.out(`\nsigned root v${signed.root.signed.version} as ${signedAs(signed)}; wrote ${where}`);
  for (const st of signed.after.status)
    term.out(
      `  ${formatStatus(st, st.of === "document" ? signed.root.signed.keys : (doc.trusted?.signed.keys ?? {}))}`,
    );
  if (thresholdsMet(signed.after)) term.out("every threshold is met: the document is ready to send to the server");
}

// ------------------------------------------------------------------ server

async function signOnServer(args: ParsedArgs, term: ServerTerminal, now: Date, json: boolean): Promise<void> {
  const own = args.own;
  if (flagString(own, "out") !== undefined || flagBool(own, "force"))
    throw new UsageError(
      "--out and --force are for offline signing (--in)",
      "against a server the signature is sent to it",
    );
  const api = apiClient(own, term, "sign");
  const out = new Output(term, json);
  const role = flagString(own, "role") ?? "root";
  const keyFile = requireFlag(own, "key", "sign", `--key root2 --server ${api.server}`);
  const opts: SignOptions = { passphraseFile: flagString(own, "passphrase-file"), yes: flagBool(own, "yes"), now };
  const pending = await pendingDocuments(api);
  if (!pending) {
    throw new ServerError(
      `nothing is pending signatures on ${api.server}`,
      `a bootstrap or root update short of its threshold, or artifacts for a role signed by offline keys, open a signing session; see tufbox status --server ${api.server}`,
    );
  }
  const roles = pendingRoles(pending);
  if (!roles.includes(role)) {
    throw new ServerError(
      `${role} is not pending signatures on ${api.server}`,
      roles.length > 0
        ? `pending: ${roles.join(", ")}; choose with --role NAME`
        : `see tufbox status --server ${api.server}`,
    );
  }
  const noWait = flagBool(own, "no-wait");
  if (role === "root") return signRootOnServer(api, out, pending, keyFile, flagString(own, "trusted"), opts, noWait);
  if (flagString(own, "trusted") !== undefined)
    throw new UsageError("--trusted applies to root", `the keys of ${role} come from the published targets metadata`);
  return signDelegatedOnServer(api, out, pending, role, keyFile, opts, noWait);
}

async function signRootOnServer(
  api: ApiClient,
  out: Output,
  pending: Record<string, unknown>,
  keyFile: string,
  trustedFile: string | undefined,
  opts: SignOptions,
  noWait: boolean,
): Promise<void> {
  const root = fromServer(api, "pending root", () => parseRoot(pending.root, "root"));
  const trusted =
    pending.trusted_root !== undefined
      ? fromServer(api, "trusted_root", () => parseRoot(pending.trusted_root, "trusted_root"))
      : undefined;
  if (trustedFile !== undefined) {
    if (!trusted)
      throw new UsageError(
        "--trusted does not apply: the pending root is v1 (a bootstrap)",
        "root v1 follows no earlier root; drop --trusted",
      );
    const mine = readRootFile(trustedFile).root;
    const verified = await verifiedCurrentRoot(api, mine, trustedFile);
    if (canonicalJson(verified.root.signed) !== canonicalJson(trusted.signed)) {
      throw new ServerError(
        `the signing session's trusted_root (v${trusted.signed.version}) is not the published root v${verified.root.signed.version} verified from ${trustedFile}`,
        "do not sign: the server shows a different root than the one it publishes",
      );
    }
    out.say(
      `trusted root v${trusted.signed.version}: verified from ${trustedFile} (root v${mine.signed.version})${verified.walked.length > 0 ? ` through ${verified.walked.map((v) => metadataFileName("root", v)).join(", ")}` : ""}`,
    );
  } else if (trusted) {
    out.say(
      `note: the trusted root v${trusted.signed.version} below is the server's; pass --trusted YOUR_1.root.json to check it against a root you already trust`,
    );
  }
  const doc: RootToSign = { root, trusted, kind: trusted ? "update" : "bootstrap" };
  out.say(`pending on ${api.server}:`);
  const signed = await signRootDoc(out.term, (t) => out.say(t), doc, keyFile, opts);
  if (!signed) throw declined("nothing was sent");
  const version = root.signed.version;
  out.say(
    `\nsigned root v${version} as ${signedAs(signed)}; sending ${signed.signatures.length === 1 ? "the signature" : `${signed.signatures.length} signatures`}`,
  );
  const tasks: TaskData[] = [];
  for (const signature of signed.signatures)
    tasks.push(await postSignature(api, out, "root", { keyid: signature.keyid, sig: signature.sig }, noWait));
  const last = tasks[tasks.length - 1]!;
  for (const st of signed.after.status)
    out.say(`  ${formatStatus(st, st.of === "document" ? signed.root.signed.keys : (trusted?.signed.keys ?? {}))}`);
  out.say(signOutcome(last));
  if (outcomeOf(last) === "pending_signatures")
    out.say(`next: each remaining root key holder runs\n  tufbox sign --key THEIR_KEY --server ${api.server}`);
  else if (version === 1)
    out.say(`the repository is live at ${api.opts.metadataUrl}/ (clients start from 1.root.json)`);
  else out.say(`root v${version} published: clients pick it up on their next update`);
  out.result({
    role: "root",
    version,
    keyids: signed.keyids,
    outcome: outcomeOf(last),
    message: signOutcome(last),
    tasks: tasks.map((t) => taskJson(t)),
  });
}
