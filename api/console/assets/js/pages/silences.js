// Silences: the list, a form to create one with a preview of what it would match now, and expiry.
// Shown when the API offers Alertmanager's API v2 silence endpoints (client.js OPTIONAL).

import { lifecycle, matcherText } from "../client.js";
import { clear, h, message, time } from "../dom.js";
import { silenceForm } from "../matchers.js";

export async function render(ctx) {
  const { main, me, features } = ctx;
  main.append(h("h1", {}, "Silences"));
  const list = h("div", { id: "silence-list" });
  if (features.silences) main.append(list);
  else main.append(h("p", { class: "notice", "data-state": "unavailable" },
    "This server offers no silence endpoints (GET /api/v2/silences). The preview below shows what matchers would select."));
  main.append(h("h2", {}, "New silence"),
    silenceForm({ rows: [{ name: "alertname", op: "=", value: "" }], createdBy: `api-key:${me.key_id}`,
      canCreate: features.createSilence, onCreated: () => load() }));

  async function load() {
    if (!features.silences) return;
    try {
      const all = await lifecycle.silences();
      clear(list);
      const rows = (Array.isArray(all) ? all : all.items || []).sort((a, b) => String(b.startsAt).localeCompare(String(a.startsAt)));
      if (!rows.length) { list.append(h("p", { class: "muted" }, "No silence.")); return; }
      list.append(h("table", { class: "list", "aria-label": "Silences" },
        h("thead", {}, h("tr", {}, ["State", "Matchers", "Starts", "Ends", "Created by", "Comment", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.map((x) => {
          const state = (x.status && x.status.state) || "";
          return h("tr", { class: "row", "data-silence": x.id },
            h("td", { "data-label": "State" }, state), h("td", { class: "mono" }, (x.matchers || []).map(matcherText).join(", ")),
            h("td", { "data-label": "Starts" }, time(x.startsAt)), h("td", { "data-label": "Ends" }, time(x.endsAt)),
            h("td", { "data-label": "Created by" }, x.createdBy || ""), h("td", { "data-label": "Comment" }, x.comment || ""),
            h("td", {}, features.expireSilence && state !== "expired" ? h("button", { type: "button", "data-action": "expire", onclick: async (e) => {
              e.target.disabled = true;
              try { await lifecycle.expireSilence(x.id); await load(); } catch (err) { list.prepend(message("error", `Not expired: ${err.message}`)); e.target.disabled = false; }
            } }, "Expire") : null));
        }))));
    } catch (err) {
      clear(list).append(message("error", `Cannot load silences: ${err.message}`));
    }
  }
  await load();
}
