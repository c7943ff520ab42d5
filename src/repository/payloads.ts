/**
 * What the engine is asked to do, once a request has been read and checked
 * (the API's schemas, src/server/api/<feature>/model.ts, make these from
 * RSTUF's request bodies; the CLI's offline tooling makes the same bodies).
 */
import type { Metadata, DelegatedRole, RootSigned, TargetFile } from "../tuf/metadata.ts";
import type { KeyJSON } from "../tuf/keys.ts";
import type { ExpiringRole } from "../tuf/roles.ts";

/** RSTUF custom delegations: `keyids: []` means "the online key". */
export interface DelegationsInput {
  keys: Record<string, KeyJSON>;
  roles: DelegatedRole[];
}

export interface BootstrapPayload {
  expiration: Record<ExpiringRole, number>;
  /** hash bins (TAP 15), or null when `delegations` is set */
  binsCount: number | null;
  bitLength: number | null;
  delegations: DelegationsInput | null;
  /** the hash bins' own online key (tufbox's `settings.roles.bins.online_key`); default: the targets role's key */
  binsKey?: { keyid: string; key: KeyJSON } | null;
  root: Metadata<RootSigned>;
  timeout: number | undefined;
}

export interface ArtifactAddition {
  path: string;
  info: TargetFile;
}

export interface AddArtifactsPayload {
  artifacts: ArtifactAddition[];
  addTaskIdToCustom: boolean;
  publish: boolean;
}

export interface RemoveArtifactsPayload {
  paths: string[];
  publish: boolean;
}
