// The alerts list: filters (kept in the page's URL, never the key), counts, grouping by rule or
// fingerprint, keyboard navigation, and live updates (a change in the history reloads the page
// of alerts; new rows are marked and announced).

import { api, eventOf, lifecycle } from "../client.js";
import { ago, announce, clear, h, message, severity, status, throttle, time } from "../dom.js";

const RANGES = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000, all: 0 };
const SEVERITIES = ["critical", "warning", "info"];
const STATUSES = ["firing", "resolved"];
const PAGE = 50;

export function filtersFrom(search) {
  return {
    severity: search.getAll("severity").filter((s) => SEVERITIES.includes(s)),
    status: search.getAll("status").filter((s) => STATUSES.includes(s)),
    rule: search.get("rule") || "",
    receiver: search.get("receiver") || "",
    fingerprint: search.get("fingerprint") || "",
    text: search.get("text") || "",
    tenant: search.get("tenant") || "",
    range: search.get("range") in RANGES ? search.get("range") : "24h",
    group: ["rule", "fingerprint"].includes(search.get("group")) ? search.get("group") : "",
  };
}

function apiParams(f) {
  const seconds = RANGES[f.range];
  return {
    severity: f.severity, status: f.status, rule: f.rule, receiver: f.receiver, fingerprint: f.fingerprint,
    text: f.text, tenant: f.tenant, since: seconds ? new Date(Date.now() - seconds * 1000).toISOString() : undefined,
  };
}

function urlOf(f) {
  const q = new URLSearchParams();
  for (const s of f.severity) q.append("severity", s);
  for (const s of f.status) q.append("status", s);
  for (const name of ["rule", "receiver", "fingerprint", "text", "tenant", "group"]) if (f[name]) q.set(name, f[name]);
  if (f.range !== "24h") q.set("range", f.range);
  const text = q.toString();
  return text ? `/?${text}` : "/";
}

export async function render(ctx) {
  const { main, me, features } = ctx;
  const f = filtersFrom(ctx.search);
  const admin = me.scope === "admin";
  const state = { items: [], cursor: null, known: null, current: -1, selected: new Set(), loading: false };

  const apply = () => { history.replaceState(null, "", urlOf(f)); refresh(); };
  const form = filterForm(f, admin, apply);
  const counts = h("div", { class: "counts", "aria-live": "polite" });
  const toolbar = h("div", { class: "toolbar" });
  const body = h("div", { id: "alert-list" });
  const more = h("button", { type: "button", hidden: true, onclick: () => load(true) }, "Load more");
  const note = h("p", { class: "muted" }, "Keys: ", h("kbd", {}, "j"), " / ", h("kbd", {}, "k"), " move, ",
    h("kbd", {}, "Enter"), " opens, ", h("kbd", {}, "x"), " selects, ", h("kbd", {}, "/"), " searches.");
  const box = h("details", { class: "filter-box", open: window.matchMedia("(min-width: 721px)").matches },
    h("summary", {}, "Filters"), form);
  main.append(h("h1", {}, "Alerts"), box, counts, toolbar, body, more, note);

  async function load(next = false) {
    if (state.loading) return;
    state.loading = true;
    try {
      const params = apiParams(f);
      const [page, groups] = await Promise.all([
        f.group ? null : api("/api/v1/alerts", { params: { ...params, limit: PAGE, cursor: next ? state.cursor : undefined } }),
        next ? null : api("/api/v1/alert-groups", { params: { ...params, by: f.group || undefined } }),
      ]);
      if (groups) renderCounts(counts, groups.counts, f, apply);
      if (f.group) {
        renderGroups(body, groups.groups, f);
        more.hidden = true;
      } else {
        const fresh = state.known ? page.items.filter((a) => !state.known.has(a.alert_id)) : [];
        state.items = next ? [...state.items, ...page.items] : page.items;
        state.cursor = page.next_cursor;
        state.known = new Set(state.items.map((a) => a.alert_id));
        renderTable(body, state, admin, features, new Set(fresh.map((a) => a.alert_id)));
        more.hidden = !state.cursor;
        if (fresh.length) announce(`${fresh.length} new alert${fresh.length === 1 ? "" : "s"}`);
      }
      renderToolbar(toolbar, state, features, refresh);
    } catch (err) {
      clear(body).append(message("error", `Cannot load alerts: ${err.message}`));
    } finally {
      state.loading = false;
    }
  }

  const refresh = throttle(() => load(false), 700);
  ctx.onLive((event, change) => {
    if (event === "ready" || event === "reset") refresh();
    else if (event === "change" && (change.alert || (state.known && state.known.has(change.alert_id)))) refresh();
  });

  const keys = (event) => onKey(event, state, body, refresh, features);
  document.addEventListener("keydown", keys);
  await load(false);
  return () => { document.removeEventListener("keydown", keys); refresh.cancel(); };
}

