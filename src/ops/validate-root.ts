/**
 * The root chain of `tufbox validate` (validate.ts): from the root the
 * devices trust to the newest root, every version in between (spec
 * 5.3.4–5.3.5), through src/tuf/root-chain.ts when the repository serves a
 * root.json, or step by step as a client does (trusted-set.ts `nextRoot`).
 */
import { metadataFileName } from "../tuf/file-names.ts";
import { parseRoot, type Metadata, type RootSigned } from "../tuf/metadata.ts";
import { walkRootChain } from "../tuf/root-chain.ts";
import { MAX_ROOT_ROTATIONS, nextRoot, readDocument } from "../tuf/trusted-set.ts";
import type { ProblemKind, ValidateReport } from "./validate.ts";

/** Bytes of a metadata file; undefined when not served (a "missing" problem unless `optional`). */
export type FetchDoc = (
  name: string,
  how?: { listedBy?: string; optional?: boolean },
) => Promise<Uint8Array | undefined>;

/**
 * The newest root, reached from the trusted one. With a served `root.json`
 * (tufbox, its mirrors and exports serve one) the chain to it is walked by
 * root-chain.ts; then N+1.root.json must not exist, or a client would go on
 * past root.json. Without root.json, as a client: N+1, N+2, … until one is missing.
 */
export async function rootChain(
  anchor: { root: Metadata<RootSigned>; bytes: Uint8Array },
  fetchDoc: FetchDoc,
  problem: (kind: ProblemKind, file: string, message: string) => void,
  report: ValidateReport,
  checkSize: (role: string, name: string, bytes: Uint8Array) => void,
): Promise<{ doc: Metadata<RootSigned>; bytes: Uint8Array } | undefined> {
  const trusted = anchor.root;
  const bytesByVersion = new Map<number, Uint8Array>([[trusted.signed.version, anchor.bytes]]);
  // root.json is a convenience clients do not need: without one, walk as a client would.
  const latestBytes = await fetchDoc("root.json", { optional: true });
  if (latestBytes) {
    const latest = readDocument(latestBytes, parseRoot, "root.json");
    if (!latest.ok) {
      problem("invalid", "root.json", latest.message);
      return undefined;
    }
    const load = async (version: number) => {
      const name = metadataFileName("root", version);
      const bytes = await fetchDoc(name);
      if (!bytes) return undefined;
      checkSize("root", name, bytes);
      const doc = readDocument(bytes, parseRoot, name);
      if (!doc.ok) throw new Error(doc.message);
      bytesByVersion.set(version, bytes);
      return doc.value;
    };
    let chain: Awaited<ReturnType<typeof walkRootChain>>;
    try {
      chain = await walkRootChain(trusted, latest.value, load);
    } catch (err) {
      chain = { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
    const name = metadataFileName("root", latest.value.signed.version);
    if (!chain.ok) {
      problem("root_chain", name, `the root chain from root v${trusted.signed.version} breaks: ${chain.reason}`);
      // Keep checking the rest against the served root, so its other problems are found too.
      return { doc: latest.value, bytes: latestBytes };
    }
    report.root_chain = chain.walked;
    const beyond = metadataFileName("root", chain.root.signed.version + 1);
    const more = await fetchDoc(beyond, { optional: true });
    if (more)
      problem(
        "root_chain",
        beyond,
        `${beyond} is served but root.json is v${chain.root.signed.version}: clients go on to it`,
      );
    return { doc: chain.root, bytes: bytesByVersion.get(chain.root.signed.version) ?? latestBytes };
  }
  let doc = trusted;
  let bytes = anchor.bytes;
  for (let i = 0; i < MAX_ROOT_ROTATIONS; i++) {
    const name = metadataFileName("root", doc.signed.version + 1);
    const next = await fetchDoc(name, { optional: true });
    if (!next) break;
    checkSize("root", name, next);
    const v = nextRoot(doc, next, name);
    if (!v.ok) {
      problem("root_chain", name, v.message);
      break;
    }
    doc = v.value;
    bytes = next;
    report.root_chain.push(doc.signed.version);
  }
  return { doc, bytes };
}
