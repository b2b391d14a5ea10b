// Backtest a proposed config (admin keys): start a job, follow it, read the report — the JSON as
// tables and the HTML report of `alertstream backtest --out` as is, in a sandboxed frame.

import { api } from "../client.js";
import { clear, h, message, time } from "../dom.js";

const SINCE = ["1h", "6h", "24h", "3d", "7d"];
const WARMUP = ["0s", "10m", "1h", "6h", "24h"];

export async function render(ctx) {
  const { main, me, features } = ctx;
  main.append(h("h1", {}, "Backtest"));
  if (me.scope !== "admin" || !features.backtest) {
    main.append(h("p", { class: "notice", "data-state": "unavailable" }, "Backtests need an admin key (they replay every tenant's recorded events)."));
    return;
  }
  const config = h("textarea", { id: "b-config", rows: 12, required: true, placeholder: "version: 2\nrules: …" });
  const file = h("input", { id: "b-file", type: "file", accept: ".yaml,.yml,text/yaml" });
  file.addEventListener("change", async () => { if (file.files[0]) config.value = await file.files[0].text(); });
  const baseline = h("textarea", { id: "b-baseline", rows: 4, placeholder: "empty: the config in force" });
  const since = h("select", { id: "b-since" }, SINCE.map((s) => h("option", { value: s, selected: s === "24h" }, `last ${s}`)));
  const from = h("input", { id: "b-from", type: "datetime-local" });
  const to = h("input", { id: "b-to", type: "datetime-local" });
  const silences = h("textarea", { id: "b-silences", rows: 2, placeholder: 'one per line, e.g. alertname="cpu",entity=~"db-.*"' });
  const tenant = h("input", { id: "b-tenant", placeholder: "every tenant" });
  const warmup = h("select", { id: "b-warmup" }, WARMUP.map((s) => h("option", { value: s }, s)));
  const submit = h("button", { type: "submit", class: "primary", "data-action": "start-backtest" }, "Run backtest");
  const status = h("div", { id: "backtest-status", role: "status" });
  const report = h("div", { id: "backtest-report" });
  const jobs = h("div", { id: "backtest-jobs" });
  const field = (label, control, extra) => h("div", { class: "field" }, h("label", { for: control.id }, label), control, extra || null);
  const form = h("form", { class: "card" },
    field("Proposed config (YAML)", config), h("p", {}, h("label", { for: "b-file" }, "or load a file: "), file),
    field("Baseline config (optional)", baseline),
    field("Silences to try with the proposed config (optional, over the whole window)", silences),
    h("div", { class: "form-row" }, field("Window", since), field("or from", from), field("to", to), field("Tenant", tenant), field("Warm-up", warmup)),
    h("p", {}, submit), status);
  main.append(form, report, h("h2", {}, "Recent backtests"), jobs);

  let timer = null;
  const follow = async (id) => {
    clearTimeout(timer);
    try {
      const job = await api(`/api/v1/backtest/${id}`);
      clear(status).append(h("p", { "data-job-state": job.state }, `Job ${job.job_id}: ${job.state}`, job.started_at ? [" (started ", time(job.started_at), ")"] : ""));
      if (job.state === "queued" || job.state === "running") { timer = setTimeout(() => follow(id), 1000); return; }
      if (job.state === "failed") status.append(message("error", job.error || "failed"));
      else await show(report, job);
      listJobs(jobs, follow);
    } catch (err) {
      clear(status).append(message("error", `Cannot read the job: ${err.message}`));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { config: config.value, warmup: warmup.value };
    if (baseline.value.trim()) body.baseline = baseline.value;
    if (tenant.value.trim()) body.tenant = tenant.value.trim();
    const tried = silences.value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (tried.length) body.silences = tried;
    if (from.value) { body.from = new Date(from.value).toISOString(); if (to.value) body.to = new Date(to.value).toISOString(); }
    else body.since = since.value;
    submit.disabled = true;
    clear(report);
    try {
      const job = await api("/api/v1/backtest", { method: "POST", body });
      await follow(job.job_id);
    } catch (err) {
      clear(status).append(message("error", `Not started: ${err.message}`));
    } finally {
      submit.disabled = false;
    }
  });
  await listJobs(jobs, follow);
  return () => clearTimeout(timer);
}

async function listJobs(el, follow) {
  try {
    const jobs = await api("/api/v1/backtest");
    clear(el);
    if (!jobs.length) { el.append(h("p", { class: "muted" }, "None yet.")); return; }
    el.append(h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Started", "Window", "Tenant", "State", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, jobs.map((j) => h("tr", { class: "row" },
        h("td", {}, time(j.created_at)), h("td", { "data-label": "Window" }, `${j.window.from} – ${j.window.to}`),
        h("td", { "data-label": "Tenant" }, j.window.tenant || "every tenant"), h("td", { "data-label": "State" }, j.state),
        h("td", {}, h("button", { type: "button", onclick: () => follow(j.job_id) }, "Show")))))));
  } catch (err) {
    clear(el).append(message("error", `Cannot list backtests: ${err.message}`));
  }
}

async function show(el, job) {
  clear(el);
  const r = job.report;
  const t = r.totals;
  el.append(h("h2", {}, "Report"),
    h("table", { class: "list", "data-report": "totals" },
      h("thead", {}, h("tr", {}, ["", "baseline", "proposed", "delta"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ["fired", "resolved", "suppressed"].map((k) => h("tr", { class: "row", "data-total": k },
        h("td", {}, k), h("td", { class: "num" }, t.baseline[k]), h("td", { class: "num" }, t.proposed[k]),
        h("td", { class: "num" }, (r.delta[k] > 0 ? "+" : "") + r.delta[k]))))),
    h("p", {}, `${r.fingerprints.newly_firing_count} fingerprint(s) would newly fire, ${r.fingerprints.stop_firing_count} would stop firing, `
      + `${r.fingerprints.severity_changed_count} would change severity. ${r.window.events} events replayed.`));
  if (job.has_html) {
    const html = await api(`/api/v1/backtest/${job.job_id}/report.html`, { accept: "text/html" });
    const frame = h("iframe", { class: "report", title: "Backtest report", sandbox: "" });
    frame.srcdoc = html;
    el.append(h("h3", {}, "The full report"), frame);
  }
}