function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

function filterForm(f, admin, apply) {
  const checks = (legend, name, values, chosen) => h("fieldset", {}, h("legend", {}, legend), values.map((v) => {
    const box = h("input", { type: "checkbox", name, value: v, id: `f-${name}-${v}`, checked: chosen.includes(v),
      onchange: () => { const i = chosen.indexOf(v); if (box.checked && i < 0) chosen.push(v); if (!box.checked && i >= 0) chosen.splice(i, 1); apply(); } });
    return h("label", { for: box.id }, box, " ", v);
  }));
  const text = (name, label, placeholder) => {
    const input = h("input", { id: `f-${name}`, name, type: name === "text" ? "search" : "text", value: f[name], placeholder });
    let timer = null;
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { f[name] = input.value.trim(); apply(); }, 400); });
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); clearTimeout(timer); f[name] = input.value.trim(); apply(); } });
    return field(label, input);
  };
  const select = (name, label, options) => {
    const control = h("select", { id: `f-${name}`, name, onchange: () => { f[name] = control.value; apply(); } },
      options.map(([value, text]) => h("option", { value, selected: f[name] === value }, text)));
    return field(label, control);
  };
  return h("form", { class: "filters", role: "search", "aria-label": "Filter alerts", onsubmit: (e) => e.preventDefault() },
    admin ? text("tenant", "Tenant", "every tenant") : null,
    checks("Severity", "severity", SEVERITIES, f.severity),
    checks("Status", "status", STATUSES, f.status),
    text("rule", "Rule", "rule id"),
    text("receiver", "Receiver", "receiver name"),
    text("text", "Text", "words of the summary"),
    select("range", "Time", [["15m", "last 15 min"], ["1h", "last hour"], ["6h", "last 6 h"], ["24h", "last 24 h"], ["7d", "last 7 days"], ["30d", "last 30 days"], ["all", "all time"]]),
    select("group", "Group by", [["", "nothing"], ["rule", "rule"], ["fingerprint", "fingerprint"]]),
    f.fingerprint ? h("p", {}, "fingerprint ", h("span", { class: "mono" }, f.fingerprint), " ",
      h("button", { type: "button", onclick: () => { f.fingerprint = ""; apply(); } }, "clear")) : null);
}

function renderCounts(el, counts, f, apply) {
  clear(el).append(h("span", { class: "chip", "data-count": "total" }, `${counts.total} alert${counts.total === 1 ? "" : "s"}`));
  for (const s of SEVERITIES) {
    const n = counts.by_severity[s] || 0;
    el.append(h("button", { type: "button", class: "chip", "data-count": s, "aria-pressed": String(f.severity.includes(s)),
      onclick: () => { f.severity = f.severity.includes(s) ? [] : [s]; apply(); } }, severity(s), ` ${n}`));
  }
  for (const s of STATUSES) el.append(h("span", { class: "chip", "data-count": s }, `${s} ${counts.by_status[s] || 0}`));
}

function renderTable(el, state, admin, features, fresh) {
  clear(el);
  if (!state.items.length) { el.append(h("p", { class: "muted" }, "No alert matches these filters.")); return; }
  const head = [features.bulkAck ? "" : null, "Severity", "Status", "Summary", "Rule", "Entity", admin ? "Tenant" : null, "Last seen", "Occurrences", "Folded", "Receivers"]
    .filter((x) => x !== null);
  const rows = state.items.map((a, i) => {
    const link = h("a", { href: `/alerts/${encodeURIComponent(a.alert_id)}`, "data-link": true, tabindex: i === Math.max(state.current, 0) ? "0" : "-1" }, a.summary);
    const box = features.bulkAck ? h("input", { type: "checkbox", "aria-label": `Select: ${a.summary}`, checked: state.selected.has(a.alert_id),
      onchange: () => { if (box.checked) state.selected.add(a.alert_id); else state.selected.delete(a.alert_id); if (state.onSelection) state.onSelection(); } }) : null;
    const told = eventOf(a); // acknowledged, silenced, inhibited, muted: a chip beside the status
    const acked = told ? h("span", { class: `chip ${told === "acknowledged" ? "acked" : "held"}`, "data-event": told }, told) : null;
    return h("tr", { class: `row sevrow-${a.severity}${fresh.has(a.alert_id) ? " fresh" : ""}${i === state.current ? " current" : ""}`, "data-alert-id": a.alert_id },
      box ? h("td", {}, box) : null,
      h("td", { "data-label": "Severity" }, severity(a.severity)),
      h("td", { "data-label": "Status" }, status(a.status), " ", acked),
      h("td", {}, link),
      h("td", { "data-label": "Rule" }, a.rule_id),
      h("td", { "data-label": "Entity", class: "mono" }, a.entity),
      admin ? h("td", { "data-label": "Tenant" }, a.tenant) : null,
      h("td", { "data-label": "Last seen", title: a.last_seen }, ago(a.last_seen)),
      h("td", { "data-label": "Occurrences", class: "num" }, a.occurrence_count),
      h("td", { "data-label": "Folded", class: "num" }, a.suppressed_count),
      h("td", { "data-label": "Receivers" }, a.routes.map((r) => r.receiver).join(", ") || "—"));
  });
  el.append(h("table", { class: "list", "aria-label": "Alerts, newest first" },
    h("thead", {}, h("tr", {}, head.map((c, i) => h("th", { scope: "col", class: c === "Occurrences" || c === "Folded" ? "num" : null }, c || h("span", { class: "visually-hidden" }, "Select"))))),
    h("tbody", {}, rows)));
}

