/**
 * Intake (DESIGN.md "Artifacts"): adding or removing artifacts, publishing
 * held changes and re-sign requests are accepted durably — written to the
 * store's queue before the 202 — and published later by the one batching
 * publisher (batch.ts). Each request is one task. Which role a path goes to
 * is decided here, at acceptance (TAP 15 bins or the first matching
 * delegation, spec 5.6.7, and that delegation's own bins if it has some).
 */
import type { AuditActor, NewChange } from "../store/store.ts";
import { auditEntry, rolesSummary } from "./audit.ts";
import { canonicalJson } from "../tuf/canonical.ts";
import { firstRoleForPath } from "../tuf/delegation.ts";
import { ONLINE_ROLES, ONLINE_TOP_LEVEL_ROLES } from "../tuf/roles.ts";
import { nestedBinRole, placeInRole } from "./delegated-bins.ts";
import { delegatedRole, type Engine } from "./engine.ts";
import { ValidationError } from "./errors.ts";
import type { AddArtifactsPayload, RemoveArtifactsPayload } from "./payloads.ts";
import type { PublishedState } from "./state.ts";
import { newTaskId, taskResult } from "./task-results.ts";

/** The targets role an artifact path belongs to; "" when no delegation covers it (reported as an invalid path). */
export function roleForPath(st: PublishedState, path: string): string {
  if (st.bins) return st.bins.binForPath(path);
  const role = firstRoleForPath(st.targets.delegations?.roles ?? [], path);
  return role ? placeInRole(role, path) : "";
}

/**
 * Durably accept artifact additions; resolves once they are on disk.
 * `actor` is written to the audit log in the same transaction. `taskId`: a
 * caller that must never add the same batch twice (the drop directory,
 * resuming after a crash) picks the id itself; a second accept with it is a
 * StoreConflictError and writes nothing.
 */
export async function acceptAdd(
  e: Engine,
  p: AddArtifactsPayload,
  actor: AuditActor,
  opts: { taskId?: string } = {},
): Promise<{ taskId: string; paths: string[] }> {
  const st = e.requireBootstrapped();
  const taskId = opts.taskId ?? newTaskId();
  const changes: NewChange[] = p.artifacts.map((a) => {
    const info = p.addTaskIdToCustom
      ? { ...a.info, custom: { ...(a.info.custom ?? {}), added_by_task_id: taskId } }
      : a.info;
    return { kind: "add", path: a.path, role: roleForPath(st, a.path), fragment: canonicalJson(info) };
  });
  const paths = p.artifacts.map((a) => a.path);
  const audit = auditEntry(actor, taskId, "add_artifacts", {
    artifacts: paths.length,
    publish: p.publish,
    ...rolesSummary(changes.map((c) => c.role)),
  });
  if (p.publish) {
    await e.store.accept({ id: taskId, name: "add_artifacts", state: "PENDING" }, changes, false, audit);
    e.wake("accepted");
  } else {
    // Accepted and kept, not published until POST /artifacts/publish: the task itself is done.
    const roles = [...new Set(changes.map((c) => c.role))];
    const result = taskResult(
      "add_artifacts",
      true,
      "Artifact(s) Added",
      { added_artifacts: paths, invalid_paths: [], artifact_roles: roles, published: false },
      e.now(),
    );
    await e.store.accept({ id: taskId, name: "add_artifacts", state: "SUCCESS", result }, changes, true, audit);
  }
  return { taskId, paths };
}

export async function acceptRemove(
  e: Engine,
  p: RemoveArtifactsPayload,
  actor: AuditActor,
): Promise<{ taskId: string; paths: string[] }> {
  const st = e.requireBootstrapped();
  const taskId = newTaskId();
  const changes: NewChange[] = p.paths.map((path) => ({
    kind: "remove",
    path,
    role: roleForPath(st, path),
    fragment: null,
  }));
  const audit = auditEntry(actor, taskId, "remove_artifacts", {
    artifacts: p.paths.length,
    publish: p.publish,
    ...rolesSummary(changes.map((c) => c.role)),
  });
  if (p.publish) {
    await e.store.accept({ id: taskId, name: "remove_artifacts", state: "PENDING" }, changes, false, audit);
    e.wake("accepted");
  } else {
    const result = taskResult(
      "remove_artifacts",
      true,
      "Artifact(s) Removed",
      { deleted_artifacts: p.paths, not_found_artifacts: [], published: false },
      e.now(),
    );
    await e.store.accept({ id: taskId, name: "remove_artifacts", state: "SUCCESS", result }, changes, true, audit);
  }
  return { taskId, paths: p.paths };
}

/** Publish everything accepted with publish_artifacts: false. */
export async function acceptPublish(e: Engine, actor: AuditActor): Promise<{ taskId: string }> {
  e.requireBootstrapped();
  const taskId = newTaskId();
  const released = await e.store.releaseHeldChanges();
  // A marker queued after the released changes completes once they are published.
  await e.store.accept(
    { id: taskId, name: "publish_artifacts", state: "PENDING" },
    [{ kind: "bump", path: "", role: "", fragment: null }],
    false,
    auditEntry(actor, taskId, "publish_artifacts", { released_changes: released }),
  );
  e.wake("accepted");
  return { taskId };
}

/** POST /api/v1/metadata/online: new versions of online roles (empty = all), durably queued. */
export async function acceptBump(
  e: Engine,
  roles: string[],
  actor: AuditActor,
): Promise<{ taskId: string; roles: string[] }> {
  const st = e.requireBootstrapped();
  const all: string[] = st.bins ? [...ONLINE_ROLES] : [...ONLINE_TOP_LEVEL_ROLES];
  const chosen = roles.length === 0 ? all : roles;
  chosen.forEach((r, i) => {
    if (!all.includes(r) && !st.bins?.isBin(r) && !delegatedRole(st, r) && !nestedBinRole(st, r))
      throw ValidationError.at(
        ["body", "roles", i],
        `"${r}" is not an online role (online roles: ${all.join(", ")}, a bin name or a delegated role)`,
      );
  });
  const taskId = newTaskId();
  await e.store.accept(
    { id: taskId, name: "force_online_metadata_update", state: "PENDING" },
    chosen.map((role) => ({ kind: "bump", path: "", role, fragment: null })),
    false,
    auditEntry(actor, taskId, "force_online_metadata_update", rolesSummary(chosen)),
  );
  e.wake("accepted");
  return { taskId, roles: chosen };
}
