"""The Grafana dashboard drawn from its own layout and real Prometheus data, as one HTML page with
inline SVG (no Grafana needed): panel positions and sizes from ``gridPos``, titles, one line per
series with its legend from ``legendFormat``, the y axis in the panel's unit.

For the picture in docs/ (screenshotted by tests/browser.py), so what the page shows is what the
dashboard's queries returned from a running pipeline.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Any

WIDTH = 1600
ROW_PX = 30
COLOURS = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0", "#508642", "#cca300"]


@dataclass(frozen=True)
class Series:
    legend: str
    points: list[tuple[float, float]]


def legend(fmt: str, labels: dict[str, str]) -> str:
    """Grafana's ``{{label}}`` substitution."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip() or "value"


def _fmt(value: float, unit: str) -> str:
    if unit == "bytes":
        for suffix, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if abs(value) >= size:
                return f"{value / size:.1f} {suffix}"
        return f"{value:.0f} B"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.1f} s"
    if unit == "ops":
        return f"{value:.2f}/s"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _panel(panel: dict[str, Any], series: list[Series], start: float, end: float) -> str:
    grid = panel["gridPos"]
    col = WIDTH / 24
    left, top = grid["x"] * col, grid["y"] * ROW_PX
    width, height = grid["w"] * col - 8, grid["h"] * ROW_PX - 8
    style = f"left:{left:.0f}px;top:{top:.0f}px;width:{width:.0f}px;height:{height:.0f}px"
    title = html.escape(panel["title"])
    if panel["type"] == "row":
        return f'<div class="row" style="{style}">{title}</div>'
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    plot_w, plot_h = width - 80, height - 70
    values = [v for s in series for _, v in s.points if math.isfinite(v)]
    top_v = max([*values, 0.0]) or 1.0
    lines = []
    for i, s in enumerate(series):
        pts = " ".join(
            f"{60 + (t - start) / max(end - start, 1) * plot_w:.1f},{10 + plot_h - v / top_v * plot_h:.1f}"
            for t, v in s.points
            if math.isfinite(v)
        )
        lines.append(f'<polyline fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="1.5" points="{pts}"/>')
    axis = (
        f'<text x="55" y="16" text-anchor="end">{_fmt(top_v, unit)}</text>'
        f'<text x="55" y="{10 + plot_h:.0f}" text-anchor="end">{_fmt(0, unit)}</text>'
        f'<line x1="60" y1="{10 + plot_h:.0f}" x2="{60 + plot_w:.0f}" y2="{10 + plot_h:.0f}" stroke="#444"/>'
        f'<line x1="60" y1="{10 + plot_h / 2:.0f}" x2="{60 + plot_w:.0f}" y2="{10 + plot_h / 2:.0f}" stroke="#2a2a2a"/>'
    )
    keys = "".join(
        f'<span><i style="background:{COLOURS[i % len(COLOURS)]}"></i>{html.escape(s.legend)}</span>'
        for i, s in enumerate(series[:8])
    ) + (f"<span>… {len(series) - 8} more</span>" if len(series) > 8 else "")
    return (
        f'<div class="panel" style="{style}"><div class="title">{title}</div>'
        f'<svg width="{width - 10:.0f}" height="{plot_h + 20:.0f}">{axis}{"".join(lines)}</svg>'
        f'<div class="legend">{keys}</div></div>'
    )


def render(dashboard: dict[str, Any], data: dict[int, list[Series]], start: float, end: float, note: str) -> str:
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"]) * ROW_PX
    panels = "".join(_panel(p, data.get(p["id"], []), start, end) for p in dashboard["panels"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(dashboard["title"])}</title>
<style>
body {{ background:#111217; color:#ccccdc; font:12px sans-serif; margin:0; }}
header {{ padding:10px 16px; font-size:16px; }} header small {{ color:#8e8e8e; font-size:12px; margin-left:12px; }}
main {{ position:relative; width:{WIDTH}px; height:{bottom}px; margin:0 8px; }}
.panel {{ position:absolute; background:#181b1f; border:1px solid #2c3235; border-radius:2px; overflow:hidden; }}
.row {{ position:absolute; font-size:14px; font-weight:bold; padding-top:6px; }}
.title {{ padding:6px 8px; font-weight:bold; }} svg text {{ fill:#8e8e8e; font-size:10px; }}
.legend {{ padding:0 8px; }} .legend span {{ margin-right:12px; white-space:nowrap; }}
.legend i {{ display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle; }}
</style></head><body><header>{html.escape(dashboard["title"])}<small>{html.escape(note)}</small></header>
<main>{panels}</main></body></html>"""
