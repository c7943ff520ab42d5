/**
 * `tufbox token create|list|revoke` against a server (/api/v1/tokens, admin
 * scope). `create` prints the new token alone on stdout, so
 * `TOKEN=$(tufbox token create …)` works; everything else goes to stderr.
 */
import { SCOPES, isScope, type Scope } from "../auth/scopes.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagString, flagStrings } from "./flags.ts";
import { apiClient, serverCommand, ServerError } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";

export const TOKEN_HELP = `tufbox token create --name NAME --scope SCOPE [--scope SCOPE…] [--expires-in 90d] --server URL
tufbox token list --server URL
tufbox token revoke ID --server URL
    [--token ADMIN_TOKEN] [--json]

create   a tufbox API token; it is printed once, alone on stdout
         (TOKEN=$(tufbox token create …)), and stored hashed on the server
           --name NAME       what it is for, e.g. ci (letters, digits, space . _ : @ -)
           --scope SCOPE     ${SCOPES.join(", ")} (repeat for several);
                             admin implies every scope, a write scope implies read
           --expires-in N[d] days until it stops working (1-3650; default never)
list     every token: id, name, scopes, created, expires (never a secret)
revoke   delete a token by id: refused from the next request on, on every replica

All three need a token with the admin scope.
${SERVER_FLAGS_HELP}

Exit status: 0 done; 1 the server refused (e.g. no such token); 2 usage.`;

export const TOKEN_FLAGS = {
  name: { type: "string" },
  scope: { type: "string", multiple: true },
  "expires-in": { type: "string" },
  ...SERVER_FLAGS,
} as const;

interface TokenInfo {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  created_by: string | null;
}

export function parseExpiresIn(text: string): number {
  const m = /^\s*(\d{1,4})\s*d?\s*$/i.exec(text);
  const days = m ? Number(m[1]) : Number.NaN;
  if (!Number.isSafeInteger(days) || days < 1 || days > 3650)
    throw new UsageError(`--expires-in ${text} is not allowed`, "give days from 1 to 3650, e.g. --expires-in 90d");
  return days;
}

function describe(t: TokenInfo): string {
  return `${t.id}  ${t.name}  [${t.scopes.join(", ")}]  created ${t.created_at}${t.expires_at ? `  expires ${t.expires_at}` : ""}`;
}

export async function tokenCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "token",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("token", argv, TOKEN_FLAGS, { config: false });
      json = jsonFlag(args.own);
      const [action, ...rest] = args.positionals;
      if (args.own.help || action === undefined) return term.out(TOKEN_HELP);
      const out = new Output(term, json);
      if (action === "create") {
        if (rest.length > 0) throw new UsageError(`unexpected ${rest[0]}`, "run 'tufbox token --help'");
        const name = flagString(args.own, "name");
        if (!name)
          throw new UsageError("--name is required", "e.g. tufbox token create --name ci --scope artifacts:write");
        const scopes = flagStrings(args.own, "scope").flatMap((s) => s.split(",").map((x) => x.trim()));
        if (scopes.length === 0)
          throw new UsageError(
            "--scope is required",
            `one or more of ${SCOPES.join(", ")}, e.g. --scope artifacts:write`,
          );
        for (const s of scopes)
          if (!isScope(s)) throw new UsageError(`unknown scope "${s}"`, `scopes are ${SCOPES.join(", ")}`);
        const expires = flagString(args.own, "expires-in");
        const body: { name: string; scopes: Scope[]; expires_in_days?: number } = { name, scopes: scopes as Scope[] };
        if (expires !== undefined) body.expires_in_days = parseExpiresIn(expires);
        const api = apiClient(args.own, term, "token");
        const r = await api.post("/api/v1/tokens", body, { what: "create a token" });
        const data = r.body?.data as (TokenInfo & { token: string }) | undefined;
        if (!data || typeof data.token !== "string")
          throw new ServerError("the server created no token", "is --server a tufbox API?", { detail: r.body });
        if (json) return out.result({ ...data });
        term.info(`created ${describe(data)}`);
        term.info("the token is shown only this once: store it now");
        term.out(data.token);
        return;
      }
      if (action === "list") {
        if (rest.length > 0) throw new UsageError(`unexpected ${rest[0]}`, "run 'tufbox token --help'");
        const api = apiClient(args.own, term, "token");
        const r = await api.get("/api/v1/tokens", { what: "list tokens" });
        const tokens = (r.body?.data?.tokens ?? []) as TokenInfo[];
        if (json) return out.result({ tokens });
        if (tokens.length === 0) out.say("no tokens");
        for (const t of tokens) out.say(describe(t));
        return;
      }
      if (action === "revoke") {
        const [id, extra] = rest;
        if (id === undefined || extra !== undefined)
          throw new UsageError("give exactly one token id", "the ids are in the first column of tufbox token list");
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(id))
          throw new UsageError(`"${id}" is not a token id`, "the ids are in the first column of tufbox token list");
        const api = apiClient(args.own, term, "token");
        await api.delete(`/api/v1/tokens/${id}`, {
          what: `revoke token ${id}`,
          hint404: "see the ids with: tufbox token list",
        });
        if (json) return out.result({ revoked: id });
        out.say(`revoked ${id}`);
        return;
      }
      throw new UsageError(`unknown action "${action}"`, "tufbox token create | list | revoke ID");
    },
  );
}
