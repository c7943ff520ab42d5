/**
 * Expiry timeline, drawn as SVG by hand (no chart library: two simple charts
 * do not justify 40 kB of script):
 * - Horizon: one bar per role from now to its expiry on a logarithmic time
 *   axis (an hour and ten years on one screen), coloured by urgency, with a
 *   tick where tufbox starts warning (offline roles) or re-signing (online).
 * - Re-signing: the last days, linear; each published version is a dot at
 *   its publication and a line to its expiry, so daily re-signing of
 *   timestamp and snapshot shows as a staircase and a gap shows as a gap.
 */
import { api } from "../lib/api.ts";
import type { ViewContext } from "../lib/context.ts";
import { h, svg } from "../lib/dom.ts";
import { countdown, urgency, when } from "../lib/format.ts";

const HOUR = 3600;
const DAY = 86_400;
const TICKS: [number, string][] = [
  [HOUR, "1 h"],
  [6 * HOUR, "6 h"],
  [DAY, "1 d"],
  [7 * DAY, "7 d"],
  [30 * DAY, "30 d"],
  [90 * DAY, "90 d"],
  [365 * DAY, "1 y"],
  [3 * 365 * DAY, "3 y"],
  [10 * 365 * DAY, "10 y"],
];
const LABEL_W = 210;
const WIDTH = 960;
const ROW_H = 30;

function logX(seconds: number): number {
  const lo = Math.log(HOUR / 4);
  const hi = Math.log(10 * 365 * DAY);
  const v = Math.log(Math.max(HOUR / 4, Math.min(seconds, 10 * 365 * DAY)));
  return LABEL_W + ((v - lo) / (hi - lo)) * (WIDTH - LABEL_W - 20);
}

export async function timeline(ctx: ViewContext): Promise<HTMLElement> {
  const [{ data: roles }, { data: hist }] = await Promise.all([
    api("/api/v1/roles"),
    api("/api/v1/roles/history?limit=40"),
  ]);
  ctx.syncClock(roles.now);
  const now = ctx.now();
  const window = roles.resign_window_seconds as number;
  const rows: { name: string; signing: "online" | "offline"; alert_days?: number; expires: string }[] = [
    ...roles.roles,
  ];
  if (roles.bins?.soonest)
    rows.push({ name: `bins (${roles.bins.soonest.role})`, signing: "online", expires: roles.bins.soonest.expires });

  const root = h(
    "section",
    { "aria-labelledby": "timeline-title" },
    h("h1", { id: "timeline-title" }, "Expiry timeline"),
  );
  if (rows.length === 0) {
    root.append(h("p", { class: "empty" }, "Nothing published yet."));
    return root;
  }

  // ---- horizon
  const height = 40 + rows.length * ROW_H;
  const horizon = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    class: "chart",
    role: "img",
    "aria-labelledby": "horizon-title horizon-desc",
  });
  horizon.append(
    svg("title", { id: "horizon-title" }, "Time left before each role expires"),
    svg(
      "desc",
      { id: "horizon-desc" },
      rows.map((r) => `${r.name}: ${countdown((new Date(r.expires).getTime() - now) / 1000)}`).join("; "),
    ),
  );
  for (const [s, label] of TICKS) {
    const x = logX(s);
    horizon.append(
      svg("line", { x1: x, x2: x, y1: 20, y2: height - 4, class: "grid" }),
      svg("text", { x, y: 14, class: "tick", "text-anchor": "middle" }, label),
    );
  }
  rows.forEach((r, i) => {
    const y = 28 + i * ROW_H;
    const left = (new Date(r.expires).getTime() - now) / 1000;
    const u = urgency(left, r, window);
    const warnAt = r.signing === "offline" ? (r.alert_days ?? 14) * DAY : window;
    horizon.append(
      svg("text", { x: 8, y: y + 15, class: "lane-label" }, r.name),
      svg("rect", {
        x: LABEL_W,
        y: y + 3,
        width: Math.max(2, logX(left) - LABEL_W),
        height: 16,
        rx: 3,
        class: `bar u-${u}`,
      }),
      svg("line", { x1: logX(warnAt), x2: logX(warnAt), y1: y, y2: y + 22, class: `threshold s-${r.signing}` }),
      svg(
        "text",
        { x: Math.min(logX(left) + 6, WIDTH - 150), y: y + 15, class: "bar-label" },
        left > 0 ? countdown(left).replace(/^in /, "") : "EXPIRED",
      ),
    );
  });

  // ---- re-signing history, last 4 days to 2 days ahead
  const from = now - 4 * DAY * 1000;
  const to = now + 2 * DAY * 1000;
  const linX = (ms: number) =>
    LABEL_W + ((Math.min(Math.max(ms, from), to) - from) / (to - from)) * (WIDTH - LABEL_W - 20);
  const lanes = hist.roles as {
    name: string;
    label: string;
    versions: { version: number; expires: string; published_at: string }[];
  }[];
  const h2 = 40 + lanes.length * ROW_H;
  const history = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${h2}`,
    class: "chart",
    role: "img",
    "aria-labelledby": "history-title history-desc",
  });
  history.append(
    svg("title", { id: "history-title" }, "Versions published over the last four days and how long each is valid"),
    svg(
      "desc",
      { id: "history-desc" },
      lanes
        .map(
          (l) =>
            `${l.label}: ${l.versions.filter((v) => new Date(v.published_at).getTime() >= from).length} version(s) in the last 4 days`,
        )
        .join("; "),
    ),
  );
  for (let d = -4; d <= 2; d++) {
    const x = linX(now + d * DAY * 1000);
    history.append(
      svg("line", { x1: x, x2: x, y1: 20, y2: h2 - 4, class: d === 0 ? "now" : "grid" }),
      svg("text", { x, y: 14, class: "tick", "text-anchor": "middle" }, d === 0 ? "now" : `${d > 0 ? "+" : ""}${d} d`),
    );
  }
  lanes.forEach((lane, i) => {
    const y = 28 + i * ROW_H;
    history.append(svg("text", { x: 8, y: y + 15, class: "lane-label" }, lane.label));
    const versions = [...lane.versions].reverse();
    versions.forEach((v, j) => {
      const pub = new Date(v.published_at).getTime();
      const exp = new Date(v.expires).getTime();
      if (exp < from || pub > to) return;
      const yy = y + 4 + (j % 3) * 5;
      history.append(
        svg("line", { x1: linX(pub), x2: linX(exp), y1: yy, y2: yy, class: `validity${exp <= now ? " lapsed" : ""}` }),
        svg(
          "circle",
          { cx: linX(pub), cy: yy, r: 3.5, class: "published" },
          svg(
            "title",
            null,
            `${lane.name} v${v.version}: published ${when(v.published_at)}, expires ${when(v.expires)}`,
          ),
        ),
      );
    });
  });

  root.append(
    h("h2", null, "Time left"),
    h(
      "p",
      { class: "muted small" },
      "Logarithmic scale. The tick on each bar is where tufbox starts warning (offline roles) or re-signing (online roles).",
    ),
    h("figure", { class: "chart-wrap" }, horizon),
    h("h2", null, "Re-signing, last 4 days"),
    h("p", { class: "muted small" }, "Each dot is a published version; its line runs until that version expires."),
    h("figure", { class: "chart-wrap" }, history),
  );
  return root;
}