function renderGroups(el, groups, f) {
  clear(el);
  if (!groups.length) { el.append(h("p", { class: "muted" }, "No alert matches these filters.")); return; }
  const target = (g) => {
    const q = new URLSearchParams(location.search);
    q.delete("group");
    q.set(f.group === "rule" ? "rule" : "fingerprint", g.key);
    return `/?${q}`;
  };
  el.append(h("table", { class: "list", "aria-label": `Alerts grouped by ${f.group}` },
    h("thead", {}, h("tr", {}, ["", f.group === "rule" ? "Rule" : "Fingerprint", "Alerts", "Firing", "Resolved", "Worst", "Latest", "Last seen"]
      .map((c) => h("th", { scope: "col" }, c || h("span", { class: "visually-hidden" }, "Severity"))))),
    h("tbody", {}, groups.map((g) => h("tr", { class: `row sevrow-${g.worst_severity}`, "data-group": g.key },
      h("td", {}),
      h("td", { class: f.group === "fingerprint" ? "mono" : null }, h("a", { href: target(g), "data-link": true }, g.key)),
      h("td", { "data-label": "Alerts", class: "num" }, g.count),
      h("td", { "data-label": "Firing", class: "num" }, g.firing),
      h("td", { "data-label": "Resolved", class: "num" }, g.resolved),
      h("td", { "data-label": "Worst" }, severity(g.worst_severity)),
      h("td", { "data-label": "Latest" }, h("a", { href: `/alerts/${encodeURIComponent(g.latest.alert_id)}`, "data-link": true }, g.latest.summary)),
      h("td", { "data-label": "Last seen" }, time(g.last_seen)))))));
}

function renderToolbar(el, state, features, refresh) {
  clear(el);
  if (!features.bulkAck) return;
  const label = () => `Acknowledge selected (${state.selected.size})`;
  const button = h("button", { type: "button", disabled: state.selected.size === 0, "data-action": "bulk-ack" }, label());
  const result = h("span", { role: "status" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await lifecycle.bulkAck([...state.selected]);
      result.textContent = `Acknowledged ${state.selected.size} alert(s).`;
      state.selected.clear();
      refresh();
    } catch (err) {
      result.textContent = `Not acknowledged: ${err.message}`;
    }
  });
  state.onSelection = () => { button.textContent = label(); button.disabled = state.selected.size === 0; };
  el.append(button, result);
}

function onKey(event, state, body, refresh, features) {
  const tag = (event.target.tagName || "").toLowerCase();
  if (event.altKey || event.ctrlKey || event.metaKey || ["input", "textarea", "select"].includes(tag)) return;
  if (event.target.closest && event.target.closest("dialog")) return;
  const rows = [...body.querySelectorAll("tr.row")];
  if (event.key === "/") {
    event.preventDefault();
    const search = document.getElementById("f-text");
    search.closest("details").open = true;
    search.focus();
    return;
  }
  if (!rows.length) return;
  let move = 0;
  if (event.key === "j" || event.key === "ArrowDown") move = 1;
  if (event.key === "k" || event.key === "ArrowUp") move = -1;
  if (move) {
    event.preventDefault();
    state.current = Math.min(rows.length - 1, Math.max(0, state.current + move));
    rows.forEach((r, i) => {
      r.classList.toggle("current", i === state.current);
      const link = r.querySelector("a");
      if (link) link.tabIndex = i === state.current ? 0 : -1;
    });
    const link = rows[state.current].querySelector("a");
    if (link) link.focus();
    return;
  }
  if (event.key === "x" && features.bulkAck && state.current >= 0) {
    const box = rows[state.current].querySelector("input[type=checkbox]");
    if (box) { box.checked = !box.checked; box.dispatchEvent(new Event("change")); }
  }
}
