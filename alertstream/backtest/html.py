"""The backtest report as one self-contained HTML page: inline CSS and an inline SVG chart.

Nothing is loaded from anywhere (no script, no font, no image URL), so the page opens offline and
can be attached to a review as it is. Every value from the history is escaped.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;max-width:1100px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f6f8fa}
.up{color:#b42318;font-weight:600}.down{color:#067647;font-weight:600}
.legend span{display:inline-block;width:1rem;height:.25rem;margin:0 .3rem .2rem 1rem;vertical-align:middle}
.muted{color:#57606a}
code{background:#f6f8fa;padding:0 .2rem}
"""
_COLOURS = {"baseline": "#57606a", "proposed": "#0969da"}


def _t(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _delta(value: int) -> str:
    if value > 0:
        return f'<span class="up">+{value}</span>'
    if value < 0:
        return f'<span class="down">{value}</span>'
    return "0"


def chart(timeline: dict[str, Any], width: int = 1000, height: int = 240) -> str:
    """Notifications per bucket for each config, as two polylines on shared axes."""
    series: dict[str, list[int]] = timeline["series"]
    points = max((len(v) for v in series.values()), default=0)
    peak = max((max(v, default=0) for v in series.values()), default=0) or 1
    pad_l, pad_b, pad_t = 48, 28, 10
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="notifications over time" '
        f'viewBox="0 0 {width} {height}" width="100%" data-peak="{peak}">',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 10}" y2="{pad_t + plot_h}" stroke="#8c959f"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" stroke="#8c959f"/>',
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{pad_l - 6}" y="{pad_t + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    if points:
        start, size = int(timeline["start_ms"]), int(timeline["bucket_ms"])
        parts.append(f'<text x="{pad_l}" y="{height - 8}" font-size="11">{_e(_t(start))}</text>')
        parts.append(
            f'<text x="{width - 10}" y="{height - 8}" text-anchor="end" font-size="11">'
            f"{_e(_t(start + size * points))}</text>"
        )
        step = plot_w / max(points - 1, 1)
        for name, values in series.items():
            coords = " ".join(
                f"{pad_l + i * step:.1f},{pad_t + plot_h - v / peak * plot_h:.1f}" for i, v in enumerate(values)
            )
            colour = _COLOURS.get(name, "#8250df")
            parts.append(
                f'<polyline class="series" data-series="{_e(name)}" fill="none" stroke="{colour}" '
                f'stroke-width="2" points="{coords}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _side_table(title: str, rows: dict[str, Any], with_suppressed: bool) -> str:
    head = "<tr><th>{}</th><th>fired (baseline)</th><th>fired (proposed)</th><th>Δ fired</th>" + (
        "<th>resolved (baseline)</th><th>resolved (proposed)</th><th>Δ resolved</th>"
    )
    if with_suppressed:
        head += "<th>suppressed (baseline)</th><th>suppressed (proposed)</th>"
    out = [f"<h2>{_e(title)}</h2><table>", head.format(_e(title.split()[-1])) + "</tr>"]
    for name, row in rows.items():
        b, p, d = row["baseline"], row["proposed"], row["delta"]
        cells = [
            _e(name),
            b["fired"],
            p["fired"],
            _delta(d["fired"]),
            b["resolved"],
            p["resolved"],
            _delta(d["resolved"]),
        ]
        if with_suppressed:
            cells += [
                _e(", ".join(f"{k} {v}" for k, v in b["suppressed"].items()) or "-"),
                _e(", ".join(f"{k} {v}" for k, v in p["suppressed"].items()) or "-"),
            ]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _fingerprint_list(title: str, items: list[dict[str, Any]], count: int) -> str:
    if not count:
        return f"<h2>{_e(title)}</h2><p class='muted'>none</p>"
    rows = "".join(
        f"<tr><td><code>{_e(i['fingerprint'][:12])}</code></td><td>{_e(i['rule_id'])}</td><td>{_e(i['tenant'])}</td>"
        f"<td>{_e(i['entity'])}</td><td>{_e(i.get('proposed_severity', i['severity']))}</td><td>{_e(_t(i['at']))}</td>"
        f"<td>{_e(i['summary'])}</td></tr>"
        for i in items
    )
    shown = f" (first {len(items)} of {count})" if count > len(items) else f" ({count})"
    return (
        f"<h2>{_e(title)}{shown}</h2><table><tr><th>fingerprint</th><th>rule</th><th>tenant</th><th>entity</th>"
        f"<th>severity</th><th>first notified</th><th>summary</th></tr>{rows}</table>"
    )


def render(report: dict[str, Any], baseline_name: str, proposed_name: str) -> str:
    w, totals, noise = report["window"], report["totals"], report["noise"]
    legend = "".join(
        f'<span style="background:{c}"></span>{_e(n)}' for n, c in _COLOURS.items() if n in report["timeline"]["series"]
    )
    noise_rows = "".join(
        f"<tr><td>{_e(k.replace('_', ' '))}</td>"
        f"<td>{_e(noise['baseline'][k])}</td><td>{_e(noise['proposed'][k])}</td></tr>"
        for k in noise["baseline"]
    )
    fp = report["fingerprints"]
    body = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>alertstream backtest: {_e(proposed_name)} vs {_e(baseline_name)}</title><style>{_CSS}</style></head>",
        "<body><h1>Backtest: what the proposed config would have changed</h1>",
        f"<p>Window {_e(_t(w['start_ms']))} → {_e(_t(w['end_ms']))}; {w['events']} events replayed"
        f" ({w['invalid']} invalid skipped){'; tenant ' + _e(w['tenant']) if w['tenant'] else ''}.<br>",
        f"Baseline: <b>{_e(baseline_name)}</b> (version {totals['baseline']['version']}); "
        f"proposed: <b>{_e(proposed_name)}</b> (version {totals['proposed']['version']}).</p>",
        "<table><tr><th></th><th>baseline</th><th>proposed</th><th>Δ</th></tr>",
        *(
            f"<tr><td>{k}</td><td>{totals['baseline'][k]}</td><td>{totals['proposed'][k]}</td>"
            f"<td>{_delta(report['delta'][k])}</td></tr>"
            for k in ("fired", "resolved", "suppressed")
        ),
        "</table>",
        f"<h2>Notifications over time</h2><p class='legend'>{legend}</p>{chart(report['timeline'])}",
        "<h2>Noise</h2><table><tr><th></th><th>baseline</th><th>proposed</th></tr>" + noise_rows + "</table>",
        _side_table("By rule", report["by_rule"], with_suppressed=True),
        _side_table("By receiver", report["by_receiver"], with_suppressed=False),
        _fingerprint_list("Would newly fire", fp["newly_firing"], fp["newly_firing_count"]),
        _fingerprint_list("Would stop firing", fp["stop_firing"], fp["stop_firing_count"]),
        _fingerprint_list("Would change severity", fp["severity_changed"], fp["severity_changed_count"]),
        "<p class='muted'>Generated by <code>alertstream backtest</code>: the worker's evaluator replayed on "
        "the recorded events, nothing written anywhere.</p></body></html>",
    ]
    return "".join(body)
