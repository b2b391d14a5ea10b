"""`alertstream publish TOPIC [FILE]`: JSON lines -> validated -> Avro -> topic.

All-or-nothing by default: every line is validated and encoded before the first is produced, so a
file with a bad line publishes nothing (``--skip-invalid`` publishes the good lines and reports the
bad ones). Keys follow the contract: tenant|source for metrics, tenant|payer[|cpt_group] for drift.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message, Producer

from alertstream.runtime.kafka_clients import producer_config
from alertstream.schemas import codec as c
from alertstream.schemas import events
from alertstream.schemas import topics as t
from alertstream.schemas.codec import Codec
from alertstream.schemas.errors import AlertstreamError, SchemaRegistryUnavailable, ValidationError

#: Contract topic name -> (record name, validator producing (key, record)).
Prepare = Callable[[object, int], tuple[bytes, dict[str, object]]]


def _metric(obj: object, now_ms: int) -> tuple[bytes, dict[str, object]]:
    event = events.metric_event(_object(obj), now_ms)
    return event.key(), event.to_record()


def _drift(obj: object, now_ms: int) -> tuple[bytes, dict[str, object]]:
    event = events.drift_event(_object(obj), now_ms)
    return event.key(), event.to_record()


def _alert(obj: object, now_ms: int) -> tuple[bytes, dict[str, object]]:
    record = _object(obj)
    fingerprint = record.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise ValidationError("missing_field", "required", path="fingerprint")
    return fingerprint.encode(), record


def _object(obj: object) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise ValidationError("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    return obj


PUBLISHABLE: dict[str, tuple[str, Prepare]] = {
    t.EVENTS_METRIC: (c.METRIC_EVENT, _metric),
    t.EVENTS_DRIFT: (c.DRIFT_EVENT, _drift),
    t.ALERTS: (c.ALERT, _alert),
}


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.detail}"


@dataclass
class Prepared:
    messages: list[tuple[bytes, bytes]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    lines: int = 0


def prepare(lines: Iterable[str], contract_topic: str, codec: Codec, topic: str, now_ms: int) -> Prepared:
    """Validate and encode every non-blank line; collect errors by 1-based line number."""
    name, convert = PUBLISHABLE[contract_topic]
    out = Prepared()
    for number, line in enumerate(lines, start=1):
        out.lines = number
        if not line.strip():
            continue
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError("invalid_json", exc.msg) from None
            key, record = convert(obj, now_ms)
            out.messages.append((key, codec.encode(name, record, topic=topic)))
        except SchemaRegistryUnavailable:
            raise  # not a bad line: nothing is published (the CLI says so)
        except AlertstreamError as exc:
            out.errors.append(LineError(number, exc.reason, exc.detail))
    return out


class PublishError(RuntimeError):
    """The broker did not acknowledge every message."""


def produce_all(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    progress: Callable[[int, int], None] | None = None,
    progress_every: float = 1.0,
) -> int:
    """Produce and wait for every acknowledgement; returns the count acknowledged."""
    producer = Producer(producer_config(bootstrap))
    acked = 0
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal acked
        if err is None:
            acked += 1
        elif len(failures) < 10:
            failures.append(str(err))

    last = time.monotonic()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)  # local queue full: let deliveries drain, then retry
        producer.poll(0)
        if progress and time.monotonic() - last >= progress_every:
            last = time.monotonic()
            progress(acked, len(messages))
    remaining = producer.flush(60)
    if remaining or failures or acked != len(messages):
        raise PublishError(f"{len(messages) - acked} of {len(messages)} not acknowledged: {failures[:3]}")
    return acked


def progress_line(done: int, total: int) -> None:
    print(f"  … {done}/{total} acknowledged", file=sys.stderr, flush=True)
