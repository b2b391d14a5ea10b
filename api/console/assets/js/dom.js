// Small DOM helpers. Text always goes in through textContent (never innerHTML), so nothing an
// alert carries (summaries, labels, error texts) can become markup or script.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function time(at) {
  if (!at) return "—";
  const d = new Date(at);
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, fmtTime(d));
}

export function fmtTime(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function ago(at, now = Date.now()) {
  const seconds = Math.round((now - new Date(at).getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function severity(name) {
  return h("span", { class: `sev sev-${name}` }, name);
}

export function status(name) {
  return h("span", { class: `status-${name}` }, name);
}

export function announce(message) {
  const region = document.getElementById("announce");
  if (region) {
    region.textContent = "";
    setTimeout(() => { region.textContent = message; }, 30);
  }
}

export function message(kind, text) {
  return h("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text);
}

/** Call ``fn`` at most once per ``ms`` (the last call always runs). */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  let pending = false;
  const run = () => { timer = null; pending = false; last = Date.now(); fn(); };
  const wrapped = () => {
    if (timer) { pending = true; return; }
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(run, wait);
  };
  wrapped.cancel = () => { if (timer) clearTimeout(timer); timer = null; pending = false; };
  wrapped.pending = () => pending || timer !== null;
  return wrapped;
}
