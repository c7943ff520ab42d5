/**
 * `tufbox publisher pause|resume|status` against a server
 * (/api/v1/publisher, repository/pause.ts): pausing stops publishing queued
 * changes on every replica; changes are still accepted and queued, and online
 * roles are still re-signed before they expire. Pause and resume need the
 * admin scope; status needs read.
 */
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagString } from "./flags.ts";
import { apiClient, serverCommand } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";

export const PUBLISHER_HELP = `tufbox publisher pause [--reason TEXT] --server URL
tufbox publisher resume --server URL
tufbox publisher status --server URL
    [--token ADMIN_TOKEN] [--json]

pause    stop publishing accepted changes, on every replica, until resume (survives restarts).
         Changes are still accepted (202) and wait in the queue; online roles (timestamp,
         snapshot, targets, bins) are still re-signed before they expire, without the queued
         changes. /readyz stays ready and says paused; so do tufbox status and the dashboard.
           --reason TEXT   why (up to 200 characters), shown in status and the audit log
resume   publish again: everything queued while paused goes out in the next batches
status   paused or not, since when, by whom, and how many changes wait

pause and resume need a token with the admin scope.
${SERVER_FLAGS_HELP}

Exit status: 0 done; 1 the server refused; 2 usage.`;

export const PUBLISHER_FLAGS = { reason: { type: "string" }, ...SERVER_FLAGS } as const;

interface PublisherStateView {
  paused: boolean;
  since: string | null;
  by: string | null;
  reason: string | null;
  pending_changes: number | null;
}

export function describePublisher(s: PublisherStateView): string {
  const queue = s.pending_changes === null ? "" : `; ${s.pending_changes} change(s) queued`;
  if (!s.paused) return `publishing${queue}`;
  return `PAUSED since ${s.since} by ${s.by}${s.reason ? ` (${s.reason})` : ""}${queue}; online roles are still re-signed before they expire`;
}

export async function publisherCommand(argv: string[], term: ServerTerminal = serverTerminal()): Promise<void> {
  let json = false;
  return serverCommand(
    "publisher",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("publisher", argv, PUBLISHER_FLAGS, { config: false });
      json = jsonFlag(args.own);
      const [action, ...rest] = args.positionals;
      if (args.own.help || action === undefined) return term.out(PUBLISHER_HELP);
      if (rest.length > 0) throw new UsageError(`unexpected ${rest[0]}`, "run 'tufbox publisher --help'");
      const reason = flagString(args.own, "reason");
      if (reason !== undefined && action !== "pause")
        throw new UsageError("--reason goes with pause only", "tufbox publisher pause --reason TEXT");
      const out = new Output(term, json);
      const api = apiClient(args.own, term, "publisher");
      let answer: { message?: string; data?: PublisherStateView } | undefined;
      if (action === "pause") {
        answer = (
          await api.post("/api/v1/publisher/pause", reason !== undefined ? { reason } : {}, {
            what: "pause the publisher",
          })
        ).body;
      } else if (action === "resume") {
        answer = (await api.post("/api/v1/publisher/resume", {}, { what: "resume the publisher" })).body;
      } else if (action === "status") {
        answer = (await api.get("/api/v1/publisher", { what: "read the publisher's state" })).body;
      } else {
        throw new UsageError(`unknown action "${action}"`, "tufbox publisher pause | resume | status");
      }
      const data = answer?.data;
      if (json) return out.result(data ?? null);
      if (answer?.message && action !== "status") out.say(answer.message);
      if (data) out.say(describePublisher(data));
    },
  );
}
