// Label matchers (Alertmanager's four operators) with a live preview of the firing alerts they
// select now, and the silence form built on them (Alertmanager API v2's silence shape).

import { api, lifecycle, matcher, matcherText } from "./client.js";
import { clear, h, message, severity } from "./dom.js";

const OPS = ["=", "!=", "=~", "!~"];
const DURATIONS = [["1h", 3600], ["2h", 7200], ["4h", 14400], ["8h", 28800], ["24h", 86400], ["7d", 604800]];
let uid = 0;

/** rows: [{name, op, value, on}] — each row can be switched off (the prefilled "alerts like this"). */
export function matcherEditor(rows, onChange) {
  const list = h("div", { class: "matchers", role: "group", "aria-label": "Matchers" });
  const entries = [];
  const add = (row) => {
    const n = ++uid;
    const on = h("input", { type: "checkbox", id: `m-on-${n}`, checked: row.on !== false, "aria-label": "Use this matcher" });
    const name = h("input", { name: "name", id: `m-name-${n}`, value: row.name || "", "aria-label": "Label name", placeholder: "label" });
    const op = h("select", { name: "op", "aria-label": "Operator" }, OPS.map((o) => h("option", { value: o, selected: (row.op || "=") === o }, o)));
    const value = h("input", { name: "value", value: row.value || "", "aria-label": "Value", placeholder: "value" });
    const remove = h("button", { type: "button", "aria-label": "Remove matcher", class: "quiet" }, "×");
    const el = h("div", { class: "matcher", "data-matcher": row.name || "" }, h("span", {}, on, " ", name), op, value, remove);
    const entry = { el, read: () => (on.checked && name.value.trim() ? matcher(name.value.trim(), op.value, value.value) : null) };
    for (const control of [on, name, op, value]) control.addEventListener("input", onChange);
    on.addEventListener("change", onChange);
    remove.addEventListener("click", () => { entries.splice(entries.indexOf(entry), 1); el.remove(); onChange(); });
    entries.push(entry);
    list.append(el);
  };
  rows.forEach(add);
  const more = h("button", { type: "button", onclick: () => { add({ op: "=" }); onChange(); } }, "Add matcher");
  return { el: h("div", {}, list, more), matchers: () => entries.map((e) => e.read()).filter(Boolean) };
}

export function previewBox(tenant) {
  const el = h("div", { class: "preview card", "aria-live": "polite", "data-preview": "" }, h("p", { class: "muted" }, "Preview: choose at least one matcher."));
  let timer = null;
  let seq = 0;
  const update = (matchers) => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      if (!matchers.length) { clear(el).append(h("p", { class: "muted" }, "Preview: choose at least one matcher.")); return; }
      try {
        const found = await api("/api/v1/matchers/preview", { method: "POST", body: { matchers }, params: { tenant } });
        if (mine !== seq) return;
        el.dataset.matched = String(found.matched);
        clear(el).append(
          h("p", {}, h("strong", {}, `Would match ${found.matched} firing alert${found.matched === 1 ? "" : "s"} now`),
            found.truncated ? " (of the newest alerts only)" : ""),
          h("ul", {}, found.alerts.slice(0, 10).map((a) => h("li", {}, severity(a.severity), " ",
            h("a", { href: `/alerts/${encodeURIComponent(a.alert_id)}`, "data-link": true }, a.summary), " ",
            h("span", { class: "muted mono" }, a.entity)))));
      } catch (err) {
        if (mine === seq) clear(el).append(message("error", `Preview failed: ${err.message}`));
      }
    }, 250);
  };
  return { el, update };
}

/** The matchers of "alerts like this one": alertname and entity on, the other labels offered off. */
export function likeThis(alert) {
  const rows = [
    { name: "alertname", op: "=", value: alert.rule_id, on: true },
    { name: "entity", op: "=", value: alert.entity, on: true },
    { name: "severity", op: "=", value: alert.severity, on: false },
  ];
  for (const [name, value] of Object.entries(alert.labels || {})) rows.push({ name, op: "=", value, on: false });
  return rows;
}

export function silenceForm({ rows, createdBy, tenant, canCreate, onCreated }) {
  const preview = previewBox(tenant);
  const editor = matcherEditor(rows, () => preview.update(editor.matchers()));
  const n = ++uid;
  const duration = h("select", { id: `s-dur-${n}`, name: "duration" }, DURATIONS.map(([label, secs]) => h("option", { value: secs, selected: label === "2h" }, label)));
  const comment = h("textarea", { id: `s-comment-${n}`, name: "comment", rows: 2, required: true, placeholder: "why (shown to everyone)" });
  const author = h("input", { id: `s-author-${n}`, name: "createdBy", value: createdBy, required: true });
  const result = h("div", { role: "status" });
  const submit = h("button", { type: "submit", class: "primary", "data-action": "create-silence" }, "Create silence");
  const form = h("form", { class: "silence-form" },
    h("h3", {}, "Matchers"), editor.el,
    h("div", { class: "form-row" },
      h("div", { class: "field" }, h("label", { for: duration.id }, "Duration"), duration),
      h("div", { class: "field" }, h("label", { for: author.id }, "Created by"), author)),
    h("div", { class: "field" }, h("label", { for: comment.id }, "Comment"), comment),
    h("h3", {}, "What it would silence"), preview.el,
    canCreate ? h("p", {}, submit) : h("p", { class: "notice" }, "This server offers no silence endpoint (POST /api/v2/silences): the preview works, creating does not."),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const matchers = editor.matchers();
    if (!matchers.length) { clear(result).append(message("error", "Choose at least one matcher.")); return; }
    const now = new Date();
    const body = {
      matchers, startsAt: now.toISOString(), endsAt: new Date(now.getTime() + Number(duration.value) * 1000).toISOString(),
      createdBy: author.value.trim(), comment: comment.value.trim(),
    };
    submit.disabled = true;
    try {
      const made = await lifecycle.createSilence(body);
      clear(result).append(message("success", `Silence ${made && made.silenceID ? made.silenceID : ""} created: ${matchers.map(matcherText).join(", ")}`));
      if (onCreated) onCreated(made, body);
    } catch (err) {
      clear(result).append(message("error", `Not created: ${err.message}`));
    } finally {
      submit.disabled = false;
    }
  });
  preview.update(editor.matchers());
  return form;
}
