// Inline SVG charts (no chart library): stacked bars over time, horizontal bars, lines. Each has
// role="img" and a text summary, and a table view lives beside it on the page.

import { h, s, fmtTime } from "./dom.js";

export const COLOURS = {
  critical: "#d92d20", warning: "#f79009", info: "#2e90fa",
  sent: "#12b76a", failed: "#d92d20", p50_seconds: "#2e90fa", p99_seconds: "#7a5af8",
};
const fallback = ["#475467", "#0e9384", "#c11574", "#b54708", "#6172f3"];

function colour(name, i) { return COLOURS[name] || fallback[i % fallback.length]; }

export function legend(names) {
  return h("div", { class: "legend" }, names.map((n, i) => {
    const span = h("span", {}, n);
    span.style.setProperty("--swatch", colour(n, i));
    return span;
  }));
}

/** points: [{at, values: {name: number}}]; stacked by ``names`` in order. */
export function stackedBars(points, names, { label, height = 160, width = 640 } = {}) {
  const pad = { l: 34, r: 6, t: 8, b: 22 };
  const totals = points.map((p) => names.reduce((sum, n) => sum + (p.values[n] || 0), 0));
  const peak = Math.max(1, ...totals);
  const bw = (width - pad.l - pad.r) / Math.max(points.length, 1);
  const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / peak);
  const bars = [];
  points.forEach((p, i) => {
    let base = 0;
    names.forEach((n, j) => {
      const v = p.values[n] || 0;
      if (v > 0) {
        bars.push(s("rect", {
          x: (pad.l + i * bw + 1).toFixed(1), y: y(base + v).toFixed(1), width: Math.max(bw - 2, 1).toFixed(1),
          height: (y(base) - y(base + v)).toFixed(1), fill: colour(n, j), "data-series": n,
        }, s("title", {}, `${fmtTime(new Date(p.at))}: ${n} ${v}`)));
      }
      base += v;
    });
  });
  const total = totals.reduce((a, b) => a + b, 0);
  return s("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${label}: ${total} in total, peak ${peak}`,
    "data-total": total, "data-peak": Math.max(...totals, 0),
  },
    s("line", { x1: pad.l, x2: width - pad.r, y1: y(0), y2: y(0), stroke: "#98a2b3" }),
    s("text", { x: pad.l - 4, y: y(peak) + 4, "text-anchor": "end" }, peak),
    s("text", { x: pad.l - 4, y: y(0), "text-anchor": "end" }, 0),
    axis(points, pad, width, height),
    bars);
}

function axis(points, pad, width, height) {
  if (!points.length) return [];
  const first = new Date(points[0].at);
  const last = new Date(points[points.length - 1].at);
  const short = (d) => fmtTime(d).slice(5, 16);
  return [
    s("text", { x: pad.l, y: height - 6 }, short(first)),
    s("text", { x: width - pad.r, y: height - 6, "text-anchor": "end" }, short(last)),
  ];
}

/** items: [[name, value]] as horizontal bars. */
export function hbars(items, { label, unit = "", width = 400 } = {}) {
  const row = 24;
  const height = Math.max(row, items.length * row) + 4;
  const peak = Math.max(1, ...items.map(([, v]) => v));
  const labelW = Math.min(170, width * 0.35);
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
    "data-total": items.reduce((a, [, v]) => a + v, 0) },
    items.map(([name, value], i) => [
      s("text", { x: labelW - 6, y: i * row + 16, "text-anchor": "end" }, String(name).slice(0, 26)),
      s("rect", { x: labelW, y: i * row + 4, height: row - 8, width: Math.max(1, ((width - labelW - 70) * value) / peak).toFixed(1),
        fill: colour(name, i), "data-series": name }, s("title", {}, `${name}: ${value}${unit}`)),
      s("text", { x: labelW + ((width - labelW - 70) * value) / peak + 6, y: i * row + 16 }, `${value}${unit}`),
    ]));
}

/** points: [{at, values}] drawn as one line per name (null = no value in that bucket). */
export function lines(points, names, { label, height = 140, unit = "", width = 640 } = {}) {
  const pad = { l: 46, r: 6, t: 8, b: 22 };
  const values = points.flatMap((p) => names.map((n) => p.values[n])).filter((v) => v !== null && v !== undefined);
  const peak = Math.max(1e-9, ...values);
  const bw = (width - pad.l - pad.r) / Math.max(points.length - 1, 1);
  const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / peak);
  const series = names.map((n, j) => {
    const segments = [];
    let current = [];
    points.forEach((p, i) => {
      const v = p.values[n];
      if (v === null || v === undefined) { if (current.length) segments.push(current); current = []; return; }
      current.push(`${(pad.l + i * bw).toFixed(1)},${y(v).toFixed(1)}`);
    });
    if (current.length) segments.push(current);
    return segments.map((seg) => seg.length === 1
      ? s("circle", { cx: seg[0].split(",")[0], cy: seg[0].split(",")[1], r: 2.5, fill: colour(n, j), "data-series": n })
      : s("polyline", { points: seg.join(" "), fill: "none", stroke: colour(n, j), "stroke-width": 2, "data-series": n }));
  });
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    s("line", { x1: pad.l, x2: width - pad.r, y1: y(0), y2: y(0), stroke: "#98a2b3" }),
    s("text", { x: pad.l - 4, y: y(peak) + 4, "text-anchor": "end" }, `${fmt(peak)}${unit}`),
    s("text", { x: pad.l - 4, y: y(0), "text-anchor": "end" }, `0${unit}`),
    axis(points, pad, width, height),
    series);
}

function fmt(v) { return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3); }
