/** Overview: every role's version and expiry at a glance, the bins, the publisher, health, recent publications. */
import { api } from "../lib/api.ts";
import type { ViewContext } from "../lib/context.ts";
import { h } from "../lib/dom.ts";
import { URGENCY_LABEL, ago, bytes, countdown, urgency, when } from "../lib/format.ts";

interface Role {
  name: string;
  kind: string;
  version: number;
  expires: string;
  signing: "online" | "offline";
  keyids: string[];
  threshold: number;
  alert_days?: number;
}

/** A countdown cell that ticks (see app.ts) and carries its urgency as colour *and* words. */
export function expiryCell(
  expires: string,
  role: Pick<Role, "signing" | "alert_days">,
  ctx: ViewContext,
  window: number,
) {
  const seconds = (new Date(expires).getTime() - ctx.now()) / 1000;
  const u = urgency(seconds, role, window);
  return h(
    "span",
    {
      class: `countdown u-${u}`,
      "data-expires": expires,
      "data-signing": role.signing,
      "data-alert-days": role.alert_days ?? null,
      "data-window": window,
    },
    h("span", { class: "countdown-text" }, countdown(seconds)),
    h("span", { class: "badge" }, URGENCY_LABEL[u]),
  );
}

function keysCell(keyids: string[], threshold: number) {
  return h(
    "span",
    { title: keyids.join("\n") },
    `${threshold} of ${keyids.length} key${keyids.length === 1 ? "" : "s"}`,
  );
}

export async function overview(ctx: ViewContext): Promise<HTMLElement> {
  const [{ data: r }, { data: pubs }] = await Promise.all([api("/api/v1/roles"), api("/api/v1/publications?limit=8")]);
  ctx.syncClock(r.now);
  const window = r.resign_window_seconds as number;
  const root = h("section", { "aria-labelledby": "overview-title" }, h("h1", { id: "overview-title" }, "Overview"));
  if (!r.bootstrapped) {
    root.append(
      h(
        "p",
        { class: "empty" },
        r.bootstrap_state === "signing"
          ? "The bootstrap is waiting for root signatures: see Signing sessions."
          : "This repository is not bootstrapped yet: send a ceremony payload with `tufbox bootstrap PAYLOAD --server URL`.",
      ),
    );
    return root;
  }

  const p = r.publisher;
  const health = r.health;
  root.append(
    h(
      "div",
      { class: "cards" },
      card("Health", health.ready ? "ready" : "not ready", health.ready ? "ok" : "critical", [
        `store ${health.store ? "reachable" : "UNREACHABLE"}`,
        health.expired_roles.length ? `expired: ${health.expired_roles.join(", ")}` : "nothing expired",
      ]),
      card("Publisher", p.state, p.state === "failing" ? "critical" : p.state === "paused" ? "warn" : "ok", [
        p.paused
          ? `paused since ${when(p.paused_since)} by ${p.paused_by}${p.paused_reason ? `: ${p.paused_reason}` : ""}; online roles are still re-signed; resume with tufbox publisher resume`
          : null,
        `queue: ${p.pending_changes ?? "?"} change(s)`,
        `${p.batches} batch(es) since start`,
        p.last_error ? `last error: ${p.last_error}` : null,
      ]),
      card("Scheduler", health.scheduler_leader ? "leader" : "standby", "ok", [
        `re-signs online roles ${Math.round(window / 3600)} h before expiry`,
      ]),
      r.largest_targets_role
        ? sizeCard(r.largest_targets_role.role, r.largest_targets_role.bytes, r.largest_targets_role.client_limit)
        : null,
      r.bins_advice ? binsAdviceCard(r.bins_advice) : null,
    ),
  );

  const rows = (r.roles as Role[]).map((role) =>
    h(
      "tr",
      { "data-role": role.name },
      h(
        "th",
        { scope: "row" },
        role.name,
        role.kind === "delegated" ? h("span", { class: "muted" }, " delegated") : null,
      ),
      h("td", { class: "version" }, String(role.version)),
      h("td", null, h("time", { class: "expires", datetime: role.expires }, role.expires)),
      h("td", null, expiryCell(role.expires, role, ctx, window)),
      h("td", null, keysCell(role.keyids, role.threshold)),
      h(
        "td",
        null,
        h("span", { class: `signing s-${role.signing}` }, role.signing === "online" ? "online key" : "offline keys"),
      ),
    ),
  );
  const b = r.bins;
  if (b) {
    rows.push(
      h(
        "tr",
        { "data-role": "bins" },
        h("th", { scope: "row" }, `${b.prefix}-* `, h("span", { class: "muted" }, `${b.count} hash bins`)),
        h(
          "td",
          { class: "version" },
          b.versions
            ? b.versions.min === b.versions.max
              ? String(b.versions.min)
              : `${b.versions.min}–${b.versions.max}`
            : "—",
        ),
        h(
          "td",
          null,
          b.soonest
            ? h("time", { datetime: b.soonest.expires }, `${b.soonest.expires} (${b.soonest.role} first)`)
            : "—",
        ),
        h("td", null, b.soonest ? expiryCell(b.soonest.expires, { signing: "online" }, ctx, window) : "—"),
        h("td", null, keysCell(b.keyids, b.threshold)),
        h("td", null, h("span", { class: "signing s-online" }, "online key")),
      ),
    );
  }
  root.append(
    h("h2", null, "Roles"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "roles" },
        h("caption", { class: "sr-only" }, "Roles with version, expiry, time left, keys and signing"),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ...["Role", "Version", "Expires", "Time left", "Keys", "Signed by"].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        h("tbody", null, rows),
      ),
    ),
    h("p", { class: "muted small" }, `online key ${r.online_keyid ?? "—"}`),
  );

  root.append(
    h("h2", null, "Last publications"),
    h(
      "ol",
      { class: "publications" },
      (pubs.publications as any[]).map((pub) =>
        h(
          "li",
          null,
          h("strong", null, `timestamp v${pub.timestamp_version}`),
          " ",
          h("time", { datetime: pub.published_at, title: when(pub.published_at) }, ago(pub.published_at, ctx.now())),
          ` — ${pub.documents} document(s)`,
          pub.roles.length
            ? h(
                "span",
                { class: "muted" },
                `: ${pub.roles
                  .slice(0, 6)
                  .map((x: any) => `${x.role} v${x.version}`)
                  .join(", ")}${pub.documents - 2 > 6 ? ", …" : ""}`,
              )
            : null,
        ),
      ),
    ),
  );
  return root;
}

