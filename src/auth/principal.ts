/** Who is calling, once authenticated, and the audit actor made from it. */
import type { AuditActor } from "../store/store.ts";
import type { Scope } from "./scopes.ts";

export interface Principal {
  /** how it was authenticated */
  kind: "admin" | "token" | "oauth" | "jwt" | "anonymous";
  /** stable audit id: "admin", "token:<id>", "oauth:<sub>", "jwt:<sub>", "anonymous" */
  id: string;
  /** human-readable: token name, OAuth client or user name */
  name: string;
  scopes: Scope[];
}

/** The development flag's principal: everything allowed, recorded as such. */
export const ANONYMOUS: Principal = {
  kind: "anonymous",
  id: "anonymous",
  name: "anonymous (auth disabled)",
  scopes: ["admin"],
};

export function actorFor(principal: Principal, source: string | null, route: string | null): AuditActor {
  return { principal: principal.id, principalName: principal.name, source, route };
}

export { INTERNAL_ACTOR, SCHEDULER_ACTOR } from "../store/store.ts";
