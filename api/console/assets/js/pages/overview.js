// The overview: what the history says about the last hours — alerts by severity over time,
// occurrences folded by reason, deliveries and their latency per channel, DLQ depth, receivers
// whose breaker is probably open, and the noisiest rules and fingerprints.

import { api } from "../client.js";
import { COLOURS, hbars, legend, lines, stackedBars } from "../charts.js";
import { clear, h, message, severity, throttle, time } from "../dom.js";

const RANGES = [["1h", 3600], ["6h", 21600], ["24h", 86400], ["7d", 604800]];

export async function render(ctx) {
  const { main, me } = ctx;
  const chosen = ctx.search.get("range") || "24h";
  const select = h("select", { id: "o-range" }, RANGES.map(([label]) => h("option", { value: label, selected: label === chosen }, `last ${label}`)));
  const body = h("div", { id: "overview" });
  main.append(h("h1", {}, "Overview"),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, h("div", { class: "field" }, h("label", { for: "o-range" }, "Range"), select)),
    body);

  async function load() {
    const seconds = Object.fromEntries(RANGES)[select.value] || 86400;
    const until = new Date();
    try {
      const o = await api("/api/v1/stats/overview", { params: { since: new Date(until - seconds * 1000).toISOString(), until: until.toISOString() } });
      clear(body);
      draw(body, o, me);
      body.dataset.state = "loaded";
    } catch (err) {
      clear(body).append(message("error", `Cannot load the overview: ${err.message}`));
    }
  }
  select.addEventListener("change", () => { history.replaceState(null, "", `/overview?range=${select.value}`); load(); });
  const refresh = throttle(load, 5000);
  ctx.onLive((event) => { if (event === "change" || event === "reset") refresh(); });
  await load();
  return () => refresh.cancel();
}

function card(title, ...content) {
  const id = `c-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

function draw(el, o, me) {
  const s = o.stats;
  const sev = Object.keys(o.alerts_by_severity[0] ? o.alerts_by_severity[0].values : {});
  const dlq = s.deliveries.reduce((n, c) => n + c.dlq_depth, 0);
  el.append(
    h("div", { class: "grid" },
      card("Alerts", h("p", { class: "stat", "data-stat": "alerts" }, s.alerts.total),
        h("p", {}, ["critical", "warning", "info"].map((n) => [severity(n), ` ${s.alerts.by_severity[n] || 0}  `]))),
      card("Delivery", s.deliveries.length
        ? h("ul", {}, s.deliveries.map((c) => h("li", {}, `${c.channel}: `,
            c.success_rate === null ? "no result yet" : `${(c.success_rate * 100).toFixed(1)} % delivered`,
            c.alert_to_delivery_p99_seconds === null ? "" : `, p99 alert → delivery ${c.alert_to_delivery_p99_seconds.toFixed(2)} s`)))
        : h("p", { class: "muted" }, "No notification in this range.")),
      card("Dead-letter queues", h("p", { class: "stat", "data-stat": "dlq" }, dlq),
        h("p", { class: "muted" }, "notifications dead-lettered and not delivered since"),
        s.deliveries.some((c) => c.dlq_depth) ? hbars(s.deliveries.filter((c) => c.dlq_depth).map((c) => [c.channel, c.dlq_depth]), { label: "DLQ depth per channel" }) : null),
      card("Circuit breakers", o.open_breakers.length
        ? h("ul", { "data-breakers": o.open_breakers.length }, o.open_breakers.map((b) => h("li", {}, `${b.receiver} (${b.channel}): last ${b.failures} attempts failed, latest `, time(b.last_at), b.last_reason ? ` (${b.last_reason})` : "")))
        : h("p", { "data-breakers": "0" }, "No receiver looks open."),
        h("p", { class: "muted" }, "Approximated from the history: a receiver whose latest 5 attempts all failed in the last 10 minutes."))),
    card(`Alerts by severity (per ${bucket(o.bucket_seconds)})`, legend(sev), stackedBars(o.alerts_by_severity, sev, { label: "Alerts by severity over time", width: 1100, height: 220 })),
    h("div", { class: "grid" },
      card("Folded occurrences by reason", Object.keys(o.suppressed_by_reason).length
        ? hbars(Object.entries(o.suppressed_by_reason), { label: "Occurrences folded into alerts, by reason" })
        : h("p", { class: "muted" }, "Nothing was folded in this range."),
        o.rate_limited ? h("p", {}, `${o.rate_limited} critical alert(s) were emitted over a tenant rate limit.`) : null,
        h("p", { class: "muted" }, "\"unattributed\": folded into alerts whose record carries no per-reason breakdown.")),
      card("Noisiest rules", noisy(o.noisiest_rules, "rule")),
      card("Noisiest fingerprints", noisy(o.noisiest_fingerprints, "fingerprint"))),
    h("h2", {}, "Deliveries per channel"),
    o.deliveries.length ? h("div", { class: "grid channels" }, o.deliveries.map((c) => card(c.channel,
      legend(["sent", "failed"]), stackedBars(c.points, ["sent", "failed"], { label: `${c.channel}: attempts sent and failed`, height: 140, width: 400 }),
      legend(["p50_seconds", "p99_seconds"]), lines(c.points, ["p50_seconds", "p99_seconds"], { label: `${c.channel}: attempt latency`, unit: " s", height: 120, width: 400 }))))
      : h("p", { class: "muted" }, "No delivery attempt in this range."),
    h("p", { class: "muted" }, `Range ${new Date(o.since).toISOString()} – ${new Date(o.until).toISOString()}`,
      me.scope === "admin" ? ", every tenant." : `, tenant ${me.tenant}.`));
}

function noisy(rows, kind) {
  if (!rows.length) return h("p", { class: "muted" }, "No alert in this range.");
  return h("table", { class: "list", "data-noisy": kind },
    h("thead", {}, h("tr", {}, [kind === "rule" ? "Rule" : "Fingerprint", "Alerts", "Folded", "Worst"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", { class: "row" },
      h("td", {}, h("a", { href: `/?${kind}=${encodeURIComponent(r.key)}&range=24h`, "data-link": true }, kind === "rule" ? r.key : (r.summary || r.key))),
      h("td", { class: "num", "data-label": "Alerts" }, r.alerts), h("td", { class: "num", "data-label": "Folded" }, r.suppressed),
      h("td", { "data-label": "Worst" }, severity(r.worst_severity))))));
}

function bucket(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${seconds / 60} min`;
}

export { COLOURS };
