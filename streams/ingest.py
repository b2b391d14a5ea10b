"""Ingest: raw Kafka bytes -> a validated event, or an :class:`Invalid` bound for ``events.invalid``.

The worker consumes raw bytes (never a Faust codec) so that *no* input can raise inside the
stream: every failure of the codec (:class:`~alertstream.schemas.errors.CodecError`) and of the contract's
semantics (:class:`~alertstream.schemas.errors.ValidationError`: NaN, empty tenant, far-future timestamps —
the one validator in :mod:`alertstream.schemas.events`) becomes data with a bounded ``reason``, and the
partition moves on.

**Set aside, never refused.** A rejected message goes to ``events.invalid`` with its original key
and bytes — unless that record would not fit the one size limit (``topics.max_message_bytes``,
which the producer enforces too). Then it is set aside *by reference*: the first
:data:`SET_ASIDE_PREFIX_BYTES` of the value (and at most :data:`MAX_KEY_BYTES` of the key), plus
``error.truncated: true`` and ``error.original_size``; ``source.topic/partition/offset`` say where
the whole message still is. Forwarding a 2 MB message whole once made the producer refuse it and
the worker crash-loop on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.errors import CodecError, ValidationError
from alertstream.schemas.events import DriftEvent, MetricEvent, drift_event, metric_event
from alertstream.schemas.external_alerts import ExternalAlertEvent, external_alert

E = TypeVar("E")

MAX_DETAIL = 512
#: What a set-aside record keeps of a value too large to forward: enough to recognise it.
SET_ASIDE_PREFIX_BYTES = 4096
#: ... and of its key (a key is part of the record's size too).
MAX_KEY_BYTES = 1024
#: Record and batch framing on top of key, value and headers (aiokafka estimates well under this).
FRAMING_BYTES = 512


@dataclass(frozen=True, slots=True)
class Invalid:
    """One rejected message: it goes to ``events.invalid`` unchanged, with these headers."""

    reason: str
    detail: str
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("error.reason", self.reason.encode()),
            ("error.detail", self.detail[:MAX_DETAIL].encode("utf-8", "replace")),
            ("source.topic", self.topic.encode()),
            ("source.partition", str(self.partition).encode()),
            ("source.offset", str(self.offset).encode()),
        ]

    def record(self, max_bytes: int) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        """(key, value, headers) for ``events.invalid``: the original, or set aside when the
        original would not fit in a record of ``max_bytes``."""
        headers = self.headers()
        key, value = self.key or b"", self.value or b""
        size = len(key) + len(value) + sum(len(k) + len(v) for k, v in headers) + FRAMING_BYTES
        if size <= max_bytes:
            return self.key, self.value, headers
        headers += [("error.truncated", b"true"), ("error.original_size", str(len(value)).encode())]
        if len(key) > MAX_KEY_BYTES:
            headers.append(("error.original_key_size", str(len(key)).encode()))
        short_key = None if self.key is None else self.key[:MAX_KEY_BYTES]
        return short_key, None if self.value is None else self.value[:SET_ASIDE_PREFIX_BYTES], headers


def decode(
    codec: Codec,
    expected: str,
    validate: Callable[[dict[str, Any], int], E],
    key: bytes | None,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    now_ms: int,
) -> E | Invalid:
    """One message of an input topic: the validated event, or why it is invalid (never raises)."""
    try:
        if value is None:
            raise CodecError("truncated", "no value (tombstone)")
        record = codec.decode(value, expected)
        return validate(record, now_ms)
    except (CodecError, ValidationError) as exc:
        return Invalid(exc.reason, exc.detail, key, value, topic, partition, offset)
    except Exception as exc:  # a decoder bug must not stall the partition either; its own reason
        return Invalid("decode_failed", f"unexpected {type(exc).__name__}", key, value, topic, partition, offset)


class Ingest:
    """Decodes one input topic's messages. ``drift`` selects the DriftEvent schema."""

    def __init__(self, codec: Codec, drift: bool) -> None:
        self.codec = codec
        self.expected = c.DRIFT_EVENT if drift else c.METRIC_EVENT
        self.validate = drift_event if drift else metric_event

    def parse(
        self, key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int, now_ms: int
    ) -> MetricEvent | DriftEvent | Invalid:
        return decode(self.codec, self.expected, self.validate, key, value, topic, partition, offset, now_ms)


class ExternalIngest:
    """Decodes ``events.alerts``: alerts received by the API (:mod:`alertstream.schemas.external_alerts`)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def parse(
        self, key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int, now_ms: int
    ) -> ExternalAlertEvent | Invalid:
        return decode(self.codec, c.EXTERNAL_ALERT, external_alert, key, value, topic, partition, offset, now_ms)


@dataclass
class InvalidSummary:
    """What went to ``events.invalid`` since the last :meth:`take`: counts by reason + the latest.

    The worker logs one line per interval from it (an example an operator can act on, without a
    line per bad message). The detail quotes producer input: the worker's log redaction applies."""

    counts: Counter[str] = field(default_factory=Counter)
    latest: Invalid | None = None

    def add(self, item: Invalid) -> None:
        self.counts[item.reason] += 1
        self.latest = item

    def take(self, interval_s: float) -> str | None:
        """The summary line (None when nothing was rejected), and start over."""
        counts, latest = self.counts, self.latest
        self.counts, self.latest = Counter(), None
        if latest is None:
            return None
        reasons = ", ".join(f"{reason} {n}" for reason, n in counts.most_common())
        return (
            f"{sum(counts.values())} events to events.invalid in the last {interval_s:.0f} s ({reasons}); "
            f"latest {latest.topic}[{latest.partition}]@{latest.offset} {latest.reason}: {latest.detail[:MAX_DETAIL]}"
        )
