/**
 * A delegated role's next version, signed elsewhere and uploaded whole
 * (issue 17 item 4; RSTUF issues #647 and #244, draft API PR #939
 * `POST /api/v1/delegations/metadata` with `{rolename, metadata}`, worker PR
 * #889). A team holding the offline keys of its own delegated role submits a
 * fully signed targets document; it is published as signed, followed by a
 * snapshot and a timestamp that list it.
 *
 * The document is checked when it arrives, so a bad one is answered with a
 * 422 naming the field and nothing is queued; the same checks run again
 * under the publisher lock (the published state may have moved in between),
 * and a document that no longer fits fails its task instead.
 *
 * What makes a document acceptable, in the order checked:
 * - it is targets metadata (spec 4.5) tufbox can re-serialize byte for byte:
 *   signatures cover the canonical JSON of `signed` (tuf/canonical.ts), and
 *   the signatures are verified over exactly the text tufbox will publish;
 * - its role is a delegated role of top-level targets signed by offline keys
 *   (an online-key role is signed by the service); a version of it waiting in
 *   a signing session is superseded, unless it holds accepted artifact
 *   changes, which an upload would drop;
 * - its version is the published one + 1 (spec 5.6.4: rollback and replay);
 * - it has not expired;
 * - it delegates nothing further (snapshot would have to list roles tufbox
 *   does not hold);
 * - every target path is a valid TARGETPATH inside the role's `paths` or
 *   `path_hash_prefixes`, and is the role a client's search finds first
 *   (spec 5.6.7): tufbox keeps one role per path;
 * - clients can download it (tuf/limits.ts: the 5,000,000-byte cap for
 *   targets roles, and nesting);
 * - it verifies with the delegation's keys and threshold (tuf/verify.ts).
 */
import type { AuditActor } from "../store/store.ts";
import { canonicalJson, utf8 } from "../tuf/canonical.ts";
import { parseExpires } from "../tuf/dates.ts";
import { firstRoleForPath, roleMatchesPath } from "../tuf/delegation.ts";
import { serializeEnvelope } from "../tuf/document.ts";
import { TufError } from "../tuf/errors.ts";
import { clientLimitViolation } from "../tuf/limits.ts";
import { checkTargetPath, type Metadata, parseTargets, type TargetsSigned } from "../tuf/metadata.ts";
import { verifyRole } from "../tuf/verify.ts";
import { publishLocked } from "./batch.ts";
import { delegatedRole, type Engine, isOfflineRole, type TaskOutcomeReport } from "./engine.ts";
import { ValidationError } from "./errors.ts";
import { loadSessions, type Sessions, type SigningSession } from "./signing-sessions.ts";
import type { PublishedState } from "./state.ts";

/** RSTUF's task name for delegation work (the draft API queues this upload as one). */
const TASK = "metadata_delegation";

const META: (string | number)[] = ["body", "metadata"];
const SIGNED = [...META, "signed"];

const refuse = (loc: (string | number)[], msg: string): never => {
  throw ValidationError.at(loc, msg);
};

/**
 * The uploaded document, checked against the published state; throws
 * ValidationError (422) with the field and what is wrong.
 */
