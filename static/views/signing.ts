/**
 * Signing sessions: what waits for offline signatures, how far it is (k of
 * n, missing keyids), what it changes, and the exact command to run where
 * the key lives. Cancelling (root updates, a pending bootstrap) needs the
 * metadata:sign or admin scope.
 */
import { api, can } from "../lib/api.ts";
import type { ViewContext } from "../lib/context.ts";
import { h } from "../lib/dom.ts";
import { when } from "../lib/format.ts";

const KIND: Record<string, string> = {
  bootstrap: "bootstrap: root v1",
  root_update: "root update",
  delegation: "delegated role",
};

export async function signing(ctx: ViewContext): Promise<HTMLElement> {
  const { data } = await api("/api/v1/signing-sessions");
  const root = h(
    "section",
    { "aria-labelledby": "signing-title" },
    h("h1", { id: "signing-title" }, "Signing sessions"),
  );
  if (data.sessions.length === 0) {
    root.append(h("p", { class: "empty" }, "Nothing is waiting for signatures."));
    return root;
  }
  for (const s of data.sessions as any[]) root.append(session(s, ctx));
  return root;
}

function session(s: any, ctx: ViewContext): HTMLElement {
  const met = s.thresholds.length > 0 && s.thresholds.every((t: any) => t.met);
  const cmdId = `cmd-${s.role}`;
  const status = h("p", { class: "small", role: "status" });
  return h(
    "article",
    { class: "signing-session card", "data-session": s.role },
    h("h2", null, `${s.role} v${s.version} `, h("span", { class: "muted" }, `— ${KIND[s.kind] ?? s.kind}`)),
    h(
      "p",
      { class: `kofn u-${met ? "ok" : "warn"}` },
      h("strong", { class: "k-of-n" }, `${s.signed} of ${s.needed}`),
      ` signature${s.needed === 1 ? "" : "s"} ${met ? "— ready to publish" : "collected"}`,
    ),
    h("p", { class: "small muted" }, `expires ${when(s.expires)}`),
    h(
      "ul",
      { class: "thresholds" },
      s.thresholds.map((t: any) =>
        h(
          "li",
          null,
          h("strong", null, t.of),
          `: ${t.signed.length} of ${t.total} key(s) signed, threshold ${t.threshold}${t.met ? " — met" : ""}`,
          t.missing.length
            ? h(
                "div",
                { class: "missing" },
                "missing: ",
                t.missing.map((k: string) => h("code", { class: "keyid" }, k)),
              )
            : null,
          t.invalid.length ? h("div", { class: "error" }, `invalid signature from: ${t.invalid.join(", ")}`) : null,
        ),
      ),
    ),
    s.changes.length
      ? h(
          "details",
          { open: true },
          h("summary", null, "What changes"),
          h(
            "ul",
            { class: "changes" },
            s.changes.map((c: string) => h("li", null, h("code", null, c))),
          ),
        )
      : null,
    s.problems.length
      ? h(
          "ul",
          { class: "problems" },
          s.problems.map((p: string) => h("li", { class: "error" }, p)),
        )
      : null,
    h("h3", { id: `${cmdId}-label` }, "Sign it, on the machine that holds the key"),
    h(
      "pre",
      { class: "command", tabindex: 0, "aria-labelledby": `${cmdId}-label` },
      h("code", { id: cmdId }, s.command),
    ),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(s.command);
              status.textContent = "Command copied.";
            } catch {
              status.textContent = "Select the command and copy it.";
            }
          },
        },
        "Copy command",
      ),
      s.kind !== "delegation" && (can(ctx.who, "metadata:sign") || can(ctx.who, "admin"))
        ? h(
            "button",
            {
              type: "button",
              class: "danger",
              "data-write": "cancel-session",
              onclick: async () => {
                if (!confirm(`Cancel the signing of ${s.role} v${s.version}? Signatures collected so far are dropped.`))
                  return;
                try {
                  await api("/api/v1/metadata/sign/delete", { method: "POST", body: { role: s.role } });
                  status.textContent = "Cancellation accepted.";
                  setTimeout(() => ctx.refresh(), 500);
                } catch (err) {
                  status.textContent = (err as Error).message;
                }
              },
            },
            "Cancel this signing session",
          )
        : null,
    ),
    status,
  );
}
