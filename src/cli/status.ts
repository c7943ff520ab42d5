/**
 * `tufbox status --server URL`: what a repository publishes and what waits.
 * GET /api/v1/bootstrap and /api/v1/config, the published timestamp.json,
 * its snapshot, targets and root.json (versions, expiry, time left,
 * thresholds, the online key, bins or delegated roles), and the signing
 * sessions of GET /api/v1/metadata/sign (k of n signatures each).
 */
import { parseExpires } from "../tuf/dates.ts";
import {
  parseRoot,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type Metadata,
  type RootSigned,
  type SignedBase,
  type TargetsSigned,
} from "../tuf/metadata.ts";
import { signedBytesOf, verifyRole } from "../tuf/verify.ts";
import { verifyRootUpdate } from "../tuf/root-chain.ts";
import { clientFileName } from "../tuf/file-names.ts";
import { describePublisher } from "./publisher.ts";
import {
  isSignedByOnlineKey,
  ONLINE_TOP_LEVEL_ROLES,
  onlineKeyId,
  onlineKeyIds,
  TOP_LEVEL_ROLES,
  type TopLevelRole,
} from "../tuf/roles.ts";
import { TufError } from "../tuf/errors.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { apiClient, serverCommand, ServerError, type ApiClient } from "./client.ts";
import { Output, serverTerminal, type ServerTerminal } from "./output.ts";
import { jsonFlag, SERVER_FLAGS, SERVER_FLAGS_HELP } from "./server-options.ts";
import { pendingDocuments, pendingRoles } from "./pending.ts";
import { formatMirrorStatus, mirrorStatusOf } from "./mirror.ts";
import { timeLeft } from "./format.ts";
import type { BinAdvice } from "../tuf/bin-advice.ts";
import { formatBinAdviceSummary } from "./bins.ts";

export const STATUS_HELP = `tufbox status --server URL [--json]

Shows a repository: bootstrap state; root, targets, snapshot and timestamp
with version, expiry and time left, thresholds; the online key; hash bins or
delegated roles; and documents pending signatures (k of n), from the API and
the published metadata (SERVER/metadata, or --metadata-url).

${SERVER_FLAGS_HELP}`;

export interface RoleStatus {
  version: number;
  expires: string;
  seconds_left: number;
  threshold?: number;
  keyids?: string[];
}

export interface PendingStatus {
  role: string;
  version: number;
  expires: string;
  signed: number;
  threshold: number;
  of: number;
  /** root N+1 also needs root N's threshold */
  trusted?: { version: number; signed: number; threshold: number; of: number };
}

export interface RepositoryStatus {
  server: string;
  metadata_url: string;
  bootstrap: { bootstrap: boolean; state: string | null; task_id: string | null };
  roles: Partial<Record<TopLevelRole, RoleStatus>>;
  online_keyid: string | null;
  /** keyid of the online key signing each online role (they may differ: issue 17) */
  online_keys: Record<string, string>;
  bins: number | null;
  delegated_roles:
    | {
        name: string;
        keyids: string[];
        threshold: number;
        online: boolean;
        paths?: string[];
        path_hash_prefixes?: string[];
      }[]
    | null;
  pending: PendingStatus[];
  config: Record<string, unknown>;
  /** largest document of each kind against the client download limit (tufbox servers: from /metrics) */
  largest_documents: { kind: string; role: string; bytes: number; limit: number }[];
  /** what the server warns about (GET /api/v1/alerts); null when it cannot say (an RSTUF server, no token) */
  alerts: AlertStatus[] | null;
  /** how many hash bins serve the clients best (GET /api/v1/roles); null without bins or when the server cannot say */
  bins_advice: BinAdvice | null;
  /** whether publication is paused (GET /api/v1/publisher); null when the server cannot say */
  publisher: {
    paused: boolean;
    since: string | null;
    by: string | null;
    reason: string | null;
    pending_changes: number | null;
  } | null;
}

