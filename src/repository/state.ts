/**
 * What the publisher knows about the published repository, loaded from the
 * store and kept in memory between batches. It is only ever replaced as a
 * whole after a successful commit (or reloaded after a conflict), so a failed
 * batch cannot leave it half-updated.
 */
import type { Store, RoleHead } from "../store/store.ts";
import {
  parseRoot,
  parseSnapshot,
  parseTargets,
  type Metadata,
  type RootSigned,
  type TargetsSigned,
} from "../tuf/metadata.ts";
import { canonicalJson } from "../tuf/canonical.ts";
import { SuccinctBins } from "../tuf/bins.ts";
import type { RepositorySettings } from "./settings.ts";

export interface PublishedState {
  settings: RepositorySettings;
  bins: SuccinctBins | null;
  root: Metadata<RootSigned>;
  heads: Map<string, RoleHead>;
  /** latest top-level targets `signed` (re-signed with new version/expiry on bumps) */
  targets: TargetsSigned;
  /** snapshot meta as canonical fragments: "bins-0a.json" → '{"version":3}' */
  snapshotMeta: Map<string, string>;
}

const decoder = new TextDecoder();

export async function loadPublishedState(
  store: Store,
  settings: RepositorySettings,
): Promise<PublishedState | undefined> {
  const heads = new Map((await store.getHeads()).map((h) => [h.role, h]));
  if (!heads.has("timestamp")) return undefined;
  const rootDoc = await store.getLatestDocument("root");
  const targetsDoc = await store.getLatestDocument("targets");
  const snapshotDoc = await store.getLatestDocument("snapshot");
  if (!rootDoc || !targetsDoc || !snapshotDoc)
    throw new Error("store holds a timestamp but not root, targets and snapshot: the database is damaged");
  const root = parseRoot(JSON.parse(decoder.decode(rootDoc.bytes)));
  const targets = parseTargets(JSON.parse(decoder.decode(targetsDoc.bytes))).signed;
  const snapshot = parseSnapshot(JSON.parse(decoder.decode(snapshotDoc.bytes))).signed;
  const snapshotMeta = new Map<string, string>();
  for (const [name, file] of Object.entries(snapshot.meta)) snapshotMeta.set(name, canonicalJson(file));
  const bins = settings.bins ? new SuccinctBins(settings.bins.bitLength, settings.bins.prefix) : null;
  return { settings, bins, root, heads, targets, snapshotMeta };
}
