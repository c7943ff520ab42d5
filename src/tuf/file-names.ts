/**
 * Metadata file names (spec 5.2 / 6.1 "consistent snapshots"): every version
 * of every role is published as `N.<role>.json`; timestamp only as
 * `timestamp.json` (clients always fetch it unversioned). `root.json` is the
 * latest root, served for convenience. The one place these names are built
 * and parsed.
 */

/** Served under /metadata/ and written on export: a file name, so bounded like one. */
export const MAX_FILE_NAME_LENGTH = 255;

const VERSIONED = /^([1-9][0-9]{0,15})\.(.+)\.json$/;

export interface MetadataFileName {
  role: string;
  /** null for unversioned names (`timestamp.json`, `root.json`) */
  version: number | null;
}

/** The name a published document of `role` at `version` is served under. */
export function metadataFileName(role: string, version: number): string {
  return role === "timestamp" ? "timestamp.json" : `${version}.${role}.json`;
}

/**
 * The name a client asks for: `N.<role>.json` with consistent snapshots (spec
 * 5.5.2, 5.6.2), `<role>.json` without. Timestamp is always unversioned.
 */
export function clientFileName(role: string, version: number | undefined, consistentSnapshot: boolean): string {
  return consistentSnapshot && version !== undefined && role !== "timestamp"
    ? `${version}.${role}.json`
    : `${role}.json`;
}

/** The key of a targets role in snapshot `meta` (spec 4.4.3). */
export function snapshotMetaName(role: string): string {
  return `${role}.json`;
}

/** The role a snapshot `meta` key names; undefined for a key that is not `<role>.json`. */
export function roleOfSnapshotMetaName(name: string): string | undefined {
  return name.endsWith(".json") && name.length > 5 ? name.slice(0, -5) : undefined;
}

/**
 * Splits a metadata file name into role and version; undefined when the name
 * could not be a published file (so it is a 404 without asking the store).
 */
export function parseMetadataFileName(name: string): MetadataFileName | undefined {
  if (name.length === 0 || name.length > MAX_FILE_NAME_LENGTH || !name.endsWith(".json")) return undefined;
  if (name.startsWith(".") || /[\u0000-\u001f\u007f/\\]/.test(name)) return undefined;
  const m = VERSIONED.exec(name);
  if (m) {
    const version = Number(m[1]);
    if (!Number.isSafeInteger(version)) return undefined;
    return { role: m[2]!, version };
  }
  const role = name.slice(0, -".json".length);
  // "01.root.json" and "0.root.json" are not versions tufbox ever writes; serving
  // them as aliases would give one immutable document two URLs.
  if (role.length === 0 || /^[0-9]+\./.test(name)) return undefined;
  return { role, version: null };
}
