// Log in with an API key: kept in this browser tab's session (sessionStorage), sent as a bearer
// header, never put in a URL; closing the tab forgets it.

import { api, forget, setKey } from "../client.js";
import { h } from "../dom.js";

export function render(ctx) {
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "off", spellcheck: "false",
    required: true, placeholder: "ask_…", "aria-describedby": "key-help" });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in"),
    h("p", { class: "field" }, h("label", { for: "key" }, "API key"), h("br"), input),
    h("p", { id: "key-help", class: "muted" },
      "A key from `alertstream api-keys create`. A tenant key shows that tenant's alerts only; an admin key shows every tenant. ",
      "The key stays in this tab's session and is sent to this server only."),
    problem, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    button.disabled = true;
    setKey(input.value.trim());
    try {
      await api("/api/v1/me");
      const next = sessionStorage.getItem("alertstream.next") || "/";
      sessionStorage.removeItem("alertstream.next");
      await ctx.signedIn(next.startsWith("/") && !next.startsWith("//") ? next : "/");
    } catch (err) {
      forget();
      problem.textContent = err.status === 401 ? "This key is not valid (or was revoked)." : `Cannot sign in: ${err.message}`;
      problem.hidden = false;
      button.disabled = false;
      input.focus();
    }
  });
  ctx.main.append(form);
  input.focus();
}
