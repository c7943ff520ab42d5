/**
 * Turning what the mirror store holds into the state the client workflow
 * starts from, and checking it against the root the operator trusts
 * (`--root`): the mirror trusts its own store (it only ever wrote verified
 * documents there, as a client trusts its metadata directory), but never
 * a store that belongs to another repository.
 */
import { parseRoot, parseSnapshot, parseTimestamp, type Metadata, type RootSigned } from "../tuf/metadata.ts";
import { readDocument, trustedRoot } from "../tuf/trusted-set.ts";
import type { MirrorDocument, MirrorStore, StoredState } from "./store.ts";
import type { TrustedState } from "./sync.ts";

/** The operator's trusted root is unusable, or does not fit the data directory. */
export class MirrorSetupError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = "MirrorSetupError";
    this.hint = hint;
  }
}

export interface Anchor {
  root: Metadata<RootSigned>;
  bytes: Uint8Array;
  sha256: string;
}

function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** The operator's trusted root (spec 5.2): valid root metadata carrying its own threshold of signatures. */
export function readAnchor(bytes: Uint8Array, label: string): Anchor {
  const v = trustedRoot(bytes, label);
  if (!v.ok)
    throw new MirrorSetupError(
      `${label} cannot be trusted: ${v.message}`,
      "give the repository's root metadata file as the root key holders signed it (e.g. 1.root.json)",
    );
  return { root: v.value, bytes, sha256: sha256Hex(bytes) };
}

function stored<T>(doc: MirrorDocument, parse: Parameters<typeof readDocument>[1], label: string): T {
  const v = readDocument(doc.bytes, parse, label);
  if (!v.ok) throw new Error(`the mirror store holds a damaged ${label}: ${v.message}`);
  return v.value as T;
}

/** The state to sync from: the stored one (after checking it follows `anchor`), or just the anchor. */
export function startingState(
  store: MirrorStore,
  anchor: Anchor,
): { state: TrustedState; stored: StoredState | undefined } {
  const s = store.load();
  const a = anchor.root.signed.version;
  if (!s)
    return {
      state: { anchorVersion: a, root: anchor.root, rootBytes: anchor.bytes, heads: new Map() },
      stored: undefined,
    };
  const hint = `use the trusted root this data directory was started with (root v${s.anchorVersion} or newer), or a new --data-dir`;
  if (a < s.anchorVersion)
    throw new MirrorSetupError(
      `the trusted root is v${a}, older than root v${s.anchorVersion} this mirror started from (${store.path})`,
      hint,
    );
  const same = store.document("root", a);
  if (same && same.sha256 !== anchor.sha256)
    throw new MirrorSetupError(
      `the trusted root v${a} differs from the root v${a} this mirror verified (${store.path}): another repository?`,
      hint,
    );
  const root = stored<Metadata<RootSigned>>(s.root, parseRoot, `${s.root.version}.root.json`);
  // A trusted root newer than anything stored becomes the root to walk on from (5.2).
  const newer = a > root.signed.version;
  return {
    state: {
      anchorVersion: s.anchorVersion,
      root: newer ? anchor.root : root,
      rootBytes: newer ? anchor.bytes : s.root.bytes,
      timestamp: s.timestamp
        ? { doc: stored(s.timestamp, parseTimestamp, "timestamp.json"), bytes: s.timestamp.bytes }
        : undefined,
      snapshot: s.snapshot
        ? { doc: stored(s.snapshot, parseSnapshot, `${s.snapshot.version}.snapshot.json`), bytes: s.snapshot.bytes }
        : undefined,
      heads: s.heads,
    },
    stored: s,
  };
}

/** Every metadata file name a state makes current, with where its bytes are (for publishing). */
export function currentNames(state: TrustedState): { name: string; role: string; version: number }[] {
  const names: { name: string; role: string; version: number }[] = [];
  const v = state.root.signed.version;
  names.push({ name: `${v}.root.json`, role: "root", version: v });
  if (state.snapshot) {
    const s = state.snapshot.doc.signed.version;
    names.push({ name: `${s}.snapshot.json`, role: "snapshot", version: s });
  }
  for (const h of state.heads.values())
    names.push({ name: `${h.version}.${h.role}.json`, role: h.role, version: h.version });
  return names;
}
