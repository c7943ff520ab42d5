/** What a server has pending signatures (GET /api/v1/metadata/sign), for `tufbox sign --server` and `tufbox status`. */
import { TufError } from "../tuf/errors.ts";
import { type ApiClient, ServerError } from "./client.ts";

/** A pending or trusted document from the server that does not parse: the server's fault (exit 1). */
export function fromServer<T>(api: ApiClient, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TufError)
      throw new ServerError(
        `the server's ${what} is not valid TUF metadata: ${err.message}`,
        `do not sign it; check the server (tufbox status --server ${api.server})`,
      );
    throw err;
  }
}

/** GET /api/v1/metadata/sign: the pending documents by role (and trusted_root / trusted_targets), or undefined. */
export async function pendingDocuments(api: ApiClient): Promise<Record<string, unknown> | undefined> {
  const r = await api.get("/api/v1/metadata/sign", { what: "read the documents pending signatures" });
  const metadata = r.body?.data?.metadata;
  return metadata && typeof metadata === "object" && Object.keys(metadata).length > 0
    ? (metadata as Record<string, unknown>)
    : undefined;
}

export function pendingRoles(pending: Record<string, unknown>): string[] {
  return Object.keys(pending).filter((k) => k !== "trusted_root" && k !== "trusted_targets");
}
