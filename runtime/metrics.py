"""Every Prometheus metric named in CONTRACT.md, defined once.

Base units, ``_total`` counters, bounded labels only (topic, reason, severity, status, channel,
outcome, tier): never tenant, fingerprint or URL. A stage may define further metrics in its own
module; the contract's names live here so that no two processes define them differently.
"""

from __future__ import annotations

import urllib.request

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from alertstream import __version__
from alertstream.runtime.health import Health, start_server

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS_CONSUMED = Counter("alertstream_events_consumed", "Events read from an input topic.", ["topic"])
EVENTS_INVALID = Counter("alertstream_events_invalid", "Events sent to events.invalid.", ["reason"])
ALERTS_EMITTED = Counter("alertstream_alerts_emitted", "Alerts written to `alerts`.", ["severity", "status"])
ALERTS_SUPPRESSED = Counter("alertstream_alerts_suppressed", "Occurrences folded instead of notified.", ["reason"])
EVENT_TO_ALERT = Histogram(
    "alertstream_event_to_alert_seconds", "Event occurred_at to alert emitted.", buckets=_LATENCY_BUCKETS
)
NOTIFICATIONS = Counter("alertstream_notifications", "Delivery attempts by outcome.", ["channel", "outcome"])
NOTIFICATION_LATENCY = Histogram(
    "alertstream_notification_latency_seconds",
    "Alert emitted to delivered.",
    ["channel"],
    buckets=_LATENCY_BUCKETS,
)
RETRIES = Counter("alertstream_retries", "Tasks sent to a retry tier.", ["channel", "tier"])
DLQ_MESSAGES = Counter("alertstream_dlq_messages", "Tasks sent to a dead-letter topic.", ["channel"])
#: The worker's global lifecycle views: active+pending silences known, firing alerts (inhibition sources).
LIFECYCLE_VIEW = Gauge("alertstream_lifecycle_view", "Entries of the worker's global lifecycle views.", ["view"])
BUILD_INFO = Gauge("alertstream_build_info", "Always 1; the version label says which build.", ["version"])
BUILD_INFO.labels(version=__version__).set(1)

#: Default /metrics (and /healthz, /readyz) port of each process when ALERTSTREAM_METRICS_PORT is
#: unset (documented in README).
DEFAULT_PORTS = {
    "worker": 9401,
    "deliver-webhook": 9402,
    "deliver-slack": 9403,
    "deliver-pagerduty": 9404,
    "deliver-email": 9405,
    "store": 9406,
    "publish": 0,
    "dev": 0,
}


def serve(process: str, port: int | None, health: Health | None = None) -> int:
    """Start the /metrics, /healthz and /readyz endpoint of ``process`` (:mod:`alertstream.runtime.health`);
    returns the port (0 = disabled)."""
    chosen = DEFAULT_PORTS.get(process, 0) if port is None else port
    if chosen:
        start_server(chosen, health or Health())
    return chosen


def scrape(port: int, name: str, timeout: float = 1.0) -> list[tuple[dict[str, str], float]] | None:
    """The samples named ``name`` (e.g. ``alertstream_events_consumed_total``) that the process
    on ``port`` exports now, as (labels, value); None while its /metrics does not answer.

    For the benchmark and tests, which watch a process from outside as Prometheus would."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return [
        (dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]
