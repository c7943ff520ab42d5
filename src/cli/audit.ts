/**
 * `tufbox audit [--since T] [--principal P] [--limit N] [--follow]`: who
 * changed what (GET /api/v1/audit, read scope). One line per entry, oldest
 * first; --json gives one JSON document (with --follow: one JSON object per
 * line, as entries arrive).
 *
 * Following polls the server. PostgreSQL hands out entry ids in nextval()
 * order, not commit order, so an entry may become visible after one with a
 * higher id was already printed; each poll therefore re-reads a window of
 * FOLLOW_OVERLAP_MS before the newest entry seen and skips ids already shown.
 */
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool, flagString, parseCount } from "./flags.ts";
import { apiClient, serverCommand, type ApiClient } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";

export const AUDIT_HELP = `tufbox audit [--since TIME] [--principal WHO] [--limit N] [--follow] --server URL
    [--token TOKEN] [--json]

Shows the audit log: every accepted change (artifacts, bootstrap, signatures,
root updates, config, delegations, bumps, tokens, the scheduler's re-signing)
with its time, principal, source address, route and task. Needs the read scope.

  --since TIME          entries at or after TIME (2024-05-01 or 2024-05-01T10:00:00Z);
                        default: the newest --limit entries
  --principal WHO       only this principal (token:ID, oauth:SUB, jwt:SUB, admin,
                        scheduler, …) or principal name (the token's name)
  --limit N             at most N entries (1-1000, default 100)
  --follow              keep printing new entries as they come (Ctrl-C to stop)
  --interval SECONDS    with --follow: how often to ask (default 2)
${SERVER_FLAGS_HELP}

Exit status: 0 done; 1 the server refused; 2 usage.`;

export const AUDIT_FLAGS = {
  since: { type: "string" },
  principal: { type: "string" },
  limit: { type: "string" },
  follow: { type: "boolean" },
  interval: { type: "string" },
  ...SERVER_FLAGS,
} as const;

const FOLLOW_OVERLAP_MS = 10_000;

export interface AuditEntryJson {
  id: number;
  at: string;
  principal: string;
  principal_name: string;
  source: string | null;
  route: string | null;
  task_id: string | null;
  action: string;
  summary: Record<string, unknown>;
}

export function describeEntry(e: AuditEntryJson): string {
  const who =
    e.principal_name && e.principal_name !== e.principal ? `${e.principal_name} (${e.principal})` : e.principal;
  const summary = Object.entries(e.summary)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  return [e.at, who, e.source ?? "-", e.route ?? "-", e.action, e.task_id ? `task=${e.task_id}` : "", summary]
    .filter((x) => x !== "")
    .join("  ");
}

async function page(
  api: ApiClient,
  q: { since?: string; after?: number; principal?: string; limit: number },
): Promise<AuditEntryJson[]> {
  const params = new URLSearchParams({ limit: String(q.limit) });
  if (q.since) params.set("since", q.since);
  if (q.after !== undefined) params.set("after", String(q.after));
  if (q.principal) params.set("principal", q.principal);
  const r = await api.get(`/api/v1/audit?${params}`, { what: "read the audit log" });
  return (r.body?.data?.entries ?? []) as AuditEntryJson[];
}

export async function auditCommand(
  argv: string[],
  term: ServerTerminal = serverTerminal(),
  signal?: AbortSignal,
): Promise<void> {
  let json = false;
  return serverCommand(
    "audit",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("audit", argv, AUDIT_FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(AUDIT_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected ${args.positionals[0]}`, "run 'tufbox audit --help'");
      const limitText = flagString(args.own, "limit");
      const limit = limitText === undefined ? 100 : parseCount(limitText, "--limit", 1, "give 1 to 1000");
      if (limit > 1000) throw new UsageError(`--limit ${limit} is too large`, "give 1 to 1000");
      const since = flagString(args.own, "since");
      if (since !== undefined && Number.isNaN(Date.parse(since)))
        throw new UsageError(
          `--since ${since} is not a date`,
          "e.g. --since 2024-05-01 or --since 2024-05-01T10:00:00Z",
        );
      const principal = flagString(args.own, "principal");
      const follow = flagBool(args.own, "follow");
      const intervalText = flagString(args.own, "interval");
      const interval =
        intervalText === undefined ? 2 : parseCount(intervalText, "--interval", 1, "give seconds, e.g. 2");
      const api = apiClient(args.own, term, "audit");
      const out = new Output(term, json);

      const first = await page(api, { since, principal, limit });
      if (!follow) {
        if (json) return out.result({ entries: first });
        if (first.length === 0) out.say("no audit entries");
        for (const e of first) out.say(describeEntry(e));
        return;
      }
      // id → time of the entries shown, kept while they are inside the re-read window.
      const seen = new Map<number, string>();
      let newest = first.at(-1)?.at ?? since ?? new Date(0).toISOString();
      const show = (e: AuditEntryJson) => {
        if (seen.has(e.id)) return;
        seen.set(e.id, e.at);
        if (e.at > newest) newest = e.at;
        // One JSON object per line: the document grows as long as we follow.
        term.out(json ? JSON.stringify(e) : describeEntry(e));
      };
      for (const e of first) show(e);
      // What the window already holds predates the follow (it was left out by
      // --limit or --principal on purpose): mark it seen without printing it.
      await readWindow((e) => seen.set(e.id, e.at));
      while (!signal?.aborted) {
        await sleep(interval * 1000, signal);
        if (signal?.aborted) break;
        const from = await readWindow(show);
        for (const [id, at] of seen) if (at < from) seen.delete(id);
      }

      /** Every entry from FOLLOW_OVERLAP_MS before the newest seen, in pages of 1000 by id; returns the window start. */
      async function readWindow(each: (e: AuditEntryJson) => void): Promise<string> {
        const from = new Date(Date.parse(newest) - FOLLOW_OVERLAP_MS).toISOString();
        for (let after: number | undefined; ; ) {
          const batch = await page(api, { since: from, after, principal, limit: 1000 });
          for (const e of batch) each(e);
          if (batch.length < 1000) break;
          after = batch.at(-1)!.id;
        }
        return from;
      }
    },
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
