"""Pure parts of logs, lag and the probe: JSON lines, librdkafka statistics, the probe's reason."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client import REGISTRY

from alertstream.runtime import consumer_lag, metrics
from alertstream.runtime.kafka_probe import reason
from alertstream.runtime.log_setup import configure_logging


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_time_level_logger_message_process_and_ids(restore_logging: object) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", "deliver-webhook", stream=out)
    log = logging.getLogger("alertstream.consumers.deliver")
    log.warning("delivered %s", "a-1", extra={"fingerprint": "f" * 32, "delivery_id": "d-1", "partition": 3})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(first) == {
        "time",
        "level",
        "logger",
        "message",
        "process",
        "pid",
        "fingerprint",
        "delivery_id",
        "partition",
    }
    assert first["time"].endswith("Z")
    assert (first["level"], first["logger"], first["message"]) == (
        "WARNING",
        "alertstream.consumers.deliver",
        "delivered a-1",
    )
    assert (first["process"], first["fingerprint"], first["partition"]) == ("deliver-webhook", "f" * 32, 3)
    assert second["message"] == "failed"
    assert "RuntimeError: boom" in second["exception"]


def test_the_level_reaches_the_libraries(restore_logging: object) -> None:
    configure_logging("WARNING", "text", "worker", stream=io.StringIO())
    for name in ("faust", "mode", "aiokafka", "alertstream.kafka"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING


def _stats(partitions: dict[str, dict[str, object]]) -> str:
    return json.dumps({"topics": {"t.alerts": {"partitions": partitions}}})


def test_lag_per_assigned_partition_from_librdkafka_statistics() -> None:
    group = "g-lag-test"
    on_stats = consumer_lag.ConsumerLag(group).chain()
    on_stats(
        _stats(
            {
                "0": {"fetch_state": "active", "consumer_lag": 7},
                "1": {"fetch_state": "active", "consumer_lag": 0},
                "2": {"fetch_state": "none", "consumer_lag": -1},  # not assigned here
                "3": {"fetch_state": "active", "consumer_lag": -1},  # no commit yet: unknown
                "-1": {"fetch_state": "none", "consumer_lag": -1},  # librdkafka's internal partition
            }
        )
    )

    def lag(p: str) -> float | None:
        return REGISTRY.get_sample_value(
            "alertstream_consumer_lag", {"group": group, "topic": "t.alerts", "partition": p}
        )

    assert [lag(p) for p in ("0", "1", "2", "3", "-1")] == [7.0, 0.0, None, None, None]
    on_stats(_stats({"1": {"fetch_state": "active", "consumer_lag": 2}}))  # partition 0 revoked
    assert [lag("0"), lag("1")] == [None, 2.0]
    on_stats("not json")  # kept, never raised into librdkafka
    assert lag("1") == 2.0


def test_bounded_series_exist_at_zero_from_the_start() -> None:
    metrics.init_delivery_series("email", 3)
    metrics.init_worker_series()
    sample = REGISTRY.get_sample_value
    assert [sample("alertstream_retries_total", {"channel": "email", "tier": t}) for t in ("1", "2", "3")] == [0.0] * 3
    assert sample("alertstream_retries_total", {"channel": "email", "tier": "4"}) is None
    assert sample("alertstream_dlq_messages_total", {"channel": "email"}) == 0.0
    assert sample("alertstream_events_invalid_total", {"reason": "bad_magic"}) is not None
    assert sample("alertstream_alerts_suppressed_total", {"reason": "rate_limit"}) is not None
    assert sample("alertstream_notification_first_attempt_latency_seconds_count", {"channel": "email"}) is not None


def test_first_attempt_and_end_to_end_latency() -> None:
    count = REGISTRY.get_sample_value
    before = {
        m: count(f"alertstream_{m}_count", {"channel": "slack"}) or 0.0
        for m in ("notification_latency_seconds", "notification_first_attempt_latency_seconds")
    }
    metrics.observe_delivered("slack", 1_000_000, True, 1_000.5)  # 0.5 s, first attempt
    metrics.observe_delivered("slack", 1_000_000, False, 1_000.0 + 3 * 3600)  # 3 h later, through retries
    assert (
        count("alertstream_notification_latency_seconds_count", {"channel": "slack"})
        == before["notification_latency_seconds"] + 2
    )
    first = count("alertstream_notification_first_attempt_latency_seconds_count", {"channel": "slack"})
    assert first == before["notification_first_attempt_latency_seconds"] + 1
    # the 3 h delivery lands in a finite bucket: p99 is a number, not +Inf
    le_4h = count("alertstream_notification_latency_seconds_bucket", {"channel": "slack", "le": "14400.0"})
    le_1h = count("alertstream_notification_latency_seconds_bucket", {"channel": "slack", "le": "3600.0"})
    assert le_4h is not None
    assert le_1h is not None
    assert le_4h - le_1h >= 1


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (
            [
                (
                    "_SSL",
                    "ssl://k:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::"
                    "certificate verify failed: "
                    "broker certificate could not be verified",
                )
            ],
            "TLS handshake failed: the broker's certificate is not trusted (check ALERTSTREAM_KAFKA_SSL_CA_FILE)",
        ),
        (
            [
                (
                    "SASL_AUTHENTICATION_FAILED",
                    "SASL authentication error: Authentication failed during authentication due to invalid credentials",
                )
            ],
            "SASL authentication failed (check ALERTSTREAM_KAFKA_SASL_USERNAME / _PASSWORD and the mechanism)",
        ),
        (
            [
                ("_ALL_BROKERS_DOWN", "1/1 brokers are down"),
                ("log", "Connect to ipv4#127.0.0.1:1 failed: Connection refused"),
            ],
            "connection refused",
        ),
        (
            [("log", "k:1/bootstrap: Failed to resolve 'nohost:9092': Name or service not known")],
            "the broker's host name does not resolve",
        ),
        (
            [("log", "Disconnected: connection reset by peer (after 13ms in state APIVERSION_QUERY)")],
            "the broker closed the connection at the first request "
            "(a TLS or SASL listener? check ALERTSTREAM_KAFKA_SECURITY_PROTOCOL)",
        ),
        ([("_TIMED_OUT", "Failed to get metadata: Local: Broker transport failure")], "no answer"),
    ],
)
def test_the_probe_names_the_cause(seen: list[tuple[str, str]], expected: str) -> None:
    assert reason(seen) == expected
