// One alert: its facts, why it fired (in words), its timeline, its notifications, and the actions
// the API offers (acknowledge, resolve, silence alerts like this, replay a dead-lettered delivery).

import { ackOf, api, eventOf, lifecycle } from "../client.js";
import { clear, h, message, severity, status, throttle, time } from "../dom.js";
import { likeThis, silenceForm } from "../matchers.js";

export async function render(ctx) {
  const id = ctx.params[0];
  const { main, me, features } = ctx;
  const root = h("div", { "data-alert": id });
  main.append(h("p", {}, h("a", { href: "/", "data-link": true }, "← Alerts")), root);
  let fingerprint = null;

  let held = false; // a change arrived while the silence dialog was open: redraw when it closes
  // Redrawing while the dialog is open would throw away what the user is typing: the redraw waits
  // for it to close. Asked before the fetch and again after it (the dialog may have been opened
  // while the fetch was on the way: redrawn then, it vanished under the user's click).
  const dialogOpen = () => {
    const open = root.querySelector("dialog[open]");
    if (open && !held) { held = true; open.addEventListener("close", () => { held = false; refresh(); }, { once: true }); }
    return Boolean(open);
  };
  async function load() {
    if (dialogOpen()) return;
    let detail, story, trail;
    try {
      [detail, story, trail] = await Promise.all([
        api(`/api/v1/alerts/${encodeURIComponent(id)}`),
        api(`/api/v1/alerts/${encodeURIComponent(id)}/timeline`),
        features.trail ? lifecycle.trail(id) : null,
      ]);
    } catch (err) {
      clear(root);
      if (err.status === 404) {
        root.dataset.state = "not-found";
        root.append(h("h1", {}, "Alert not found"), h("p", {}, "No alert ", h("span", { class: "mono" }, id), " is visible to this key."));
      } else {
        root.append(message("error", `Cannot load the alert: ${err.message}`));
      }
      return;
    }
    fingerprint = detail.alert.fingerprint;
    if (dialogOpen()) return;
    const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    clear(root);
    root.dataset.state = "loaded";
    draw(root, detail, story, trail, me, features, refresh);
    if (focused) { const again = root.querySelector(`[data-action="${focused}"]`); if (again) again.focus(); }
  }

  const refresh = throttle(load, 500);
  ctx.onLive((event, change) => {
    if (event === "ready" || event === "reset") refresh();
    else if (event === "change" && (change.alert_id === id || (fingerprint && change.fingerprint === fingerprint))) refresh();
  });
  await load();
  return () => refresh.cancel();
}

function draw(root, detail, story, trail, me, features, refresh) {
  const a = detail.alert;
  const ack = ackOf(detail, trail);
  const told = eventOf(a);
  const result = h("div", { role: "status", id: "action-result" });
  const act = (label, action, run, kind = "") => h("button", { type: "button", class: kind, "data-action": action, onclick: async (e) => {
    e.target.disabled = true;
    try { await run(); clear(result).append(message("success", `${label}: done.`)); refresh(); }
    catch (err) { clear(result).append(message("error", `${label} failed: ${err.message}`)); }
    finally { e.target.disabled = false; }
  } }, label);
  const dialog = silenceDialog(a, me);
  // replaying a DLQ is an admin action (the endpoint answers a tenant key 403): no button for others
  const replays = { ...features, dlqReplay: Boolean(features.dlqReplay) && me.scope === "admin" };
  root.append(
    h("h1", {}, severity(a.severity), " ", a.summary),
    h("p", { "data-field": "state" }, status(a.status),
      told && told !== "acknowledged" && told !== "unacknowledged"
        ? [" · ", h("span", { class: "chip held", "data-event": told }, told), " ", suppressedBy(a)] : null,
      ack ? [" · ", h("span", { class: "chip acked", "data-ack": "" }, "acknowledged"), " by ", ack.by, " at ", time(ack.at)] : null,
      me.scope === "admin" ? ` · tenant ${a.tenant}` : null),
    h("div", { class: "actions", role: "group", "aria-label": "Actions" },
      features.ack && !ack && a.status === "firing" ? act("Acknowledge", "ack", () => lifecycle.ack(a.alert_id), "primary") : null,
      features.unack && ack && a.status === "firing" ? act("Unacknowledge", "unack", () => lifecycle.unack(a.alert_id)) : null,
      features.resolve && a.status === "firing" ? act("Resolve", "resolve", () => lifecycle.resolve(a.alert_id)) : null,
      features.createSilence ? h("button", { type: "button", "data-action": "silence", onclick: () => dialog.openForm() }, "Silence alerts like this") : null,
      h("a", { class: "button", href: `/?fingerprint=${encodeURIComponent(a.fingerprint)}&range=30d`, "data-link": true }, "All alerts of this fingerprint")),
    result,
    dialog,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "facts-h" }, h("h2", { id: "facts-h" }, "Facts"), facts(a)),
      h("section", { class: "card", "aria-labelledby": "why-h" }, h("h2", { id: "why-h" }, "Why it fired"),
        h("p", { class: "explain", "data-explanation": "" }, story.explanation))),
    h("section", { "aria-labelledby": "tl-h" }, h("h2", { id: "tl-h" }, "Timeline"), timeline(story, detail, replays, refresh)),
    h("section", { "aria-labelledby": "n-h" }, h("h2", { id: "n-h" }, "Notifications"), notifications(detail, replays, refresh)));
}

