/** Scheduler jobs: last and next run, result; "Run now" for admins. */
import { api, can } from "../lib/api.ts";
import type { ViewContext } from "../lib/context.ts";
import { h } from "../lib/dom.ts";
import { ago, when } from "../lib/format.ts";

export async function jobs(ctx: ViewContext): Promise<HTMLElement> {
  const [{ data }, { data: alerts }] = await Promise.all([api("/api/v1/jobs"), api("/api/v1/alerts")]);
  const admin = can(ctx.who, "admin");
  const status = h("p", { role: "status", class: "small" });
  const root = h(
    "section",
    { "aria-labelledby": "jobs-title" },
    h("h1", { id: "jobs-title" }, "Scheduler jobs"),
    h(
      "p",
      { class: "muted small" },
      data.leader
        ? "This replica is the scheduler leader: it runs the timed jobs."
        : "Another replica is the scheduler leader; timed runs happen there.",
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("caption", { class: "sr-only" }, "Scheduled jobs"),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ...["Job", "What it does", "Last run", "Result", "Next run", ...(admin ? ["Action"] : [])].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        h(
          "tbody",
          null,
          (data.jobs as any[]).map((j) =>
            h(
              "tr",
              { "data-job": j.name },
              h("th", { scope: "row" }, h("code", null, j.name)),
              h("td", null, j.description),
              h(
                "td",
                null,
                h("time", { datetime: j.last_run ?? "", title: when(j.last_run) }, ago(j.last_run, Date.now())),
              ),
              h("td", { class: j.last_result?.startsWith("failed") ? "error" : "" }, j.last_result ?? "—"),
              h("td", null, when(j.next_run)),
              admin
                ? h(
                    "td",
                    null,
                    h(
                      "button",
                      {
                        type: "button",
                        "data-write": "run-job",
                        onclick: async (e: Event) => {
                          const btn = e.currentTarget as HTMLButtonElement;
                          btn.disabled = true;
                          try {
                            const { data: r } = await api(`/api/v1/jobs/${encodeURIComponent(j.name)}/run`, {
                              method: "POST",
                            });
                            status.textContent = `${j.name}: ${r.result}`;
                            ctx.refresh();
                          } catch (err) {
                            status.textContent = `${j.name}: ${(err as Error).message}`;
                            btn.disabled = false;
                          }
                        },
                      },
                      "Run now",
                      h("span", { class: "sr-only" }, `: ${j.name}`),
                    ),
                  )
                : null,
            ),
          ),
        ),
      ),
    ),
    status,
    h("h2", null, "Alert webhooks"),
    alerts.webhooks.configured === 0
      ? h("p", { class: "muted" }, "No webhooks configured (alerts.webhooks).")
      : deliveries(alerts.webhooks.deliveries),
  );
  return root;
}

function deliveries(list: any[]): HTMLElement {
  if (list.length === 0) return h("p", { class: "muted" }, "No deliveries yet.");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      h("caption", { class: "sr-only" }, "Webhook deliveries, newest first"),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ...["Alert", "Event", "To", "State", "Attempts", "Last answer", "Next try"].map((c) =>
            h("th", { scope: "col" }, c),
          ),
        ),
      ),
      h(
        "tbody",
        null,
        list
          .slice(0, 30)
          .map((d) =>
            h(
              "tr",
              null,
              h("th", { scope: "row" }, h("code", null, d.alert_key)),
              h("td", null, d.event),
              h("td", null, d.target),
              h(
                "td",
                null,
                h(
                  "span",
                  { class: `state u-${d.state === "delivered" ? "ok" : d.state === "failed" ? "critical" : "warn"}` },
                  d.state,
                ),
              ),
              h("td", { class: "num" }, String(d.attempts)),
              h("td", null, d.last_error ?? (d.last_status ? `HTTP ${d.last_status}` : "—")),
              h("td", null, when(d.next_attempt_at)),
            ),
          ),
      ),
    ),
  );
}
