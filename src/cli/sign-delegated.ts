import type { KeyObject } from "node:crypto";
import { computeKeyId, type KeyJSON } from "../tuf/keys.ts";
import { metadataFileName } from "../tuf/file-names.ts";
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import { parseExpires } from "../tuf/dates.ts";
import { roleMatchesPath } from "../tuf/delegation.ts";
import {
  parseTargets,
  type DelegatedRole,
  type Metadata,
  type TargetFile,
  type TargetsSigned,
} from "../tuf/metadata.ts";
import { signedBytesOf, verifyRole, type VerificationResult } from "../tuf/verify.ts";
import { keyLabel } from "../offline/root-summary.ts";
import { isKeyOf, publicKeyOf, signerAs } from "../offline/key-files.ts";
import { UsageError } from "./args.ts";
import { loadPrivateKey } from "./passphrase.ts";
import { confirm } from "./terminal.ts";
import { ServerError, type ApiClient } from "./client.ts";
import type { Output } from "./output.ts";
import { outcomeOf, taskJson } from "./task-follow.ts";
import { postSignature, signOutcome } from "./send.ts";
import { fromServer } from "./pending.ts";
import { declined, type SignOptions } from "./sign.ts";

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

export async function signDelegatedOnServer(
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
