/**
 * The order of the /metadata/ listing: by role, then by version as a number
 * (so 10.root.json follows 9.root.json, not 1.root.json). Top-level roles come
 * in the order a client walks them (TUF spec 5.3–5.6: root, timestamp,
 * snapshot, targets), then delegated roles (hash bins too) by name, numbers in
 * names compared as numbers. Within a role the unversioned file (root.json,
 * timestamp.json) comes first.
 */
const TOP_LEVEL = ["root", "timestamp", "snapshot", "targets"];
const collator = new Intl.Collator("en", { numeric: true });

interface ListedName {
  name: string;
  role: string;
  /** null for the unversioned alias */
  version: number | null;
}

function parse(name: string): ListedName {
  const versioned = /^(\d+)\.(.+)\.json$/.exec(name);
  if (versioned) return { name, role: versioned[2]!, version: Number(versioned[1]) };
  return { name, role: name.endsWith(".json") ? name.slice(0, -5) : name, version: null };
}

function roleRank(role: string): number {
  const i = TOP_LEVEL.indexOf(role);
  return i === -1 ? TOP_LEVEL.length : i;
}

export function compareListedNames(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  return (
    roleRank(x.role) - roleRank(y.role) ||
    collator.compare(x.role, y.role) ||
    (x.version ?? -1) - (y.version ?? -1) ||
    collator.compare(a, b)
  );
}
