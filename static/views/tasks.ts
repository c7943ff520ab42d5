/** Tasks: what was asked of the repository, newest first, with state, duration and error. */
import { api } from "../lib/api.ts";
import type { ViewContext } from "../lib/context.ts";
import { append, h } from "../lib/dom.ts";
import { ago, shortId, when } from "../lib/format.ts";

const STATE_CLASS: Record<string, string> = {
  SUCCESS: "ok",
  FAILURE: "critical",
  ERRORED: "critical",
  REVOKED: "warn",
};

export async function tasks(ctx: ViewContext): Promise<HTMLElement> {
  const { data } = await api("/api/v1/tasks?limit=100");
  const root = h("section", { "aria-labelledby": "tasks-title" }, h("h1", { id: "tasks-title" }, "Tasks"));
  if (data.tasks.length === 0) {
    root.append(h("p", { class: "empty" }, "No tasks in the retention period."));
    return root;
  }
  append(root, [
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("caption", { class: "sr-only" }, "Recent tasks, newest first"),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ...["Task", "Kind", "State", "Started", "Duration", "Outcome"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h(
          "tbody",
          null,
          (data.tasks as any[]).map((t) =>
            h(
              "tr",
              { "data-task": t.task_id },
              h("th", { scope: "row" }, h("code", { title: t.task_id }, shortId(t.task_id, 10))),
              h("td", null, t.name),
              h("td", null, h("span", { class: `state u-${STATE_CLASS[t.state] ?? "pending"}` }, t.state)),
              h(
                "td",
                null,
                h("time", { datetime: t.created_at, title: when(t.created_at) }, ago(t.created_at, ctx.now())),
              ),
              h("td", { class: "num" }, t.duration_ms === null ? "—" : `${(t.duration_ms / 1000).toFixed(2)} s`),
              h("td", null, t.error ? h("span", { class: "error" }, t.error) : (t.message ?? "")),
            ),
          ),
        ),
      ),
    ),
    data.next_cursor ? h("p", { class: "muted small" }, "Showing the newest 100.") : null,
  ]);
  return root;
}