/** `tufbox_largest_document_bytes` and `tufbox_document_client_limit_bytes` from a /metrics text. */
export function largestDocumentsFromMetrics(text: string): RepositoryStatus["largest_documents"] {
  const limits = new Map<string, number>();
  for (const m of text.matchAll(/^tufbox_document_client_limit_bytes\{kind="([^"]+)"\} (\d+)$/gm))
    limits.set(m[1]!, Number(m[2]));
  const out: RepositoryStatus["largest_documents"] = [];
  for (const m of text.matchAll(/^tufbox_largest_document_bytes\{kind="([^"]+)",role="([^"]+)"\} (\d+)$/gm)) {
    const limit = limits.get(m[1]!);
    if (limit !== undefined) out.push({ kind: m[1]!, role: m[2]!, bytes: Number(m[3]), limit });
  }
  return out;
}

export interface AlertStatus {
  key: string;
  severity: "warning" | "critical";
  summary: string;
  hint?: string;
}

export { timeLeft } from "./format.ts";

function published<T extends SignedBase>(
  api: ApiClient,
  name: string,
  value: unknown,
  parse: (v: unknown, field: string) => Metadata<T>,
): Metadata<T> {
  try {
    return parse(value, name);
  } catch (err) {
    if (err instanceof TufError)
      throw new ServerError(
        `${api.opts.metadataUrl}/${name} is not valid TUF metadata: ${err.message}`,
        "check the server (or --metadata-url)",
      );
    throw err;
  }
}

function roleStatus(signed: SignedBase, now: Date): RoleStatus {
  return {
    version: signed.version,
    expires: signed.expires,
    seconds_left: Math.round((parseExpires(signed.expires).getTime() - now.getTime()) / 1000),
  };
}

export async function repositoryStatus(api: ApiClient, now: Date): Promise<RepositoryStatus> {
  const b = (await api.get("/api/v1/bootstrap", { what: "read the bootstrap state" })).body?.data ?? {};
  // RSTUF answers 404 before the bootstrap: no settings yet.
  const config = await api.get("/api/v1/config", { what: "read the settings" }).then(
    (r) => r.body?.data ?? {},
    (err: unknown) => {
      if (err instanceof ServerError && err.status === 404) return {};
      throw err;
    },
  );
  const status: RepositoryStatus = {
    server: api.server,
    metadata_url: api.opts.metadataUrl,
    bootstrap: {
      bootstrap: b.bootstrap === true,
      state: typeof b.state === "string" ? b.state : null,
      task_id: typeof b.id === "string" ? b.id : null,
    },
    roles: {},
    online_keyid: null,
    online_keys: {},
    bins: null,
    delegated_roles: null,
    pending: [],
    config: typeof config === "object" && config !== null ? config : {},
    largest_documents: [],
    alerts: null,
    bins_advice: null,
    publisher: null,
  };
  // tufbox only (an RSTUF server has no /metrics): best effort, never an error.
  try {
    const res = await fetch(`${api.opts.server}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (res.ok) status.largest_documents = largestDocumentsFromMetrics(await res.text());
  } catch {}

  const rootValue = await api.metadata("root.json");
  let root: Metadata<RootSigned> | undefined;
  if (rootValue !== undefined) {
    root = published(api, "root.json", rootValue, parseRoot);
    status.roles.root = {
      ...roleStatus(root.signed, now),
      threshold: root.signed.roles.root.threshold,
      keyids: root.signed.roles.root.keyids,
    };
    status.online_keyid = onlineKeyId(root.signed) ?? null;
    for (const r of ONLINE_TOP_LEVEL_ROLES) status.online_keys[r] = root.signed.roles[r].keyids[0] ?? "";
  }
  const tsValue = await api.metadata("timestamp.json");
  if (tsValue !== undefined && root) {
    const ts = published(api, "timestamp.json", tsValue, parseTimestamp);
    status.roles.timestamp = {
      ...roleStatus(ts.signed, now),
      threshold: root.signed.roles.timestamp.threshold,
      keyids: root.signed.roles.timestamp.keyids,
    };
    const snapVersion = ts.signed.meta["snapshot.json"]?.version;
    const snapName = clientFileName("snapshot", snapVersion, root.signed.consistent_snapshot);
    const snapValue = await api.metadata(snapName);
    if (snapValue !== undefined) {
      const snap = published(api, snapName, snapValue, parseSnapshot);
      status.roles.snapshot = {
        ...roleStatus(snap.signed, now),
        threshold: root.signed.roles.snapshot.threshold,
        keyids: root.signed.roles.snapshot.keyids,
      };
      const targetsVersion = snap.signed.meta["targets.json"]?.version;
      const targetsName = clientFileName("targets", targetsVersion, root.signed.consistent_snapshot);
      const targetsValue = await api.metadata(targetsName);
      if (targetsValue !== undefined) {
        const targets: Metadata<TargetsSigned> = published(api, targetsName, targetsValue, parseTargets);
        status.roles.targets = {
          ...roleStatus(targets.signed, now),
          threshold: root.signed.roles.targets.threshold,
          keyids: root.signed.roles.targets.keyids,
        };
        const d = targets.signed.delegations;
        if (d?.succinct_roles) {
          status.bins = 2 ** d.succinct_roles.bit_length;
          if (d.succinct_roles.keyids[0]) status.online_keys.bins = d.succinct_roles.keyids[0];
        }
        const online = onlineKeyIds(root.signed, targets.signed);
        if (d?.roles) {
          status.delegated_roles = d.roles.map((r) => ({
            name: r.name,
            keyids: r.keyids,
            threshold: r.threshold,
            online: isSignedByOnlineKey(r, online),
            ...(r.paths ? { paths: r.paths } : {}),
            ...(r.path_hash_prefixes ? { path_hash_prefixes: r.path_hash_prefixes } : {}),
          }));
        }
      }
    }
  }
  if (typeof status.config.number_of_delegated_bins === "number" && status.bins === null)
    status.bins = status.config.number_of_delegated_bins;

  status.alerts = await api.get("/api/v1/alerts", { what: "read the alerts" }).then(
    (r) => {
      const list = r.body?.data?.alerts;
      return Array.isArray(list)
        ? list.map((a: AlertStatus) => ({ key: a.key, severity: a.severity, summary: a.summary, hint: a.hint }))
        : null;
    },
    (err: unknown) => {
      // RSTUF has no such route (404); without a token tufbox answers 401.
      if (err instanceof ServerError && [401, 403, 404, 405].includes(err.status ?? 0)) return null;
      throw err;
    },
  );

  status.bins_advice = await api.get("/api/v1/roles", { what: "read the bin advice" }).then(
    (r) => (r.body?.data?.bins_advice as BinAdvice | null | undefined) ?? null,
    (err: unknown) => {
      // An RSTUF server has no such route; without a token tufbox answers 401.
      if (err instanceof ServerError && [401, 403, 404, 405].includes(err.status ?? 0)) return null;
      throw err;
    },
  );

  status.publisher = await api.get("/api/v1/publisher", { what: "read the publisher's state" }).then(
    (r) => (typeof r.body?.data?.paused === "boolean" ? r.body.data : null),
    (err: unknown) => {
      if (err instanceof ServerError && [401, 403, 404, 405].includes(err.status ?? 0)) return null;
      throw err;
    },
  );

  const pending = await pendingDocuments(api);
  if (pending) {
    const trustedTargets =
      pending.trusted_targets !== undefined
        ? published(api, "trusted_targets", pending.trusted_targets, parseTargets)
        : undefined;
    for (const role of pendingRoles(pending)) {
      if (role === "root") {
        const doc = published(api, "pending root", pending.root, parseRoot);
        const trusted =
          pending.trusted_root !== undefined
            ? published(api, "trusted_root", pending.trusted_root, parseRoot)
            : undefined;
        const check = verifyRootUpdate(doc, trusted);
        const own = check.own;
        const entry: PendingStatus = {
          role,
          version: doc.signed.version,
          expires: doc.signed.expires,
          signed: own.signed.length,
          threshold: own.threshold,
          of: doc.signed.roles.root.keyids.length,
        };
        if (trusted && check.trusted) {
          const t = check.trusted;
          entry.trusted = {
            version: trusted.signed.version,
            signed: t.signed.length,
            threshold: t.threshold,
            of: trusted.signed.roles.root.keyids.length,
          };
        }
        status.pending.push(entry);
      } else {
        const doc = published(api, `pending ${role}`, pending[role], parseTargets);
        const def = trustedTargets?.signed.delegations?.roles?.find((r) => r.name === role);
        const r = def
          ? verifyRole(signedBytesOf(doc), doc.signatures, trustedTargets!.signed.delegations!.keys, def)
          : undefined;
        status.pending.push({
          role,
          version: doc.signed.version,
          expires: doc.signed.expires,
          signed: r?.signed.length ?? doc.signatures.length,
          threshold: def?.threshold ?? 0,
          of: def?.keyids.length ?? 0,
        });
      }
    }
  }
  return status;
}

export function formatStatusReport(s: RepositoryStatus): string[] {
  const lines: string[] = [];
  lines.push(`server        ${s.server}`);
  lines.push(`metadata      ${s.metadata_url}/`);
  const b = s.bootstrap;
  lines.push(
    `bootstrap     ${b.state === null ? "not bootstrapped (available for bootstrap)" : b.state === "signing" ? "waiting for root v1 signatures" : b.state}${b.task_id ? ` (task ${b.task_id})` : ""}`,
  );
  if (s.roles.root) {
    lines.push("");
    lines.push(
      `${"role".padEnd(13)} ${"version".padEnd(8)} ${"expires".padEnd(21)} ${"time left".padEnd(18)} signatures`,
    );
    for (const name of TOP_LEVEL_ROLES) {
      const r = s.roles[name];
      if (!r) {
        lines.push(`${name.padEnd(13)} (not published)`);
        continue;
      }
      const keys = r.keyids
        ? `threshold ${r.threshold} of ${r.keyids.length}${name !== "root" && r.keyids.length === 1 && r.keyids[0] === s.online_keys[name] ? " (online key)" : ""}`
        : "";
      lines.push(
        `${name.padEnd(13)} ${`v${r.version}`.padEnd(8)} ${r.expires.padEnd(21)} ${timeLeft(r.seconds_left).padEnd(18)} ${keys}`,
      );
    }
    lines.push("");
    if (s.publisher) lines.push(`publisher     ${describePublisher(s.publisher)}`);
    const distinct = new Set(Object.values(s.online_keys));
    if (distinct.size > 1) {
      // One key per role: say which signs what (keyids only).
      lines.push("online keys");
      for (const [role, keyid] of Object.entries(s.online_keys)) lines.push(`  ${role.padEnd(11)} ${keyid}`);
    } else if (s.online_keyid) lines.push(`online key    ${s.online_keyid}`);
    if (s.bins !== null && s.delegated_roles === null)
      lines.push(
        `bins          ${s.bins} hash bins${typeof s.config.bins_expiration === "number" ? `, expiring after ${s.config.bins_expiration} day(s)` : ""}`,
      );
    for (const d of s.largest_documents) {
      const pct = (d.bytes / d.limit) * 100;
      lines.push(
        `${`largest ${d.kind}`.padEnd(17)} ${d.role} ${d.bytes} of ${d.limit} bytes clients download (${pct.toFixed(1)}%)${d.kind === "targets" && pct >= 50 ? ": re-bin into more hash bins before it reaches the limit" : ""}`,
      );
    }
    if (s.bins_advice) lines.push(...formatBinAdviceSummary(s.bins_advice));
    if (s.delegated_roles) {
      lines.push(`delegations   ${s.delegated_roles.length} role(s):`);
      for (const r of s.delegated_roles) {
        const where = r.paths
          ? `paths ${r.paths.join(" ")}`
          : `hash prefixes ${(r.path_hash_prefixes ?? []).join(" ")}`;
        lines.push(
          `  ${r.name}: ${r.online ? "online key" : `${r.threshold} of ${r.keyids.length} offline key(s)`}; ${where}`,
        );
      }
    }
  } else {
    lines.push(
      s.bootstrap.state === null ? `next: tufbox bootstrap PAYLOAD --server ${s.server}` : "no metadata published yet",
    );
  }
  lines.push("");
  if (s.pending.length === 0) {
    lines.push("pending signatures: none");
  } else {
    lines.push("pending signatures:");
    for (const p of s.pending) {
      let line = `  ${p.role} v${p.version}: ${p.signed} of ${p.of} signed, threshold ${p.threshold}`;
      if (p.trusted)
        line += `; root v${p.trusted.version} (trusted): ${p.trusted.signed} of ${p.trusted.of}, threshold ${p.trusted.threshold}`;
      lines.push(line);
      lines.push(
        `    sign: tufbox sign --key THEIR_KEY${p.role === "root" ? "" : ` --role ${p.role}`} --server ${s.server}`,
      );
    }
  }
  lines.push("");
  if (s.alerts === null) lines.push("alerts: not available (a tufbox server answers them with --token / TUFBOX_TOKEN)");
  else if (s.alerts.length === 0) lines.push("alerts: none");
  else {
    lines.push("alerts:");
    for (const a of s.alerts) {
      lines.push(`  ${a.severity.toUpperCase()}: ${a.summary}`);
      if (a.hint) lines.push(`    what to do: ${a.hint}`);
    }
  }
  const expired = Object.entries(s.roles)
    .filter(([, r]) => r.seconds_left <= 0)
    .map(([n]) => n);
  if (expired.length > 0)
    lines.push(
      `\nwarning: ${expired.join(", ")} EXPIRED: clients refuse this repository until it is re-signed${expired.includes("root") ? " (root: tufbox root update --server … --send)" : ""}`,
    );
  return lines;
}

export async function statusCommand(
  argv: string[],
  term: ServerTerminal = serverTerminal(),
  now: Date = new Date(),
): Promise<void> {
  let json = false;
  return serverCommand(
    "status",
    term,
    () => json,
    async () => {
      const args = parseCommandArgs("status", argv, SERVER_FLAGS, { config: false });
      json = jsonFlag(args.own);
      if (args.own.help) return term.out(STATUS_HELP);
      if (args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox status --server URL'");
      const api = apiClient(args.own, term, "status");
      const out = new Output(term, json);
      let status: RepositoryStatus;
      try {
        status = await repositoryStatus(api, now);
      } catch (err) {
        // A tufbox mirror has no repository API (404) but GET /api/v1/mirror: show how current it is.
        const mirror = err instanceof ServerError && err.status === 404 ? await mirrorStatusOf(api) : undefined;
        if (!mirror) throw err;
        if (json) return out.result(mirror);
        for (const line of formatMirrorStatus(mirror, api.server)) out.say(line);
        return;
      }
      if (json) return out.result(status);
      for (const line of formatStatusReport(status)) out.say(line);
    },
  );
}
