/**
 * `tufbox sign`: add one root key's signature to a root document — a
 * ceremony's bootstrap payload, a root update's metadata-update payload, or a
 * root metadata file — after showing what is being signed.
 *
 * The document comes from a `RootSource` and the result goes back through
 * it: files now (`--in`/`--out`); a server's signing session later
 * (`--server URL`: GET /api/v1/metadata/sign for the pending root and
 * trusted_root, POST /api/v1/metadata/sign with each new signature).
 */
import { resolve } from "node:path";
import { computeKeyId } from "../tuf/keys.ts";
import { readRootFile, withRoot, writeDocument, type RootFile } from "../offline/root-files.ts";
import { reviewRoot, signRoot, type RootSignature, type RootToSign } from "../offline/root-signing.ts";
import { formatRootSummary, formatStatus, thresholdsMet } from "../offline/root-summary.ts";
import { publicKeyOf } from "../offline/key-files.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool, flagString, requireFlag } from "./flags.ts";
import { loadPrivateKey } from "./passphrase.ts";
import { offlineCommand } from "./errors.ts";
import { confirm, processTerminal, type Terminal } from "./terminal.ts";

export const SIGN_HELP = `tufbox sign --key FILE --in FILE [--out FILE] [--trusted FILE] [--role root]
            [--passphrase-file F] [--yes] [--force]

Adds the signature of one root key to a root document and writes it back (in
place when --out is omitted or equals --in). --in is a bootstrap payload
(tufbox ceremony), a metadata-update payload (tufbox root update) or a root
metadata file (N.root.json).

Before signing it shows version, expiry, keys and thresholds, what changed
from --trusted (the root this one follows: N.root.json, or the payload that
carried it) and how many signatures each threshold still needs; in a
terminal it asks for confirmation (--yes skips that). The key is matched to
the root's keys by key material, so keyids written by other tools work. For a
root update, give --trusted: keys the update removes must sign too, and
changes are only shown against the trusted root.

  --key FILE            the root private key (PKCS#8 PEM); its passphrase comes from
                        --passphrase-file F, TUFBOX_KEY_PASSPHRASE, or a prompt
  --role root           the role to sign (offline: root)
  --force               replace an existing --out that is not --in`;

/** Where the document to sign comes from and where the signed one goes. */
interface RootSource {
  load(): RootToSign;
  /** describes the destination, for the final message */
  save(signed: RootSignature): string;
}

function fileSource(inPath: string, outPath: string, trustedPath: string | undefined, force: boolean): RootSource {
  let file: RootFile;
  return {
    load() {
      file = readRootFile(inPath);
      if (trustedPath !== undefined && file.kind === "bootstrap") {
        throw new UsageError("--trusted does not apply to a bootstrap payload", "root v1 follows no earlier root; drop --trusted");
      }
      return { root: file.root, kind: file.kind, trusted: trustedPath !== undefined ? readRootFile(trustedPath).root : undefined };
    },
    save(signed) {
      const inPlace = resolve(outPath) === resolve(inPath);
      writeDocument(outPath, withRoot(file, signed.root), { replace: inPlace || force, what: "signed document" });
      return inPlace ? `${outPath} (in place)` : outPath;
    },
  };
}

/** Show, confirm, sign: the same steps for every source. Returns undefined when the signer declines. */
async function signFrom(term: Terminal, source: RootSource, keyFile: string, opts: { passphraseFile?: string; yes: boolean; now: Date }): Promise<{ doc: RootToSign; signed: RootSignature } | undefined> {
  const doc = source.load();
  const before = reviewRoot(doc, opts.now);
  term.out(formatRootSummary(before, doc.trusted?.signed.keys));
  const privateKey = await loadPrivateKey(term, keyFile, opts.passphraseFile);
  const question = `Sign root v${doc.root.signed.version} with key ${computeKeyId(publicKeyOf(privateKey))} (${keyFile})?`;
  // Refuses a non-root key before asking anything.
  const signed = signRoot(doc, { privateKey, source: keyFile }, opts.now);
  if (term.interactive && !opts.yes && !(await confirm(term, question))) return undefined;
  return { doc, signed };
}

export async function signCommand(argv: string[], term: Terminal = processTerminal(), now: Date = new Date()): Promise<void> {
  return offlineCommand("sign", async () => {
    const args = parseCommandArgs("sign", argv, {
      key: { type: "string" },
      role: { type: "string" },
      in: { type: "string" },
      out: { type: "string" },
      trusted: { type: "string" },
      "passphrase-file": { type: "string" },
      yes: { type: "boolean", short: "y" },
      force: { type: "boolean" },
    });
    if (args.own.help) return term.out(SIGN_HELP);
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "the document is given with --in FILE");
    const role = flagString(args.own, "role") ?? "root";
    if (role !== "root") throw new UsageError(`--role ${role} cannot be signed offline`, "offline signing handles root documents; delegated roles pending signatures are signed against a server (--server, coming)");
    const keyFile = requireFlag(args.own, "key", "sign", "--key root1 --in ceremony-payload.json");
    const inPath = requireFlag(args.own, "in", "sign", "--key root1 --in ceremony-payload.json");
    const outPath = flagString(args.own, "out") ?? inPath;
    const source = fileSource(inPath, outPath, flagString(args.own, "trusted"), flagBool(args.own, "force"));
    const result = await signFrom(term, source, keyFile, { passphraseFile: flagString(args.own, "passphrase-file"), yes: flagBool(args.own, "yes"), now });
    if (!result) throw new UsageError("not signed: the signature was declined", "nothing was written; run the command again and answer y (or pass --yes)");
    const { doc, signed } = result;
    const where = source.save(signed);
    const what = signed.keyids.map((id) => `${id}${signed.replaced.includes(id) ? " (replacing its earlier signature)" : ""}`).join(", ");
    term.out(`\nsigned root v${signed.root.signed.version} as ${what}; wrote ${where}`);
    for (const st of signed.after.status) term.out(`  ${formatStatus(st, st.of === "document" ? signed.root.signed.keys : (doc.trusted?.signed.keys ?? {}))}`);
    if (thresholdsMet(signed.after)) term.out("every threshold is met: the document is ready to send to the server");
  });
}
