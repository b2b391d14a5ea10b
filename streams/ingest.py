"""Ingest: raw Kafka bytes -> a validated event, or an :class:`Invalid` bound for ``events.invalid``.

The worker consumes raw bytes (never a Faust codec) so that *no* input can raise inside the
stream: every failure of the codec (:class:`~alertstream.schemas.errors.CodecError`) and of the contract's
semantics (:class:`~alertstream.schemas.errors.ValidationError`: NaN, empty tenant, far-future timestamps —
the one validator in :mod:`alertstream.schemas.events`) becomes data with a bounded ``reason``, and the
partition moves on.
"""

from __future__ import annotations

from dataclasses import dataclass

from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.errors import CodecError, ValidationError
from alertstream.schemas.events import DriftEvent, MetricEvent, drift_event, metric_event

MAX_DETAIL = 512


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


class Ingest:
    """Decodes one input topic's messages. ``drift`` selects the DriftEvent schema."""

    def __init__(self, codec: Codec, drift: bool) -> None:
        self.codec = codec
        self.expected = c.DRIFT_EVENT if drift else c.METRIC_EVENT
        self.validate = drift_event if drift else metric_event

    def parse(
        self, key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int, now_ms: int
    ) -> MetricEvent | DriftEvent | Invalid:
        try:
            if value is None:
                raise CodecError("truncated", "no value (tombstone)")
            record = self.codec.decode(value, self.expected)
            return self.validate(record, now_ms)
        except (CodecError, ValidationError) as exc:
            return Invalid(exc.reason, exc.detail, key, value, topic, partition, offset)
        except Exception as exc:  # a decoder bug must not stall the partition either
            return Invalid("schema_mismatch", f"unexpected {type(exc).__name__}", key, value, topic, partition, offset)
