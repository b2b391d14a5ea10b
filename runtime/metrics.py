"""Every Prometheus metric named in CONTRACT.md, defined once.

Base units, ``_total`` counters, bounded labels only (topic, reason, severity, status, channel,
outcome, tier): never tenant, fingerprint or URL. A stage may define further metrics in its own
module; the contract's names live here so that no two processes define them differently.

**Series that exist from the start.** A counter series that appears only at its first increment
is invisible to ``increase()``/``rate()`` for that first one (there is no earlier sample to
compare with), so the first dead letter of a channel would never show on a dashboard. The label
sets that are bounded and known at start are therefore created at zero when a process starts
(:func:`init_worker_series`, :func:`init_delivery_series`): invalid events by reason, suppressed
occurrences by reason, events consumed by input topic, alerts by severity and status, retries by
channel and tier, dead letters and outcomes by channel.

**Latency histograms fit what they measure.** ``alertstream_notification_first_attempt_latency_seconds``
is alert emitted → delivered for deliveries that succeeded on their first attempt (milliseconds to a
minute: the healthy path an SLO watches); ``alertstream_notification_latency_seconds`` (the
contract's name) is alert emitted → delivered for every delivery, through the retry tiers, with
buckets up to a day, so its p99 is a number and not ``+Inf`` when retries wait minutes or hours.
"""

from __future__ import annotations

import urllib.request

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from alertstream import __version__
from alertstream.runtime.health import Health, start_server
from alertstream.schemas.errors import CODEC_REASONS, VALIDATION_REASONS
from alertstream.schemas.topics import EVENTS_DRIFT, EVENTS_METRIC

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Event time -> alert: late events are accepted up to the rules' lateness bound (minutes).
_EVENT_BUCKETS = (*_LATENCY_BUCKETS, 120.0, 300.0, 900.0, 1800.0, 3600.0)
#: Through the retry tiers (delays of seconds to hours, a receiver's Retry-After, a DLQ replay).
_END_TO_END_BUCKETS = (
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    43200.0,
    86400.0,
)

EVENTS_CONSUMED = Counter("alertstream_events_consumed", "Events read from an input topic.", ["topic"])
EVENTS_INVALID = Counter("alertstream_events_invalid", "Events sent to events.invalid.", ["reason"])
ALERTS_EMITTED = Counter("alertstream_alerts_emitted", "Alerts written to `alerts`.", ["severity", "status"])
ALERTS_SUPPRESSED = Counter("alertstream_alerts_suppressed", "Occurrences folded instead of notified.", ["reason"])
EVENT_TO_ALERT = Histogram(
    "alertstream_event_to_alert_seconds", "Event occurred_at to alert emitted.", buckets=_EVENT_BUCKETS
)
NOTIFICATIONS = Counter("alertstream_notifications", "Delivery attempts by outcome.", ["channel", "outcome"])
NOTIFICATION_LATENCY = Histogram(
    "alertstream_notification_latency_seconds",
    "Alert emitted to delivered, every delivery (through the retry tiers).",
    ["channel"],
    buckets=_END_TO_END_BUCKETS,
)
FIRST_ATTEMPT_LATENCY = Histogram(
    "alertstream_notification_first_attempt_latency_seconds",
    "Alert emitted to delivered, deliveries that succeeded on their first attempt.",
    ["channel"],
    buckets=_LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge("alertstream_deliveries_in_flight", "Deliveries being sent to a receiver now.", ["channel"])
RETRIES = Counter("alertstream_retries", "Tasks sent to a retry tier.", ["channel", "tier"])
DLQ_MESSAGES = Counter("alertstream_dlq_messages", "Tasks sent to a dead-letter topic.", ["channel"])
#: The worker's global lifecycle views: active+pending silences known, firing alerts (inhibition sources).
LIFECYCLE_VIEW = Gauge("alertstream_lifecycle_view", "Entries of the worker's global lifecycle views.", ["view"])
BUILD_INFO = Gauge("alertstream_build_info", "Always 1; the version label says which build.", ["version"])
BUILD_INFO.labels(version=__version__).set(1)

#: Why the worker folds an occurrence instead of notifying (streams.dedup decisions, streams.rate_limit).
SUPPRESSED_REASONS = ("dedup", "grouped", "pending", "late", "out_of_order", "rate_limit")
#: Why an event goes to events.invalid: the codec's and the validator's reasons, and the worker's own two.
INVALID_REASONS = (*dict.fromkeys((*CODEC_REASONS, *VALIDATION_REASONS)), "decode_failed", "evaluation_failed")
SEVERITIES = ("critical", "warning", "info")
STATUSES = ("firing", "resolved")
#: Every outcome a deliver process counts (consumers.deliveries).
OUTCOMES = ("sent", "duplicate", "superseded", "retrying", "deferred", "dead_lettered", "disabled")


def init_worker_series() -> None:
    """The worker's bounded series at zero (see the module docstring)."""
    for topic in (EVENTS_METRIC, EVENTS_DRIFT):
        EVENTS_CONSUMED.labels(topic=topic)
    for severity in SEVERITIES:
        for status in STATUSES:
            ALERTS_EMITTED.labels(severity=severity, status=status)
    for reason in INVALID_REASONS:
        EVENTS_INVALID.labels(reason=reason)
    for reason in SUPPRESSED_REASONS:
        ALERTS_SUPPRESSED.labels(reason=reason)


def init_delivery_series(channel: str, tiers: int) -> None:
    """A deliver process's bounded series at zero: retries per tier 1..``tiers``, DLQ, outcomes."""
    for tier in range(1, tiers + 1):
        RETRIES.labels(channel=channel, tier=str(tier))
    DLQ_MESSAGES.labels(channel=channel)
    for outcome in OUTCOMES:
        NOTIFICATIONS.labels(channel=channel, outcome=outcome)
    NOTIFICATION_LATENCY.labels(channel=channel)
    FIRST_ATTEMPT_LATENCY.labels(channel=channel)
    IN_FLIGHT.labels(channel=channel).set(0)


def observe_delivered(channel: str, emitted_at_ms: int | None, first_attempt: bool, now_s: float) -> None:
    """A delivery succeeded: the latency histograms (``first_attempt``: its first attempt, read
    from ``alerts`` itself — not from a retry tier, a deferral or a DLQ replay)."""
    if not emitted_at_ms:
        return
    seconds = max(0.0, now_s - emitted_at_ms / 1000)
    NOTIFICATION_LATENCY.labels(channel=channel).observe(seconds)
    if first_attempt:
        FIRST_ATTEMPT_LATENCY.labels(channel=channel).observe(seconds)


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
