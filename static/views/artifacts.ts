/**
 * Artifacts: search by path prefix, one page at a time (the API pages by
 * keyset cursor, so page 10,000 costs what page 1 costs).
 */
import { api } from "../lib/api.ts";
import type { ViewContext } from "../lib/context.ts";
import { clear, h } from "../lib/dom.ts";
import { bytes, shortId } from "../lib/format.ts";

const PAGE = 50;

interface State {
  prefix: string;
  /** cursors of the pages before the current one ("" = first page) */
  stack: string[];
  cursor: string;
}

const state: State = { prefix: "", stack: [], cursor: "" };

export async function artifacts(_ctx: ViewContext): Promise<HTMLElement> {
  const results = h("div", { id: "artifact-results", "aria-live": "polite" });
  const input = h("input", {
    id: "prefix",
    name: "prefix",
    type: "search",
    value: state.prefix,
    placeholder: "e.g. releases/1.2/",
    autocomplete: "off",
    spellcheck: "false",
  });
  const form = h(
    "form",
    {
      class: "search",
      role: "search",
      onsubmit: (e: Event) => {
        e.preventDefault();
        state.prefix = input.value;
        state.stack = [];
        state.cursor = "";
        void load(results);
      },
    },
    h("label", { for: "prefix" }, "Path prefix"),
    input,
    h("button", { type: "submit" }, "Search"),
  );
  const root = h(
    "section",
    { "aria-labelledby": "artifacts-title" },
    h("h1", { id: "artifacts-title" }, "Artifacts"),
    form,
    results,
  );
  await load(results);
  return root;
}

async function load(results: HTMLElement): Promise<void> {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (state.prefix) q.set("prefix", state.prefix);
  if (state.cursor) q.set("cursor", state.cursor);
  let data: any;
  try {
    ({ data } = await api(`/api/v1/artifacts?${q}`));
  } catch (err) {
    clear(results);
    results.append(h("p", { class: "error", role: "alert" }, (err as Error).message));
    return;
  }
  clear(results);
  if (data.artifacts.length === 0) {
    results.append(
      h(
        "p",
        { class: "empty" },
        state.prefix ? `No artifact path starts with “${state.prefix}”.` : "No artifacts yet.",
      ),
    );
    return;
  }
  const rows = (data.artifacts as any[]).map((a) =>
    h(
      "tr",
      { "data-path": a.path },
      h("th", { scope: "row", class: "path" }, a.path),
      h("td", null, a.role),
      h("td", { class: "num" }, bytes(a.length)),
      h(
        "td",
        { class: "hash" },
        Object.entries(a.hashes as Record<string, string>).map(([alg, hex]) =>
          h("div", { title: hex }, h("span", { class: "muted" }, `${alg} `), h("code", null, shortId(hex, 16))),
        ),
      ),
      h("td", { class: "custom" }, a.custom !== undefined ? h("code", null, JSON.stringify(a.custom)) : ""),
      h(
        "td",
        null,
        a.download
          ? h("a", { href: a.download, download: "" }, "download", h("span", { class: "sr-only" }, ` ${a.path}`))
          : "",
      ),
    ),
  );
  const page = state.stack.length + 1;
  results.append(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("caption", { class: "sr-only" }, `Artifacts, page ${page}`),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ...["Path", "Role", "Length", "Hashes", "Custom", "File"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h("tbody", null, rows),
      ),
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Artifact pages" },
      h(
        "button",
        {
          type: "button",
          disabled: state.stack.length === 0,
          onclick: () => {
            state.cursor = state.stack.pop() ?? "";
            void load(results);
          },
        },
        "Previous",
      ),
      h("span", null, `page ${page}`),
      h(
        "button",
        {
          type: "button",
          disabled: !data.next_cursor,
          onclick: () => {
            state.stack.push(state.cursor);
            state.cursor = data.next_cursor;
            void load(results);
          },
        },
        "Next",
      ),
    ),
  );
}