function card(title: string, value: string, u: string, lines: (string | null)[]) {
  return h(
    "div",
    { class: "card" },
    h("h2", { class: "card-title" }, title),
    h("p", { class: `card-value u-${u}` }, value),
    ...lines.filter((l) => l !== null).map((l) => h("p", { class: "small muted" }, l)),
  );
}

function sizeCard(role: string, size: number, limit: number) {
  const pct = Math.round((size / limit) * 100);
  const u = pct >= 95 ? "critical" : pct >= 80 ? "warn" : "ok";
  return h(
    "div",
    { class: "card" },
    h("h2", { class: "card-title" }, "Largest targets document"),
    h("p", { class: `card-value u-${u}` }, `${pct} %`),
    h("meter", {
      min: 0,
      max: limit,
      low: limit * 0.8,
      high: limit * 0.95,
      optimum: 0,
      value: size,
      "aria-label": `${role}: ${pct} % of the client limit`,
    }),
    h("p", { class: "small muted" }, `${role}: ${bytes(size)} of the ${bytes(limit)} clients accept`),
  );
}

/** How many hash bins suit the clients (GET /api/v1/roles bins_advice; tufbox bins advise says more). */
function binsAdviceCard(a: any) {
  const worst = a.warnings.some((w: any) => w.severity === "critical")
    ? "critical"
    : a.warnings.length > 0
      ? "warn"
      : "ok";
  const el = card("Hash bins for the clients", `${a.recommended.bins} recommended`, worst, [
    `${a.current ? `now ${a.current.bins} bins, ` : ""}${a.artifacts.toLocaleString("en-US")} artifacts`,
    ...a.warnings.map((w: any) => `${w.severity}: ${w.message}`),
  ]);
  el.setAttribute("data-card", "bins-advice");
  el.setAttribute("title", a.trade_off.join("\n"));
  return el;
}
