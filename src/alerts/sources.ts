/**
 * The alerts tufbox raises about itself. Each reads state the process already
 * holds in memory (heads, publisher, scheduler), so evaluating them for every
 * /metrics scrape or /readyz probe costs nothing measurable.
 */
import { alert, duration, type Alert, type AlertSource } from "./alert.ts";
import type { DelegatedRole, TargetsSigned } from "../tuf/metadata.ts";

import { CLIENT_MAX_BYTES } from "../tuf/limits.ts";
import { isSignedByOnlineKey } from "../tuf/roles.ts";

const TARGETS_CLIENT_LIMIT = CLIENT_MAX_BYTES.targets;
/** warn when a targets document passes this share of the client limit (critical from 95 %) */
export const TARGETS_WARN_RATIO = 0.8;
export const TARGETS_CRITICAL_RATIO = 0.95;

const DAY_MS = 86_400_000;

/** What the built-in sources read; the App adapts its parts to it. */
export interface AlertState {
  bootstrapped(): boolean;
  heads(): { role: string; version: number; expires: string }[];
  /** every keyid that signs online (tuf/roles.ts onlineKeyIds): each role may have its own */
  onlineKeyIds(): ReadonlySet<string>;
  /** the latest top-level targets (for delegated roles and their keys) */
  targets(): Promise<TargetsSigned | undefined>;
  isBin(role: string): boolean;
  largestTargetsRole(): { role: string; bytes: number } | null;
  publisherError(): string | null;
  jobs(): { name: string; lastRun: string | null; lastResult: string | null }[];
  /** ms before expiry at which the scheduler re-signs online roles */
  resignWindowMs: number;
}

/** `alerts.offline_expiry_days`: role name → days, with `root` and `default` always present. */
export type OfflineExpiryDays = Record<string, number>;

/** A delegated role whose new versions need offline signatures (not the online key alone). */
export function isOfflineDelegation(role: DelegatedRole, online: string | ReadonlySet<string> | undefined): boolean {
  return !isSignedByOnlineKey(role, online);
}

/**
 * Offline roles (root, delegations signed by offline keys) cannot be re-signed
 * by the server: a human must run a signing ceremony, which takes days to
 * organise. Warn `alerts.offline_expiry_days` before they lapse; critical in
 * the last quarter of that window and once expired.
 */
export function offlineExpirySource(state: AlertState, days: OfflineExpiryDays): AlertSource {
  return {
    name: "offline-expiry",
    async evaluate(now) {
      if (!state.bootstrapped()) return [];
      const heads = new Map(state.heads().map((h) => [h.role, h]));
      const offline: { role: string; expires: string; hint: string }[] = [];
      const root = heads.get("root");
      if (root)
        offline.push({
          role: "root",
          expires: root.expires,
          hint: "build and sign root N+1 with the root keys: tufbox root update --server URL --send, then tufbox sign",
        });
      const targets = await state.targets();
      const online = state.onlineKeyIds();
      for (const r of targets?.delegations?.roles ?? []) {
        const head = heads.get(r.name);
        if (!head || !isOfflineDelegation(r, online)) continue;
        offline.push({
          role: r.name,
          expires: head.expires,
          hint: `re-sign ${r.name} with its offline keys (tufbox sign --role ${r.name} --server URL) or publish a new version of it`,
        });
      }
      const out: Alert[] = [];
      for (const o of offline) {
        const warnDays = days[o.role] ?? days.default ?? 14;
        const left = new Date(o.expires).getTime() - now.getTime();
        if (left > warnDays * DAY_MS) continue;
        const seconds = Math.round(left / 1000);
        out.push(
          alert({
            kind: "offline_role_expiring",
            subject: o.role,
            severity: left <= (warnDays * DAY_MS) / 4 ? "critical" : "warning",
            summary:
              left <= 0
                ? `${o.role} EXPIRED ${duration(seconds)} ago (${o.expires}): clients refuse the repository until it is re-signed offline`
                : `${o.role} expires in ${duration(seconds)} (${o.expires}) and is signed by offline keys: the server cannot re-sign it`,
            hint: o.hint,
            value: seconds,
          }),
        );
      }
      return out;
    },
  };
}

/**
 * Online roles are re-signed by the scheduler when less than the re-sign
 * window remains. One still closer than half the window has been missed at
 * least once: the online key, the signer or the publisher is failing. Bins
 * are summarised in one alert (16384 of them would drown everything else).
 */
