/**
 * The tufbox dashboard: log in with a token, then one view per hash route.
 * Everything comes from the same origin's API; nothing is loaded from
 * anywhere else (the server's Content-Security-Policy enforces it), so the
 * page works on an air-gapped machine.
 */
import { ApiError, api, token, type Whoami } from "./lib/api.ts";
import type { ViewContext } from "./lib/context.ts";
import { append, clear, h } from "./lib/dom.ts";
import { URGENCY_LABEL, countdown, urgency } from "./lib/format.ts";
import { artifacts } from "./views/artifacts.ts";
import { jobs } from "./views/jobs.ts";
import { overview } from "./views/overview.ts";
import { signing } from "./views/signing.ts";
import { tasks } from "./views/tasks.ts";
import { timeline } from "./views/timeline.ts";

const VIEWS: { id: string; title: string; render: (ctx: ViewContext) => Promise<HTMLElement>; live: boolean }[] = [
  { id: "overview", title: "Overview", render: overview, live: true },
  { id: "timeline", title: "Expiry timeline", render: timeline, live: true },
  { id: "artifacts", title: "Artifacts", render: artifacts, live: false },
  { id: "tasks", title: "Tasks", render: tasks, live: true },
  { id: "signing", title: "Signing sessions", render: signing, live: true },
  { id: "jobs", title: "Scheduler jobs", render: jobs, live: true },
];

const main = document.getElementById("main")!;
const nav = document.getElementById("nav")!;
const banner = document.getElementById("banner")!;
const session = document.getElementById("session")!;

let who: Whoami | null = null;
let clockOffset = 0;
let renderSeq = 0;

const ctx: ViewContext = {
  get who() {
    return who!;
  },
  now: () => Date.now() + clockOffset,
  syncClock(iso) {
    const t = new Date(iso).getTime();
    if (!Number.isNaN(t)) clockOffset = t - Date.now();
  },
  refresh: () => void show(false),
};

function currentView() {
  const id = location.hash.replace(/^#\/?/, "") || "overview";
  return VIEWS.find((v) => v.id === id) ?? VIEWS[0]!;
}

async function show(focus: boolean): Promise<void> {
  if (!who) return;
  const view = currentView();
  const seq = ++renderSeq;
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${view.id}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${view.title} — tufbox`;
  main.setAttribute("aria-busy", "true");
  let content: HTMLElement;
  try {
    content = await view.render(ctx);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return logout("Your token is no longer accepted; log in again.");
    content = h(
      "section",
      null,
      h("h1", null, view.title),
      h("p", { class: "error", role: "alert" }, `Could not load: ${(err as Error).message}`),
    );
  }
  if (seq !== renderSeq) return;
  clear(main);
  main.append(content);
  main.removeAttribute("aria-busy");
  if (focus) main.querySelector("h1")?.focus();
  main.querySelector("h1")?.setAttribute("tabindex", "-1");
}

async function loadBanner(): Promise<void> {
  if (!who) return;
  try {
    const { data } = await api("/api/v1/alerts");
    clear(banner);
    for (const a of data.alerts as any[]) {
      banner.append(
        h(
          "div",
          { class: `alert a-${a.severity}`, "data-alert": a.key },
          h("strong", null, a.severity === "critical" ? "Critical: " : "Warning: "),
          a.summary,
          a.hint ? h("div", { class: "small" }, `What to do: ${a.hint}`) : null,
        ),
      );
    }
  } catch {
    // The view shows connection problems; the banner keeps its last state.
  }
}

function tick(): void {
  for (const el of document.querySelectorAll<HTMLElement>(".countdown[data-expires]")) {
    const seconds = (new Date(el.dataset.expires!).getTime() - ctx.now()) / 1000;
    const u = urgency(
      seconds,
      {
        signing: el.dataset.signing === "offline" ? "offline" : "online",
        alert_days: el.dataset.alertDays ? Number(el.dataset.alertDays) : undefined,
      },
      Number(el.dataset.window),
    );
    el.className = `countdown u-${u}`;
    el.querySelector(".countdown-text")!.textContent = countdown(seconds);
    el.querySelector(".badge")!.textContent = URGENCY_LABEL[u];
  }
}

function renderSession(): void {
  clear(session);
  if (!who) return;
  append(session, [
    h(
      "span",
      { class: "who" },
      who.auth_disabled ? "authentication disabled" : who.subject,
      h("span", { class: "scopes" }, ` (${who.scopes.join(", ")})`),
    ),
    who.auth_disabled ? null : h("button", { type: "button", onclick: () => logout("Logged out.") }, "Log out"),
  ]);
}

function logout(message: string): void {
  token.clear();
  who = null;
  renderSession();
  clear(banner);
  nav.hidden = true;
  loginForm(message);
}

function loginForm(message?: string): void {
  clear(main);
  document.title = "Log in — tufbox";
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help",
  });
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  main.append(
    h(
      "section",
      { class: "login card", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title" }, "Log in"),
      message ? h("p", { class: "muted" }, message) : null,
      h(
        "form",
        {
          onsubmit: async (e: Event) => {
            e.preventDefault();
            const t = input.value.trim();
            try {
              const { data } = await api<Whoami>("/api/v1/whoami", { token: t });
              token.set(t);
              enter(data);
            } catch (err) {
              error.textContent =
                err instanceof ApiError && err.status === 401 ? "This token is not accepted." : (err as Error).message;
            }
          },
        },
        h("label", { for: "token" }, "API token"),
        input,
        h(
          "p",
          { id: "token-help", class: "small muted" },
          "Paste a tufbox token. It is kept in this tab only (sessionStorage) and sent to this server alone.",
        ),
        h("button", { type: "submit" }, "Log in"),
        error,
      ),
    ),
  );
  input.focus();
}

function enter(w: Whoami): void {
  who = w;
  renderSession();
  nav.hidden = false;
  void loadBanner();
  void show(true);
}

function buildNav(): void {
  nav.append(
    h(
      "ul",
      null,
      VIEWS.map((v) => h("li", null, h("a", { href: `#/${v.id}` }, v.title))),
    ),
  );
}

async function start(): Promise<void> {
  buildNav();
  nav.hidden = true;
  window.addEventListener("hashchange", () => void show(true));
  setInterval(tick, 1000);
  setInterval(() => {
    if (document.hidden || !who) return;
    void loadBanner();
    if (currentView().live) void show(false);
  }, 30_000);
  try {
    // With authentication disabled (development), whoami answers without a token.
    const { data } = await api<Whoami>("/api/v1/whoami");
    enter(data);
  } catch {
    token.clear();
    loginForm();
  }
}

void start();
