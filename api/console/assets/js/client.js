// The console's one way to talk to the API: the key from the browser session as a bearer header
// (never in a URL), JSON in and out, problem details as errors, and which optional endpoints
// this server offers (from its /openapi.json), so actions appear only where the API has them.

const KEY = "alertstream.key";

export function key() { return sessionStorage.getItem(KEY); }
export function setKey(value) { sessionStorage.setItem(KEY, value); }
export function forget() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) q.append(name, one);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export async function api(path, { method = "GET", body, params, accept = "application/json", signal } = {}) {
  const headers = { Accept: accept };
  const k = key();
  if (k) headers.Authorization = `Bearer ${k}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path + query(params), {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
  });
  if (response.status === 401) onUnauthorized();
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { problem = null; }
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  return accept === "application/json" ? response.json() : response.text();
}

// ---- optional endpoints ------------------------------------------------------------------------
// The console calls these shapes. Each action is shown only when /openapi.json lists its method and
// path (path parameters compared by position, not name). They are defined here and nowhere else:
// to follow a server whose shapes differ, change this table and the functions below it.
export const OPTIONAL = {
  ack: ["post", "/api/v1/alerts/{}/ack"],                 // body {comment?} -> 202 {action_id, kind, fingerprint, alert_id}
  unack: ["post", "/api/v1/alerts/{}/unack"],             // body {comment?} -> 202
  resolve: ["post", "/api/v1/alerts/{}/resolve"],         // body {comment?} -> 202
  bulkAck: ["post", "/api/v1/alerts/{}/ack"],             // the selected alerts, one request each (the bulk endpoint takes matchers)
  trail: ["get", "/api/v1/alerts/{}/trail"],              // {entries: [{at, actor, action, reason, alert_id, details}]}: the episode's audit
  silences: ["get", "/api/v2/silences"],                  // Alertmanager API v2: [{id, status:{state}, matchers, startsAt, endsAt, createdBy, comment}]
  createSilence: ["post", "/api/v2/silences"],            // body {matchers, startsAt, endsAt, createdBy, comment} -> {silenceID}
  expireSilence: ["delete", "/api/v2/silence/{}"],
  dlqReplay: ["post", "/api/v1/dlq/{}/replay"],           // body {delivery_ids: [...]} -> {replayed}
  oncall: ["get", "/api/v1/oncall"],                      // {schedules: [{name, on_call: [{name, since?, until?}], upcoming: [{name, starts_at, ends_at?}]}]}
  backtest: ["post", "/api/v1/backtest"],
};

const template = (path) => path.replace(/\{[^}]*\}/g, "{}");

/** Which of OPTIONAL an OpenAPI schema offers: {ack: true, ...}. */
export function offered(schema) {
  const paths = new Set();
  for (const [path, ops] of Object.entries((schema && schema.paths) || {})) {
    for (const method of Object.keys(ops)) paths.add(`${method} ${template(path)}`);
  }
  const out = {};
  for (const [name, [method, path]] of Object.entries(OPTIONAL)) out[name] = paths.has(`${method} ${path}`);
  return out;
}

let featuresPromise = null;
export function features() {
  if (!featuresPromise) {
    featuresPromise = fetch("/openapi.json", { credentials: "omit", cache: "no-store" })
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .catch(() => ({ paths: {} }))
      .then(offered);
  }
  return featuresPromise;
}

const enc = encodeURIComponent;
export const lifecycle = {
  ack: (id, comment) => api(`/api/v1/alerts/${enc(id)}/ack`, { method: "POST", body: comment ? { comment } : {} }),
  resolve: (id, comment) => api(`/api/v1/alerts/${enc(id)}/resolve`, { method: "POST", body: comment ? { comment } : {} }),
  unack: (id, comment) => api(`/api/v1/alerts/${enc(id)}/unack`, { method: "POST", body: comment ? { comment } : {} }),
  bulkAck: (ids, comment) => Promise.all(ids.map((id) => lifecycle.ack(id, comment))),
  trail: (id) => api(`/api/v1/alerts/${enc(id)}/trail`),
  silences: () => api("/api/v2/silences"),
  createSilence: (silence) => api("/api/v2/silences", { method: "POST", body: silence }),
  expireSilence: (id) => api(`/api/v2/silence/${enc(id)}`, { method: "DELETE" }),
  replay: (channel, deliveryIds) => api(`/api/v1/dlq/${enc(channel)}/replay`, { method: "POST", body: { delivery_ids: deliveryIds } }),
  oncall: () => api("/api/v1/oncall"),
};

const ACKS = { acknowledge: true, acknowledged: true, unacknowledge: false, unacknowledged: false };

/** The acknowledgement of an alert's episode, or null: the last acknowledge/unacknowledge of its
 * audit trail (the episode's trail when given, else the alert's own audit rows). The request
 * (`acknowledge`, actor api-key:<id>) counts at once; the worker's `acknowledged` record follows. */
export function ackOf(detail, trail) {
  const rows = ((trail && trail.entries) || detail.audit || []).filter((r) => r.action in ACKS);
  let first = null; // the first acknowledgement after the last unacknowledgement: who asked, when
  for (const r of rows) first = ACKS[r.action] ? first || r : null;
  return first ? { at: first.at, by: first.actor } : null;
}

/** What a record of the lifecycle says beside its status: "acknowledged", "silenced", ... or null. */
export function eventOf(alert) {
  if (alert.event === "suppressed") return ((alert.details || {}).suppression || {}).reason || "suppressed";
  if (alert.event === "acknowledged" || alert.event === "unacknowledged") return alert.event;
  return null;
}

/** The Alertmanager API v2 matcher of one label (what a silence carries). */
export function matcher(name, op, value) {
  return { name, value, isRegex: op === "=~" || op === "!~", isEqual: op === "=" || op === "=~" };
}

export function matcherText(m) {
  const op = m.isRegex ? (m.isEqual ? "=~" : "!~") : (m.isEqual ? "=" : "!=");
  return `${m.name}${op}"${String(m.value).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
