/**
 * The server's current root, reached from a root the operator trusts the way
 * a TUF client does (tuf/root-chain.ts): before a command builds on it.
 */
import { metadataFileName } from "../tuf/file-names.ts";
import { parseRoot, type Metadata, type RootSigned } from "../tuf/metadata.ts";
import { walkRootChain } from "../tuf/root-chain.ts";
import { TufError } from "../tuf/errors.ts";
import { type ApiClient, ServerError } from "./client.ts";

export interface VerifiedRoot {
  root: Metadata<RootSigned>;
  /** versions walked after the trusted one */
  walked: number[];
}

function parseServerRoot(value: unknown, name: string, api: ApiClient): Metadata<RootSigned> {
  try {
    return parseRoot(value, name);
  } catch (err) {
    if (err instanceof TufError)
      throw new ServerError(
        `${api.opts.metadataUrl}/${name} is not valid root metadata: ${err.message}`,
        "do not build on it; check the server",
      );
    throw err;
  }
}

/**
 * The server's current root (`root.json`), reached from `trusted` the way a
 * TUF client does (spec 5.3): each N.root.json in turn must verify with the
 * previous root's root keys and threshold and with its own. Refuses a root
 * it cannot reach: building on it would hand the repository to whoever
 * forged it.
 */
export async function verifiedCurrentRoot(
  api: ApiClient,
  trusted: Metadata<RootSigned>,
  trustedSource: string,
): Promise<VerifiedRoot> {
  const value = await api.metadata("root.json");
  if (value === undefined)
    throw new ServerError(
      `${api.opts.metadataUrl}/root.json does not exist`,
      `is the repository bootstrapped? see: tufbox status --server ${api.server}`,
    );
  const latest = parseServerRoot(value, "root.json", api);
  const walk = await walkRootChain(
    trusted,
    latest,
    async (version) => {
      const name = metadataFileName("root", version);
      const fetched = await api.metadata(name);
      return fetched === undefined ? undefined : parseServerRoot(fetched, name, api);
    },
    { trustedSource },
  );
  if (!walk.ok)
    throw new ServerError(
      `refusing the server's root v${latest.signed.version}: ${walk.reason}`,
      `do not build on it: compare it with what the root key holders signed (--trusted ${trustedSource} is your starting point)`,
    );
  return { root: walk.root, walked: walk.walked };
}