/** Which silence, inhibit rule or time interval held a suppressed record back (details.suppression). */
function suppressedBy(a) {
  const s = (a.details || {}).suppression || {};
  const ref = s.silence_id || s.inhibit_rule || s.time_interval || s.by;
  if (!ref) return "";
  const text = h("span", { class: "mono" }, ref);
  return ["by ", s.silence_id ? h("a", { href: "/silences", "data-link": true }, text) : text, " (not delivered)"];
}

function facts(a) {
  const row = (label, ...value) => [h("dt", {}, label), h("dd", {}, ...value)];
  const link = (params, text) => h("a", { href: `/?${new URLSearchParams(params)}`, "data-link": true }, text);
  return h("dl", { class: "facts" },
    row("Rule", link({ rule: a.rule_id, range: "30d" }, a.rule_id), ` (config version ${a.rule_version})`),
    row("Entity", h("span", { class: "mono" }, a.entity)),
    row("Fingerprint", h("span", { class: "mono" }, a.fingerprint)),
    row("Value", a.value === null ? "—" : String(a.value), a.threshold === null ? "" : ` (threshold ${a.threshold})`),
    row("Occurrences", `${a.occurrence_count} (${a.suppressed_count} folded)`),
    row("First seen", time(a.first_seen)),
    row("Last seen", time(a.last_seen)),
    row("Emitted", time(a.emitted_at)),
    row("Routed to", a.routes.map((r) => `${r.receiver} (${r.channel})`).join(", ") || "no receiver"),
    row("Events", h("span", { class: "mono" }, a.event_ids.join(", ") || "—")),
    row("Labels", Object.entries(a.labels).map(([k, v]) => h("span", { class: "chip mono" }, `${k}=${v}`)), Object.keys(a.labels).length ? "" : "—"),
    row("Alert id", h("span", { class: "mono" }, a.alert_id)));
}

function timeline(story, detail, features, refresh) {
  const dead = new Map(detail.notifications.filter((n) => n.state === "dead_lettered").map((n) => [n.delivery_id, n]));
  return h("ol", { class: "timeline", "data-entries": story.entries.length }, story.entries.map((e) => {
    const replayable = features.dlqReplay && e.delivery_id && dead.has(e.delivery_id) && e.outcome === "dead_lettered";
    return h("li", { "data-kind": e.kind, "data-outcome": e.outcome || null },
      time(e.at), " ",
      h("span", { class: "what" }, e.alert_id ? h("a", { href: `/alerts/${encodeURIComponent(e.alert_id)}`, "data-link": true }, e.title) : e.title),
      e.detail ? h("span", { class: "detail" }, e.detail) : null,
      replayable ? replayButton(dead.get(e.delivery_id), refresh) : null);
  }));
}

function replayButton(n, refresh) {
  const out = h("span", { role: "status" });
  const button = h("button", { type: "button", "data-action": "replay", onclick: async () => {
    button.disabled = true;
    try { await lifecycle.replay(n.channel, [n.delivery_id]); out.textContent = " replay requested"; refresh(); }
    catch (err) { out.textContent = ` replay failed: ${err.message}`; button.disabled = false; }
  } }, `Replay to ${n.receiver}`);
  return h("span", { class: "detail" }, button, out);
}

function notifications(detail, features, refresh) {
  if (!detail.notifications.length) return h("p", { class: "muted" }, "No notification recorded for this alert.");
  return h("table", { class: "list", "aria-label": "Notifications, one per receiver" },
    h("thead", {}, h("tr", {}, ["Receiver", "Channel", "State", "Attempts", "Last answer", "Delivered", "Dead-lettered", ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, detail.notifications.map((n) => h("tr", { class: "row", "data-delivery": n.delivery_id },
      h("td", {}, n.receiver), h("td", { "data-label": "Channel" }, n.channel), h("td", { "data-label": "State" }, n.state),
      h("td", { "data-label": "Attempts", class: "num" }, n.attempts),
      h("td", { "data-label": "Last answer" }, [n.status_code ? `HTTP ${n.status_code}` : null, n.reason].filter(Boolean).join(", ") || "—"),
      h("td", { "data-label": "Delivered" }, time(n.sent_at)), h("td", { "data-label": "Dead-lettered" }, time(n.dead_lettered_at)),
      h("td", {}, features.dlqReplay && n.state === "dead_lettered" ? replayButton(n, refresh) : null)))));
}

function silenceDialog(alert, me) {
  const close = h("button", { type: "button", class: "quiet", onclick: () => dialog.close() }, "Close");
  const body = h("div", {});
  const dialog = h("dialog", { "aria-labelledby": "silence-h" },
    h("h2", { id: "silence-h" }, "Silence alerts like this"), body, h("p", {}, close));
  // built when first opened: its preview asks the API, which a page that never silences should not
  dialog.openForm = () => {
    if (!body.firstChild) {
      body.append(silenceForm({ rows: likeThis(alert), createdBy: `api-key:${me.key_id}`,
        tenant: me.scope === "admin" ? alert.tenant : undefined, canCreate: true }));
    }
    dialog.showModal();
  };
  return dialog;
}
