/**
 * Every document is checked against what TUF clients can load before it is
 * published (tuf/limits.ts `clientLimitViolation`): a bin over the 5 MB
 * download cap, or nested deeper than clients parse, would make every
 * artifact in it undownloadable. Such a document never reaches clients;
 * instead, the tasks whose changes made it so fail with the reason, and the
 * rest of the batch is published without them.
 */
import type { ChangeRecord, DocumentRecord, Publication, TaskUpdate } from "../store/store.ts";
import { DOCUMENT_MAX_DEPTH, depthViolation, documentDepth, sizeViolation } from "../tuf/limits.ts";
import { taskResult } from "./task-results.ts";

/** A document TUF clients could not load: nothing of its batch is published. */
export class ClientLimitError extends Error {
  override readonly name = "ClientLimitError";
  readonly role: string;
  constructor(role: string, reason: string) {
    super(`refusing to publish: ${reason}`);
    this.role = role;
  }
}

/**
 * Throws ClientLimitError for the first document clients could not load:
 * over its download cap, or nested too deep. Documents in `depthChecked`
 * (signed with the online key) have their depth checked by the verification
 * worker instead, on another core (`tooDeep`); scanning every byte of
 * thousands of bins here would cost the publisher about twice their hashing.
 */
export function assertPublishable(
  documents: readonly DocumentRecord[],
  depthChecked: { has(d: DocumentRecord): boolean } = { has: () => false },
): void {
  for (const d of documents) {
    const why =
      sizeViolation(d.role, d.bytes.byteLength) ??
      (depthChecked.has(d) ? null : depthViolation(d.role, documentDepth(d.bytes)));
    if (why) throw new ClientLimitError(d.role, why);
  }
}

/**
 * Whether a document whose `signed` part is `signedText` nests deeper than
 * clients parse: the envelope `{"signatures":[…],"signed":…}` adds one level.
 */
export function tooDeep(signedText: Uint8Array): boolean {
  return documentDepth(signedText) + 1 > DOCUMENT_MAX_DEPTH;
}

/** The error for documents the verification worker found too deep (named `<version>.<role>.json`). */
export function tooDeepError(name: string): ClientLimitError {
  const role = /^\d+\.(.+)\.json$/.exec(name)?.[1] ?? name;
  return new ClientLimitError(
    role,
    `${role} would nest deeper than the limit of ${DOCUMENT_MAX_DEPTH} levels that every TUF client parses`,
  );
}

/**
 * The queue changes to drop, and their tasks to fail, so the rest of the
 * batch can be published: the tasks that add to the offending role, or
 * failing that every task that touches it. Null when no change is to blame
 * (a re-sign of an oversized role, a snapshot over its cap): then the
 * publisher keeps failing and /readyz says why.
 */
export function rejectionFor(changes: readonly ChangeRecord[], err: ClientLimitError, now: Date): Publication | null {
  const touching = changes.filter((c) => c.kind !== "bump" && c.role === err.role);
  const adding = touching.filter((c) => c.kind === "add");
  const blamed = new Set((adding.length > 0 ? adding : touching).map((c) => c.taskId));
  if (blamed.size === 0) return null;
  const consumed = changes.filter((c) => blamed.has(c.taskId));
  const tasks: TaskUpdate[] = [...blamed].map((id) => {
    const kinds = new Set(consumed.filter((c) => c.taskId === id).map((c) => c.kind));
    const name = kinds.has("add") ? "add_artifacts" : "remove_artifacts";
    return {
      id,
      state: "FAILURE",
      result: taskResult(
        name,
        false,
        name === "add_artifacts" ? "Artifact(s) Not Added" : "Artifact(s) Not Removed",
        { artifact_roles: [err.role] },
        now,
        err.message,
      ),
    };
  });
  return { expectedHeads: {}, documents: [], consumedChanges: consumed.map((c) => c.id), tasks };
}
