// The console: routes on the path in the browser (every console path serves this page), keeps the
// session (the API key in sessionStorage), runs the one live stream and hands its events to the
// page on screen.

import { api, features, forget, key, whenUnauthorized } from "./client.js";
import { clear, h } from "./dom.js";
import { LiveStream } from "./live.js";
import * as alerts from "./pages/alerts.js";
import * as backtest from "./pages/backtest.js";
import * as detail from "./pages/detail.js";
import * as login from "./pages/login.js";
import * as oncall from "./pages/oncall.js";
import * as overview from "./pages/overview.js";
import * as silences from "./pages/silences.js";

const ROUTES = [
  [/^\/(alerts\/?)?$/, alerts, "alerts"],
  [/^\/alerts\/([^/]+)$/, detail, "alerts"],
  [/^\/overview$/, overview, "overview"],
  [/^\/silences$/, silences, "silences"],
  [/^\/oncall$/, oncall, "oncall"],
  [/^\/backtest$/, backtest, "backtest"],
  [/^\/login$/, login, null],
];

const main = document.getElementById("main");
const handlers = new Set();
let cleanup = null;
let stream = null;
let me = null;

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

function liveState(state) {
  const el = document.getElementById("live");
  const words = { connecting: "connecting…", live: "live", stale: "live: database not answering", offline: "offline: reconnecting…" };
  if (state === "unauthorized") { logout(); return; }
  el.dataset.state = state;
  el.textContent = words[state] || state;
}

function startLive() {
  if (stream) return;
  stream = new LiveStream({
    onState: liveState,
    onEvent: (event, payload) => { for (const fn of handlers) fn(event, payload); },
  });
  stream.start();
}

function logout() {
  forget();
  me = null;
  if (stream) { stream.stop(); stream = null; }
  document.getElementById("nav").hidden = true;
  document.getElementById("session").hidden = true;
  navigate("/login", { replace: true });
}

async function session() {
  if (me) return me;
  me = await api("/api/v1/me");
  const offered = await features();
  document.getElementById("nav").hidden = false;
  document.getElementById("session").hidden = false;
  document.getElementById("who").textContent = me.scope === "admin" ? `admin key ${me.key_id}` : `tenant ${me.tenant}`;
  for (const el of document.querySelectorAll("[data-admin]")) el.hidden = me.scope !== "admin";
  for (const el of document.querySelectorAll("[data-feature]")) el.hidden = !offered[el.dataset.feature];
  startLive();
  return me;
}

async function render() {
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup never blocks navigation */ } }
  cleanup = null;
  handlers.clear();
  const path = location.pathname;
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!key() && path !== "/login") {
    sessionStorage.setItem("alertstream.next", path + location.search);
    navigate("/login", { replace: true });
    return;
  }
  clear(main);
  if (!route) {
    main.append(h("h1", {}, "Not found"), h("p", {}, "The console has no page at this address."));
    return;
  }
  const [pattern, page, nav] = route;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const ctx = {
    main,
    params: path.match(pattern).slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p))),
    search: new URLSearchParams(location.search),
    navigate,
    onLive: (fn) => { handlers.add(fn); return () => handlers.delete(fn); },
  };
  try {
    if (page !== login) {
      ctx.me = await session();
      ctx.features = await features();
    } else {
      ctx.signedIn = async (next) => { me = null; await session(); navigate(next || "/", { replace: true }); };
    }
    cleanup = (await page.render(ctx)) || null;
  } catch (err) {
    if (err && err.status === 401) { logout(); return; }
    clear(main);
    main.append(h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, String(err.message || err)));
  }
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-link]");
  if (!a || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);
document.getElementById("logout").addEventListener("click", logout);
whenUnauthorized(() => { if (location.pathname !== "/login") logout(); });
render();