export function onlineOverdueSource(state: AlertState): AlertSource {
  return {
    name: "online-overdue",
    async evaluate(now) {
      if (!state.bootstrapped()) return [];
      const targets = await state.targets();
      const offline = new Set(
        (targets?.delegations?.roles ?? [])
          .filter((r) => isOfflineDelegation(r, state.onlineKeyIds()))
          .map((r) => r.name),
      );
      const limit = now.getTime() + state.resignWindowMs / 2;
      const out: Alert[] = [];
      let bins = 0;
      let binsSoonest: { role: string; expires: string } | undefined;
      for (const h of state.heads()) {
        if (h.role === "root" || offline.has(h.role)) continue;
        const at = new Date(h.expires).getTime();
        if (at > limit) continue;
        if (state.isBin(h.role)) {
          bins++;
          if (!binsSoonest || at < new Date(binsSoonest.expires).getTime()) binsSoonest = h;
          continue;
        }
        out.push(overdue(h.role, h.expires, at - now.getTime()));
      }
      if (binsSoonest) {
        const a = overdue("bins", binsSoonest.expires, new Date(binsSoonest.expires).getTime() - now.getTime());
        a.summary = `${bins} bin(s) not re-signed in time; ${binsSoonest.role} ${a.value! <= 0 ? "EXPIRED" : "expires"} ${a.value! <= 0 ? `${duration(a.value!)} ago` : `in ${duration(a.value!)}`}`;
        out.push(a);
      }
      return out;
    },
  };
}

function overdue(role: string, expires: string, leftMs: number): Alert {
  const seconds = Math.round(leftMs / 1000);
  return alert({
    kind: "online_role_overdue",
    subject: role,
    severity: leftMs <= 10 * 60_000 ? "critical" : "warning",
    summary:
      leftMs <= 0
        ? `${role} EXPIRED ${duration(seconds)} ago (${expires}): online re-signing is failing`
        : `${role} expires in ${duration(seconds)} (${expires}) and was not re-signed in time: online re-signing is failing`,
    hint: "check the publisher and the online key (tufbox logs; /readyz; the Jobs view)",
    value: seconds,
  });
}

/**
 * The publisher retries a failed batch every second; one failure is noise (a
 * conflict with another replica, a store hiccup), a failure that persists for
 * `afterMs` is not. Remembers when the current failure began.
 */
export function publisherSource(state: AlertState, afterMs = 60_000): AlertSource {
  let since: number | null = null;
  return {
    name: "publisher",
    evaluate(now) {
      const error = state.publisherError();
      if (error === null) {
        since = null;
        return [];
      }
      since ??= now.getTime();
      if (now.getTime() - since < afterMs) return [];
      return [
        alert({
          kind: "publisher_failing",
          subject: "publisher",
          severity: "critical",
          summary: `publishing has been failing for ${duration((now.getTime() - since) / 1000)}: ${error}`,
          hint: "accepted changes stay queued and are published once the cause is fixed; see the server log",
          since: new Date(since).toISOString(),
        }),
      ];
    },
  };
}

/** A scheduled job whose last run failed (re-signing, housekeeping). */
export function jobsSource(state: AlertState): AlertSource {
  return {
    name: "jobs",
    evaluate() {
      return state
        .jobs()
        .filter((j) => j.lastResult?.startsWith("failed"))
        .map((j) =>
          alert({
            kind: "job_failing",
            subject: j.name,
            severity: j.name === "resign-expiring" ? "critical" : "warning",
            summary: `scheduled job ${j.name} failed at ${j.lastRun}: ${j.lastResult!.replace(/^failed:\s*/, "")}`,
            hint: "see the server log; run it again from the Jobs view or POST /api/v1/jobs/NAME/run",
            since: j.lastRun ?? undefined,
          }),
        );
    },
  };
}

/**
 * DESIGN.md "Client limits": a bin over 5,000,000 bytes cannot be downloaded
 * by tuf-js or python-tuf. Warn well before: re-binning takes planning.
 */
export function targetsSizeSource(state: AlertState): AlertSource {
  return {
    name: "targets-size",
    evaluate() {
      const largest = state.largestTargetsRole();
      if (!largest || largest.bytes < TARGETS_CLIENT_LIMIT * TARGETS_WARN_RATIO) return [];
      const pct = Math.round((largest.bytes / TARGETS_CLIENT_LIMIT) * 100);
      return [
        alert({
          kind: "targets_role_near_cap",
          subject: largest.role,
          severity: largest.bytes >= TARGETS_CLIENT_LIMIT * TARGETS_CRITICAL_RATIO ? "critical" : "warning",
          summary: `${largest.role} is ${largest.bytes} bytes, ${pct} % of the ${TARGETS_CLIENT_LIMIT}-byte limit TUF clients download for a targets document`,
          hint: "use more hash bins, online: tufbox bins resize --to N --server URL (POST /api/v1/bins); or split the delegation",
          value: largest.bytes,
        }),
      ];
    },
  };
}

export function builtinSources(state: AlertState, days: OfflineExpiryDays): AlertSource[] {
  return [
    offlineExpirySource(state, days),
    onlineOverdueSource(state),
    publisherSource(state),
    jobsSource(state),
    targetsSizeSource(state),
  ];
}
