"""The difference between two replays: what the proposed config would have changed.

Pure, JSON-ready dicts (``--json`` prints exactly this; the HTML report renders it):

* ``by_rule`` / ``by_receiver``: notifications fired and resolved under each config and the delta;
  ``by_rule`` also has suppressions by reason (dedup, grouped, rate_limit, …). Receivers count
  each notification once per receiver it was routed to.
* ``fingerprints``: those that would newly fire, stop firing, or fire at another worst severity,
  each with its first notification as an example.
* ``noise``: notifications per day, flapping episodes (an episode that resolved less than
  :data:`FLAP_SECONDS` after its firing was notified) and the median time from the first breach
  to the first notification of an episode.
* ``timeline``: notifications per time bucket for each config (the chart).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from alertstream.backtest.replay import Notification, Outcome
from alertstream.schemas.rules_config import SEVERITY_ORDER

#: An episode resolved within this many seconds of its notified firing counts as flapping.
FLAP_SECONDS = 600
#: Examples kept per fingerprint list.
MAX_EXAMPLES = 20
#: Buckets in the timeline chart (the bucket size follows from the window).
TIMELINE_BUCKETS = 96


@dataclass(frozen=True)
class Window:
    start_ms: int
    end_ms: int
    events: int
    invalid: int
    tenant: str | None = None
    warmup_ms: int = 0


def _tally(outcome: Outcome) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    by_receiver: dict[str, Counter[str]] = defaultdict(Counter)
    for n in outcome.notifications:
        kind = "fired" if n.status == "firing" else "resolved"
        by_rule[n.rule_id][kind] += 1
        for receiver in n.receivers:
            by_receiver[receiver][kind] += 1
    for (rule, reason), count in outcome.suppressed.items():
        by_rule[rule][f"suppressed.{reason}"] += count
    return by_rule, by_receiver


def _side(counts: Counter[str]) -> dict[str, Any]:
    suppressed = {k.split(".", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("suppressed.")}
    return {"fired": counts["fired"], "resolved": counts["resolved"], "suppressed": suppressed}


def _compare(base: dict[str, Counter[str]], prop: dict[str, Counter[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(set(base) | set(prop)):
        b, p = _side(base.get(name, Counter())), _side(prop.get(name, Counter()))
        reasons = sorted(set(b["suppressed"]) | set(p["suppressed"]))
        out[name] = {
            "baseline": b,
            "proposed": p,
            "delta": {
                "fired": p["fired"] - b["fired"],
                "resolved": p["resolved"] - b["resolved"],
                "suppressed": {r: p["suppressed"].get(r, 0) - b["suppressed"].get(r, 0) for r in reasons},
            },
        }
    return out


def _example(n: Notification) -> dict[str, Any]:
    keep = ("at", "status", "severity", "rule_id", "tenant", "fingerprint", "entity", "reason", "summary")
    return {k: v for k, v in n._asdict().items() if k in keep}


def _firings(outcome: Outcome) -> dict[str, list[Notification]]:
    out: dict[str, list[Notification]] = defaultdict(list)
    for n in outcome.notifications:
        if n.status == "firing":
            out[n.fingerprint].append(n)
    return out


def _worst(notes: Iterable[Notification]) -> str:
    return min((n.severity for n in notes), key=lambda s: SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 9)


def _fingerprints(base: Outcome, prop: Outcome) -> dict[str, Any]:
    b, p = _firings(base), _firings(prop)
    new = [_example(p[fp][0]) for fp in sorted(set(p) - set(b), key=lambda f: p[f][0].at)]
    gone = [_example(b[fp][0]) for fp in sorted(set(b) - set(p), key=lambda f: b[f][0].at)]
    changed = []
    for fp in sorted(set(b) & set(p), key=lambda f: p[f][0].at):
        was, now = _worst(b[fp]), _worst(p[fp])
        if was != now:
            changed.append({**_example(p[fp][0]), "baseline_severity": was, "proposed_severity": now})
    return {
        "newly_firing": new[:MAX_EXAMPLES],
        "newly_firing_count": len(new),
        "stop_firing": gone[:MAX_EXAMPLES],
        "stop_firing_count": len(gone),
        "severity_changed": changed[:MAX_EXAMPLES],
        "severity_changed_count": len(changed),
    }


def noise(outcome: Outcome, window: Window) -> dict[str, Any]:
    """Notifications per day, flapping episodes, median breach -> first notification."""
    days = max((window.end_ms - window.start_ms) / 86_400_000, 1 / 24)
    fired_at: dict[str, int] = {}
    flapping = episodes = 0
    to_notify: list[float] = []
    for n in sorted(outcome.notifications, key=lambda n: n.at):
        if n.status == "firing":
            if n.fingerprint not in fired_at:
                episodes += 1
                fired_at[n.fingerprint] = n.at
                if n.reason == "new":
                    to_notify.append(max(0, n.at - n.first_seen) / 1000)
        else:
            started = fired_at.pop(n.fingerprint, None)
            if started is not None and n.at - started < FLAP_SECONDS * 1000:
                flapping += 1
    return {
        "notifications": len(outcome.notifications),
        "notifications_per_day": round(len(outcome.notifications) / days, 2),
        "episodes": episodes,
        "flapping_episodes": flapping,
        "median_time_to_notify_s": round(statistics.median(to_notify), 3) if to_notify else None,
    }


def timeline(outcomes: dict[str, Outcome], window: Window, buckets: int = TIMELINE_BUCKETS) -> dict[str, Any]:
    span = max(window.end_ms - window.start_ms, 1)
    size = max(1000, -(-span // buckets))
    count = -(-span // size)
    series: dict[str, list[int]] = {}
    for name, outcome in outcomes.items():
        row = [0] * count
        for n in outcome.notifications:
            i = (n.at - window.start_ms) // size
            if 0 <= i < count:
                row[i] += 1
        series[name] = row
    return {"start_ms": window.start_ms, "bucket_ms": size, "series": series}


def compare(baseline: Outcome, proposed: Outcome, window: Window) -> dict[str, Any]:
    """The whole report: both sides, the deltas, the fingerprints, noise and the timeline."""
    b_rule, b_receiver = _tally(baseline)
    p_rule, p_receiver = _tally(proposed)
    totals = {
        name: {
            "version": o.version,
            "fired": sum(1 for n in o.notifications if n.status == "firing"),
            "resolved": sum(1 for n in o.notifications if n.status == "resolved"),
            "suppressed": sum(o.suppressed.values()),
        }
        for name, o in (("baseline", baseline), ("proposed", proposed))
    }
    return {
        "window": asdict(window),
        "totals": totals,
        "delta": {k: totals["proposed"][k] - totals["baseline"][k] for k in ("fired", "resolved", "suppressed")},
        "by_rule": _compare(b_rule, p_rule),
        "by_receiver": _compare(b_receiver, p_receiver),
        "fingerprints": _fingerprints(baseline, proposed),
        "noise": {"baseline": noise(baseline, window), "proposed": noise(proposed, window)},
        "timeline": timeline({"baseline": baseline, "proposed": proposed}, window),
    }


def increase(report: dict[str, Any]) -> int:
    """How many more notifications (fired + resolved) the proposed config sends than the baseline."""
    return int(report["delta"]["fired"]) + int(report["delta"]["resolved"])
