// The live stream (GET /api/v1/live, text/event-stream) read with fetch: EventSource cannot send
// an Authorization header, and the key must stay out of URLs. Reconnects by itself; on every
// (re)connect the server says "ready" and the page reloads its view, so nothing is missed while
// the stream was down.

import { key } from "./client.js";

/** Parse Server-Sent Events from text chunks: calls ``emit(event, data, id)`` per complete event. */
export function sseParser(emit) {
  let buffer = "";
  let event = "message";
  let data = [];
  let id = null;
  return (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (data.length) emit(event, data.join("\n"), id);
        event = "message"; data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
  };
}

export class LiveStream {
  constructor({ onEvent, onState, params = "" }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.params = params;
    this.controller = null;
    this.stopped = false;
    this.delay = 1000;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async connect() {
    if (this.stopped) return;
    this.controller = new AbortController();
    this.onState("connecting");
    try {
      const response = await fetch(`/api/v1/live${this.params}`, {
        headers: { Authorization: `Bearer ${key()}`, Accept: "text/event-stream" },
        signal: this.controller.signal, credentials: "omit", cache: "no-store",
      });
      if (response.status === 401) { this.onState("unauthorized"); return; }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parse = sseParser((event, data) => {
        let payload = {};
        try { payload = JSON.parse(data); } catch { payload = {}; }
        if (event === "ready") { this.delay = 1000; this.onState("live"); }
        if (event === "stale") this.onState("stale");
        this.onEvent(event, payload);
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
    } catch (err) {
      if (this.stopped) return;
    }
    if (this.stopped) return;
    this.onState("offline");
    setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 10000);
  }
}
