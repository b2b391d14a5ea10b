// Who is on call now, per schedule, and the next hand-offs (when the API offers GET /api/v1/oncall).

import { lifecycle } from "../client.js";
import { h, message, time } from "../dom.js";

export async function render(ctx) {
  const { main, features } = ctx;
  main.append(h("h1", {}, "On-call"));
  if (!features.oncall) {
    main.append(h("p", { class: "notice", "data-state": "unavailable" }, "This server offers no on-call endpoint (GET /api/v1/oncall)."));
    return;
  }
  try {
    const found = await lifecycle.oncall();
    const schedules = found.schedules || [];
    if (!schedules.length) { main.append(h("p", { class: "muted" }, "No on-call schedule is configured.")); return; }
    main.append(h("div", { class: "grid" }, schedules.map((s) => h("section", { class: "card", "data-schedule": s.name },
      h("h2", {}, s.name),
      h("p", {}, h("strong", {}, "Now: "), (s.on_call || []).length
        ? (s.on_call || []).map((p, i) => [i ? ", " : "", p.name, p.until ? [" until ", time(p.until)] : ""])
        : "nobody"),
      (s.upcoming || []).length ? h("div", {}, h("h3", {}, "Next hand-offs"), h("ol", {}, s.upcoming.map((u) => h("li", {}, time(u.starts_at), ": ", u.name,
        u.ends_at ? [" until ", time(u.ends_at)] : ""))))
        : h("p", { class: "muted" }, "No hand-off scheduled.")))));
  } catch (err) {
    main.append(message("error", `Cannot load on-call: ${err.message}`));
  }
}