export function checkDelegatedUpload(
  st: PublishedState,
  sessions: Sessions,
  rolename: string,
  document: unknown,
  now: Date,
): Metadata<TargetsSigned> {
  let meta: Metadata<TargetsSigned>;
  try {
    meta = parseTargets(document, "metadata");
  } catch (err) {
    if (err instanceof TufError) throw ValidationError.fromTuf(err, ["body"]);
    throw err;
  }
  const signed = meta.signed;
  const role = delegatedRole(st, rolename);
  if (!role) refuse(["body", "rolename"], `${rolename} is not a delegated role of this repository`);
  if (!isOfflineRole(st, rolename))
    refuse(
      ["body", "rolename"],
      `${rolename} is signed by the online key: the service signs its versions; only roles with offline keys are uploaded`,
    );
  const session = Object.hasOwn(sessions, rolename) ? sessions[rolename] : undefined;
  if (session && (session.tasks?.length ?? 0) > 0)
    refuse(
      ["body", "rolename"],
      `${rolename} v${session.metadata.signed.version} is waiting for signatures and holds accepted artifact changes: sign it (POST /api/v1/metadata/sign) before uploading a new version`,
    );
  const head = st.heads.get(rolename)?.version ?? 0;
  if (signed.version !== head + 1)
    refuse(
      [...SIGNED, "version"],
      `expected version ${head + 1} (the published ${rolename} is version ${head}), got ${signed.version}`,
    );
  const expires = parseExpires(signed.expires, "expires");
  if (expires.getTime() <= now.getTime())
    refuse([...SIGNED, "expires"], `${signed.expires} is in the past: the document has expired`);
  if (signed.delegations !== undefined)
    refuse(
      [...SIGNED, "delegations"],
      "an uploaded role must not delegate further: snapshot would have to list roles this repository does not hold",
    );
  const roles = st.targets.delegations?.roles ?? [];
  for (const path of Object.keys(signed.targets)) {
    const at = [...SIGNED, "targets", path];
    try {
      checkTargetPath(path, "");
    } catch (err) {
      if (err instanceof TufError) refuse(at, err.message);
      throw err;
    }
    if (!roleMatchesPath(role!, path))
      refuse(at, `${path} is outside the paths delegated to ${rolename} (${delegatedPaths(role!)})`);
    const first = firstRoleForPath(roles, path);
    if (first && first.name !== rolename)
      refuse(
        at,
        `${path} is delegated to ${first.name} first (clients search delegations in order): tufbox keeps a path in the first role that matches it`,
      );
  }
  const violation = clientLimitViolation(rolename, serializeEnvelope(canonicalJson(signed), meta.signatures));
  if (violation) refuse(META, violation);
  const check = verifyRole(utf8(canonicalJson(signed)), meta.signatures, st.targets.delegations!.keys, role!);
  if (check.invalid.length > 0)
    refuse(
      [...META, "signatures"],
      `signature by ${check.invalid.join(", ")} does not verify over the canonical JSON of signed`,
    );
  if (!check.verified)
    refuse(
      [...META, "signatures"],
      `${check.signed.length} of the ${check.threshold} signatures ${rolename} needs (threshold ${check.threshold} of keys ${role!.keyids.join(", ")}); missing: ${check.unsigned.join(", ")}`,
    );
  return meta;
}

function delegatedPaths(role: { paths?: string[]; path_hash_prefixes?: string[] }): string {
  if (role.paths) return `paths ${role.paths.join(", ")}`;
  return `path_hash_prefixes ${(role.path_hash_prefixes ?? []).join(", ")}`;
}

/**
 * Check an uploaded document (422 when bad), then publish it with a new
 * snapshot and timestamp as a background task (RSTUF: 202 + task id).
 */
export async function acceptDelegatedUpload(
  e: Engine,
  rolename: string,
  document: unknown,
  actor: AuditActor,
  catchUp: () => Promise<unknown>,
): Promise<{ taskId: string; version: number }> {
  // Checked against the latest publication, wherever it was made (another replica may be ahead).
  await catchUp();
  const st = e.requireBootstrapped();
  const meta = checkDelegatedUpload(st, await loadSessions(e), rolename, document, e.now());
  const version = meta.signed.version;
  const summary = { role: rolename, version, targets: Object.keys(meta.signed.targets).length };
  const { taskId } = await e.startTask(TASK, { actor, summary }, () =>
    e.store.withLock("publisher", async (): Promise<TaskOutcomeReport> => {
      // Checked again: another upload, a delegation change or a replica may have published since.
      await catchUp();
      const sessions = await loadSessions(e);
      try {
        checkDelegatedUpload(e.requireBootstrapped(), sessions, rolename, document, e.now());
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        return {
          ok: false,
          message: "Metadata Delegation Failed",
          error: err.message,
          details: { delegated_roles: [], failed_roles: [{ role: rolename, reason: err.issues[0]!.msg }] },
        };
      }
      // A pending version holding no accepted changes (v1 after bootstrap, a re-sign) is superseded.
      delete sessions[rolename];
      const uploaded: SigningSession = {
        role: rolename,
        kind: "delegation",
        taskId: "",
        metadata: meta,
        createdAt: e.now().toISOString(),
        tasks: [],
      };
      // Published exactly as signed, like a signing session that just completed (batch.ts).
      await publishLocked(e, [], new Set(), { signedRole: uploaded, sessions });
      return {
        ok: true,
        message: "Metadata Delegation Processed",
        details: { delegated_roles: [rolename], failed_roles: [], version },
      };
    }),
  );
  return { taskId, version };
}
