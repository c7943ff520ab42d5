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
import type { KeyObject } from "node:crypto";
import { computeKeyId, type KeyJSON } from "../tuf/keys.ts";
import { metadataFileName } from "../tuf/file-names.ts";
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import { parseExpires } from "../tuf/dates.ts";
import { roleMatchesPath } from "../tuf/delegation.ts";
import { TufError } from "../tuf/errors.ts";
import {
  parseRoot,
  parseTargets,
  type DelegatedRole,
  type Metadata,
  type RootSigned,
  type TargetFile,
  type TargetsSigned,
} from "../tuf/metadata.ts";
import { signedBytesOf, verifyRole, type VerificationResult } from "../tuf/verify.ts";
import { readRootFile, withRoot, writeDocument, type RootFile } from "../offline/root-files.ts";
import { reviewRoot, signRoot, type RootSignature, type RootToSign } from "../offline/root-signing.ts";
import { formatRootSummary, formatStatus, keyLabel, thresholdsMet } from "../offline/root-summary.ts";
import { isKeyOf, publicKeyOf, signerAs } from "../offline/key-files.ts";
import { parseCommandArgs, UsageError, type ParsedArgs } from "./args.ts";
import { flagBool, flagString, requireFlag } from "./flags.ts";
import { loadPrivateKey } from "./passphrase.ts";
import { confirm, type Terminal } from "./terminal.ts";
import {
  apiClient,
  jsonFlag,
  outcomeOf,
  Output,
  serverCommand,
  ServerError,
  serverTerminal,
  SERVER_FLAGS,
  SERVER_FLAGS_HELP,
  taskJson,
  verifiedCurrentRoot,
  wantsServer,
  type ApiClient,
  type ServerTerminal,
  type TaskData,
} from "./client.ts";
import { postSignature, signOutcome } from "./send.ts";

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

interface SignOptions {
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

function declined(where: string): UsageError {
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

/** A pending or trusted document from the server that does not parse: the server's fault (exit 1). */
function fromServer<T>(api: ApiClient, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TufError)
      throw new ServerError(
        `the server's ${what} is not valid TUF metadata: ${err.message}`,
        `do not sign it; check the server (tufbox status --server ${api.server})`,
      );
    throw err;
  }
}

/** GET /api/v1/metadata/sign: the pending documents by role (and trusted_root / trusted_targets), or undefined. */
export async function pendingDocuments(api: ApiClient): Promise<Record<string, unknown> | undefined> {
  const r = await api.get("/api/v1/metadata/sign", { what: "read the documents pending signatures" });
  const metadata = r.body?.data?.metadata;
  return metadata && typeof metadata === "object" && Object.keys(metadata).length > 0
    ? (metadata as Record<string, unknown>)
    : undefined;
}

export function pendingRoles(pending: Record<string, unknown>): string[] {
  return Object.keys(pending).filter((k) => k !== "trusted_root" && k !== "trusted_targets");
}

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

// ------------------------------------------------------------------ delegated roles

function describeTarget(info: TargetFile): string {
  const sha = info.hashes.sha256 ?? Object.values(info.hashes)[0];
  return `${info.length} bytes${sha ? `, ${info.hashes.sha256 ? "sha256" : Object.keys(info.hashes)[0]} ${sha.slice(0, 16)}…` : ""}`;
}

const MAX_LISTED = 50;

