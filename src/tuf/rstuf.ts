/**
 * RSTUF's conventions inside TUF metadata, which tufbox keeps so RSTUF's
 * ceremonies, CLI and payloads work unchanged (shared/RSTUF-API.md). Unknown
 * `x-…` fields are allowed by the spec (4.2) and signed like any other field.
 */

/** On the online public key: where the server finds its private part (`fn:<file name>`). */
export const ONLINE_KEY_URI = "x-rstuf-online-key-uri";

/** On any public key: a human name for it. */
export const KEY_NAME = "x-rstuf-key-name";

/** On a delegated role: its expiry in days. */
export const EXPIRE_POLICY = "x-rstuf-expire-policy";

/** A file name in the online-key directory: no directories, nothing to resolve. */
const FN_FILE_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * The file an `fn:<name>` online key URI names: `{ name }`, or `{ problem }`
 * when it is an fn: URI whose name is not a plain file name; null when the URI
 * is not an fn: URI at all.
 */
export function onlineKeyFile(uri: string): { name: string } | { problem: string } | null {
  if (!uri.startsWith("fn:")) return null;
  const name = uri.slice(3);
  if (!FN_FILE_NAME.test(name) || name === "." || name === "..")
    return { problem: "the file name may only use letters, digits, '.', '_' and '-'" };
  return { name };
}
