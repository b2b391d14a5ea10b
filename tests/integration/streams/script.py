"""The scripted stream: groups of fingerprints whose expected alerts are known by construction.

Each group is a pattern of values per fingerprint; the expected alerts follow from the rule
semantics stated next to it (not from running the evaluator). Events of all fingerprints are
interleaved round-robin; each fingerprint's events are 1 s apart in event time, so every episode
fits in one 10-minute dedup window and nothing is re-notified (repeat interval 4 h).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest

from alertstream.schemas.events import DriftEvent, MetricEvent
from alertstream.streams.fingerprint import drift_entity, fingerprint

#: cpu: warning > 70, critical > 90, clear at 60 (hysteresis band 60..70).
#: denial: relative drift >= 0.15 warning, >= 0.5 critical, clear below 0.10, >= 20 samples.
RULES = [
    {"id": "cpu", "metric": "cpu_percent", "operator": ">", "warning": 70, "critical": 90, "clear": 60},
    {
        "id": "denial",
        "drift_type": "DENIAL_RATE",
        "delta": "relative",
        "operator": ">=",
        "warning": 0.15,
        "critical": 0.5,
        "clear": 0.10,
        "min_sample_count": 20,
    },
]
TENANTS = ["t0", "t1", "t2", "t3", "t4"]
#: Series start this long ago: well inside the rules' 1-hour lateness bound (older events are refused).
START_AGO_MS = 10 * 60 * 1000


@dataclass
class Script:
    series: list[list[MetricEvent | DriftEvent]] = field(default_factory=list)
    expected: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def events(self) -> list[MetricEvent | DriftEvent]:
        out: list[MetricEvent | DriftEvent] = []
        for column in zip_longest(*self.series):
            out += [e for e in column if e is not None]
        return out

    def metric_series(
        self, run: str, name: str, count: int, values: list[float], expect: list[tuple[str, str]]
    ) -> None:
        start = int(time.time() * 1000) - START_AGO_MS
        for i in range(count):
            tenant = TENANTS[i % len(TENANTS)]
            source = f"{run}-{name}-{i}"
            events: list[MetricEvent | DriftEvent] = [
                MetricEvent(f"{source}-{j}", tenant, "cpu_percent", v, source, start + j * 1000)
                for j, v in enumerate(values)
            ]
            self.series.append(events)
            fp = fingerprint("cpu", tenant, source)
            for status, severity in expect:
                self.expected[(fp, status, severity)] += 1

    def drift_series(self, run: str, name: str, count: int, deltas: list[float], expect: list[tuple[str, str]]) -> None:
        start = int(time.time() * 1000) - START_AGO_MS
        for i in range(count):
            tenant = TENANTS[i % len(TENANTS)]
            payer = f"{run}-{name}-payer{i}"
            events: list[MetricEvent | DriftEvent] = [
                DriftEvent(
                    f"{payer}-{j}", tenant, "DENIAL_RATE", payer, 0.10, 0.10 * (1 + d), start + j * 1000, "E&M", 100
                )
                for j, d in enumerate(deltas)
            ]
            self.series.append(events)
            fp = fingerprint("denial", tenant, drift_entity(payer, "E&M"))
            for status, severity in expect:
                self.expected[(fp, status, severity)] += 1


W, C = ("firing", "warning"), ("firing", "critical")
RW, RC = ("resolved", "warning"), ("resolved", "critical")


def scripted_stream(run: str, scale: int = 1) -> Script:
    """20,000 events at scale=1 (a smaller mix with the same patterns for scale > 1)."""
    s = Script()
    k = scale
    # steady breach, 199 duplicates each: one warning
    s.metric_series(run, "steady", 40 // k, [85.0] * 200, [W])
    # breach then recovery: one warning, one resolve
    s.metric_series(run, "recover", 20 // k, [85.0] * 100 + [10.0] * 50, [W, RW])
    # flapping inside the hysteresis band (72 / 65): one warning, never resolved
    s.metric_series(run, "flap", 20 // k, [72.0, 65.0] * 50, [W])
    # two episodes, the second critical: fire, resolve, fire, resolve
    s.metric_series(run, "twice", 10 // k, [85.0] * 50 + [10.0] * 20 + [95.0] * 50 + [10.0] * 20, [W, RW, C, RC])
    # escalation: warning, then critical while still firing
    s.metric_series(run, "escalate", 10 // k, [80.0] * 30 + [95.0] * 30, [W, C])
    # drift +30 % for 50 events, then back to +5 %: one warning, one resolve
    s.drift_series(run, "drift", 10 // k, [0.3] * 50 + [0.05] * 10, [W, RW])
    # healthy: nothing
    s.metric_series(run, "healthy", 20 // k, [40.0] * 220, [])
    return s