/** Target changes of the pending version against the published one, one line each. */
export function targetChanges(
  pending: Record<string, TargetFile>,
  published: Record<string, TargetFile>,
): { added: string[]; removed: string[]; changed: string[]; lines: string[] } {
  const added = Object.keys(pending)
    .filter((p) => !(p in published))
    .sort();
  const removed = Object.keys(published)
    .filter((p) => !(p in pending))
    .sort();
  const changed = Object.keys(pending)
    .filter((p) => p in published && canonicalJson(pending[p]) !== canonicalJson(published[p]))
    .sort();
  const lines: string[] = [];
  for (const p of added) lines.push(`+ ${p} (${describeTarget(pending[p]!)})`);
  for (const p of removed) lines.push(`- ${p}`);
  for (const p of changed) {
    const a = published[p]!;
    const b = pending[p]!;
    const what: string[] = [];
    if (a.length !== b.length) what.push(`length ${a.length} → ${b.length}`);
    if (canonicalJson(a.hashes) !== canonicalJson(b.hashes)) what.push("hashes changed");
    if (canonicalJson(a.custom ?? null) !== canonicalJson(b.custom ?? null)) what.push("custom changed");
    lines.push(`~ ${p} (${what.join(", ") || "changed"})`);
  }
  if (lines.length > MAX_LISTED) {
    const more = lines.length - MAX_LISTED;
    lines.length = MAX_LISTED;
    lines.push(`… and ${more} more`);
  }
  return { added, removed, changed, lines };
}

function statusLine(role: string, version: number, r: VerificationResult, keys: Record<string, KeyJSON>): string {
  const n = r.signed.length + r.unsigned.length;
  let line = `${role} v${version}: ${r.signed.length} of ${n} signed, threshold ${r.threshold}${r.verified ? " — met" : ` — ${r.threshold - r.signed.length} more needed`}`;
  const missing = r.unsigned.filter((id) => !r.invalid.includes(id));
  if (!r.verified && missing.length > 0)
    line += `\n    unsigned: ${missing.map((id) => keyLabel(keys, id)).join(", ")}`;
  if (r.invalid.length > 0) line += `\n    INVALID signature from: ${r.invalid.join(", ")}`;
  return line;
}

function findSigningKeyid(
  privateKey: KeyObject,
  role: DelegatedRole,
  keys: Record<string, KeyJSON>,
): string | undefined {
  return role.keyids.find((id) => keys[id] !== undefined && isKeyOf(privateKey, keys[id]!));
}

