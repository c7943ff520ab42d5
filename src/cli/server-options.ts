/**
 * Which server a command talks to: --server / TUFBOX_SERVER, the token
 * (--token / TUFBOX_TOKEN; never echoed), where the metadata is published
 * (--metadata-url, else SERVER/metadata) and --json. Base URLs are checked
 * here, so a typo is a usage error (exit 2), not a failed request.
 */
import { type ParsedArgs, UsageError } from "./args.ts";
import { flagBool, flagString } from "./flags.ts";
import type { Terminal } from "./terminal.ts";

export const SERVER_ENV = "TUFBOX_SERVER";
export const TOKEN_ENV = "TUFBOX_TOKEN";
export const METADATA_URL_ENV = "TUFBOX_METADATA_URL";

/** Flags every `--server` command takes. */
export const SERVER_FLAGS = {
  server: { type: "string" },
  token: { type: "string" },
  "metadata-url": { type: "string" },
  json: { type: "boolean" },
} as const;

export const SERVER_FLAGS_HELP = `  --server URL          the tufbox (or RSTUF) API base URL, e.g. http://127.0.0.1:8080
                        (default $${SERVER_ENV})
  --token TOKEN         the admin token for changes (default $${TOKEN_ENV}; the server prints
                        it once at first start, or takes it from TUFBOX_ADMIN_TOKEN)
  --metadata-url URL    where the metadata is published (default $${METADATA_URL_ENV}, else
                        SERVER/metadata)
  --json                one JSON document on stdout (everything else goes to stderr)`;

export interface ServerOptions {
  /** API base URL without a trailing slash, e.g. http://127.0.0.1:8080 */
  server: string;
  token: string | undefined;
  /** published metadata base URL without a trailing slash */
  metadataUrl: string;
}

function baseUrl(text: string, flag: string, envName: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not a URL`,
      `give the server's base URL, e.g. ${flag} http://127.0.0.1:8080 (or set ${envName})`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(
      `${flag} ${text}: only http:// and https:// are supported`,
      `e.g. ${flag} https://tuf.example.com`,
    );
  if (url.search !== "" || url.hash !== "")
    throw new UsageError(
      `${flag} ${text} has a query or fragment`,
      "give the base URL only, e.g. https://tuf.example.com",
    );
  if (url.username !== "" || url.password !== "")
    throw new UsageError(
      `${flag} must not carry credentials in the URL`,
      `give the token with --token or ${TOKEN_ENV}`,
    );
  return url.href.replace(/\/+$/, "");
}

/** True when the command runs against a server (--server or TUFBOX_SERVER). */
export function wantsServer(own: ParsedArgs["own"], term: Terminal): boolean {
  return flagString(own, "server") !== undefined || (term.env[SERVER_ENV] ?? "") !== "";
}

export function serverOptions(own: ParsedArgs["own"], term: Terminal, command: string): ServerOptions {
  const given = flagString(own, "server") ?? term.env[SERVER_ENV];
  if (given === undefined || given === "")
    throw new UsageError(
      "--server is required",
      `give the server's API base URL: tufbox ${command} --server http://127.0.0.1:8080 (or set ${SERVER_ENV})`,
    );
  // RSTUF documentation shows the API with /api/v1; the base is what we need.
  const server = baseUrl(given, "--server", SERVER_ENV).replace(/\/api\/v1$/, "");
  const metadataGiven = flagString(own, "metadata-url") ?? term.env[METADATA_URL_ENV];
  const metadataUrl =
    metadataGiven !== undefined && metadataGiven !== ""
      ? baseUrl(metadataGiven, "--metadata-url", METADATA_URL_ENV)
      : `${server}/metadata`;
  const token = flagString(own, "token") ?? term.env[TOKEN_ENV];
  return { server, token: token === undefined || token === "" ? undefined : token, metadataUrl };
}

export function jsonFlag(own: ParsedArgs["own"]): boolean {
  return flagBool(own, "json");
}
