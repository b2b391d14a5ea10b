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
  ack: ["post", "/api/v1/alerts/{}/ack"],                 // body {comment?}; answers the alert or 204
  resolve: ["post", "/api/v1/alerts/{}/resolve"],         // body {comment?}
  bulkAck: ["post", "/api/v1/alerts/ack"],                // body {alert_ids: [...], comment?}
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
  bulkAck: (ids, comment) => api("/api/v1/alerts/ack", { method: "POST", body: { alert_ids: ids, ...(comment ? { comment } : {}) } }),
  silences: () => api("/api/v2/silences"),
  createSilence: (silence) => api("/api/v2/silences", { method: "POST", body: silence }),
  expireSilence: (id) => api(`/api/v2/silence/${enc(id)}`, { method: "DELETE" }),
  replay: (channel, deliveryIds) => api(`/api/v1/dlq/${enc(channel)}/replay`, { method: "POST", body: { delivery_ids: deliveryIds } }),
  oncall: () => api("/api/v1/oncall"),
};

/** The acknowledgement of an alert detail, from the alert's fields when the API has them, else
 * from its audit trail (every API write is audited with actor api-key:<id>). */
export function ackOf(detail) {
  const a = detail.alert || {};
  if (a.acknowledged_at) return { at: a.acknowledged_at, by: a.acknowledged_by || "" };
  const rows = (detail.audit || []).filter((r) => r.action === "acknowledged");
  const last = rows[rows.length - 1];
  return last ? { at: last.at, by: last.actor } : null;
}

/** The Alertmanager API v2 matcher of one label (what a silence carries). */
export function matcher(name, op, value) {
  return { name, value, isRegex: op === "=~" || op === "!~", isEqual: op === "=" || op === "=~" };
}

export function matcherText(m) {
  const op = m.isRegex ? (m.isEqual ? "=~" : "!~") : (m.isEqual ? "=" : "!=");
  return `${m.name}${op}"${String(m.value).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