async function signDelegatedOnServer(
  api: ApiClient,
  out: Output,
  pending: Record<string, unknown>,
  role: string,
  keyFile: string,
  opts: SignOptions,
  noWait: boolean,
): Promise<void> {
  const doc = fromServer(api, `pending ${role}`, () => parseTargets(pending[role], role)) as Metadata<TargetsSigned>;
  if (pending.trusted_targets === undefined)
    throw new ServerError(
      `the server sent ${role} without trusted_targets`,
      "the published targets metadata names the role's keys; is the server tufbox / RSTUF ≥ 1.0?",
    );
  const trustedTargets = fromServer(api, "trusted_targets", () =>
    parseTargets(pending.trusted_targets, "trusted_targets"),
  );
  const delegations = trustedTargets.signed.delegations;
  const def = delegations?.roles?.find((r) => r.name === role);
  if (!delegations || !def)
    throw new ServerError(
      `${role} is not a delegated role of the published targets v${trustedTargets.signed.version}`,
      `see tufbox status --server ${api.server}`,
    );
  const keys = delegations.keys;
  const signed = doc.signed;
  const version = signed.version;
  const previousName = metadataFileName(role, version - 1);

  // What is published now, to show what changes.
  let published: Metadata<TargetsSigned> | undefined;
  if (version > 1) {
    const value = await api.metadata(previousName);
    if (value !== undefined) published = fromServer(api, previousName, () => parseTargets(value, role));
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  if (parseExpires(signed.expires).getTime() <= opts.now.getTime())
    problems.push(`${role} v${version} expired at ${signed.expires}`);
  if (published && published.signed.version !== version - 1)
    problems.push(`${previousName} holds version ${published.signed.version}`);
  if (version > 1 && !published)
    warnings.push(
      `${role} v${version - 1} is not published at ${api.opts.metadataUrl}/${previousName}: changes cannot be shown`,
    );
  const outside = Object.keys(signed.targets).filter((p) => !roleMatchesPath(def, p));
  if (outside.length > 0)
    warnings.push(
      `${outside.length} target(s) outside the role's ${def.paths ? `paths ${def.paths.join(" ")}` : "hash prefixes"} (clients ignore them): ${outside.slice(0, 5).join(", ")}${outside.length > 5 ? ", …" : ""}`,
    );

  const bytes = signedBytesOf(doc);
  const before = verifyRole(bytes, doc.signatures, keys, def);
  const lines: string[] = [];
  lines.push(`${role} v${version} — delegated targets role, pending signatures on ${api.server}`);
  lines.push(`  expires      ${signed.expires}`);
  lines.push(
    `  targets      ${Object.keys(signed.targets).length}${published ? ` (published v${published.signed.version}: ${Object.keys(published.signed.targets).length})` : ""}`,
  );
  lines.push(
    `  delegation   ${def.paths ? `paths ${def.paths.join(" ")}` : `hash prefixes ${def.path_hash_prefixes?.join(" ") ?? ""}`}${def.terminating ? ", terminating" : ""}`,
  );
  lines.push(
    `  signers      threshold ${def.threshold} of ${def.keyids.length} (published targets v${trustedTargets.signed.version}):`,
  );
  for (const id of def.keyids) lines.push(`                 ${keyLabel(keys, id)}`);
  const changes = targetChanges(signed.targets, published?.signed.targets ?? {});
  lines.push(
    published
      ? `changes from published v${published.signed.version}: ${changes.added.length} added, ${changes.removed.length} removed, ${changes.changed.length} changed`
      : version === 1
        ? "new role: first version"
        : "changes: unknown (previous version not found)",
  );
  for (const l of changes.lines) lines.push(`  ${l}`);
  lines.push("signatures:");
  lines.push(`  ${statusLine(role, version, before, keys)}`);
  for (const w of warnings) lines.push(`warning: ${w}`);
  for (const p of problems) lines.push(`PROBLEM: ${p}`);
  out.say(lines.join("\n"));
  if (problems.length > 0)
    throw new ServerError(
      `refusing to sign ${role} v${version}: ${problems.join("; ")}`,
      `the pending version cannot be published as it is; see tufbox status --server ${api.server}`,
    );

  const privateKey = await loadPrivateKey(out.term, keyFile, opts.passphraseFile);
  const keyid = findSigningKeyid(privateKey, def, keys);
  if (keyid === undefined) {
    throw new UsageError(
      `key ${computeKeyId(publicKeyOf(privateKey))} (${keyFile}) is not a signing key of ${role}`,
      `${role} is signed by: ${def.keyids.map((id) => keyLabel(keys, id)).join(", ")}`,
    );
  }
  if (
    out.term.interactive &&
    !opts.yes &&
    !(await confirm(out.term, `Sign ${role} v${version} with key ${keyid} (${keyFile})?`))
  )
    throw declined("nothing was sent");
  const sig = signerAs(privateKey, keyid, keys[keyid]!).sign(utf8(canonicalJson(signed)));
  const after = verifyRole(bytes, [...doc.signatures.filter((s) => s.keyid !== keyid), { keyid, sig }], keys, def);
  out.say(`\nsigned ${role} v${version} as ${keyid}; sending the signature`);
  const task = await postSignature(api, out, role, { keyid, sig }, noWait);
  out.say(`  ${statusLine(role, version, after, keys)}`);
  out.say(signOutcome(task));
  if (outcomeOf(task) === "pending_signatures")
    out.say(
      `next: each remaining key holder of ${role} runs\n  tufbox sign --key THEIR_KEY --role ${role} --server ${api.server}`,
    );
  out.result({
    role,
    version,
    keyids: [keyid],
    outcome: outcomeOf(task),
    message: signOutcome(task),
    tasks: [taskJson(task)],
  });
}
