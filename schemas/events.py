"""Input events: JSON/decoded records -> validated frozen dataclasses, and their Kafka keys.

One validator serves `alertstream publish` (JSON lines from producers) and the evaluator (decoded
Avro records, whose *types* the codec already guarantees but whose *semantics* it does not: NaN,
empty tenant, a timestamp far in the future). Every failure is a
:class:`~alertstream.schemas.errors.ValidationError` with a bounded reason and the offending field's path.

Text must be storable everywhere it goes: a NUL (PostgreSQL ``text`` cannot hold one) or a lone
surrogate (not encodable as UTF-8, so neither in Avro nor in JSON bodies) in any string field,
label key or label value is ``bad_text`` — refused here rather than failing later in a sink.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alertstream.schemas.errors import ValidationError

#: Events stamped further ahead than this are refused (clock skew allowance).
MAX_FUTURE_MS = 5 * 60 * 1000
MAX_TEXT = 512
MAX_LABELS = 32
_TIMESTAMP_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")
#: NUL and the UTF-16 surrogate range: what PostgreSQL text or UTF-8 JSON cannot hold.
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class MetricEvent:
    event_id: str
    tenant: str
    metric: str
    value: float
    source: str
    occurred_at: int
    labels: Mapping[str, str] = field(default_factory=dict)

    def key(self) -> bytes:
        return f"{self.tenant}|{self.source}".encode()

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "tenant": self.tenant,
            "metric": self.metric,
            "value": self.value,
            "source": self.source,
            "labels": dict(self.labels),
            "occurred_at": self.occurred_at,
        }


@dataclass(frozen=True, slots=True)
class DriftEvent:
    event_id: str
    tenant: str
    drift_type: str
    payer: str
    baseline_value: float
    current_value: float
    occurred_at: int
    cpt_group: str | None = None
    sample_count: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def key(self) -> bytes:
        suffix = f"|{self.cpt_group}" if self.cpt_group else ""
        return f"{self.tenant}|{self.payer}{suffix}".encode()

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "tenant": self.tenant,
            "drift_type": self.drift_type,
            "payer": self.payer,
            "cpt_group": self.cpt_group,
            "baseline_value": self.baseline_value,
            "current_value": self.current_value,
            "sample_count": self.sample_count,
            "labels": dict(self.labels),
            "occurred_at": self.occurred_at,
        }


_METRIC_FIELDS = {"event_id", "tenant", "metric", "value", "source", "labels", "occurred_at"}
_DRIFT_FIELDS = {
    "event_id",
    "tenant",
    "drift_type",
    "payer",
    "cpt_group",
    "baseline_value",
    "current_value",
    "sample_count",
    "labels",
    "occurred_at",
}


def _check_fields(obj: Mapping[str, Any], allowed: set[str]) -> None:
    # (a dict, what every decoder gives, skips the Mapping ABC check: ~1 us per event)
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise ValidationError("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ValidationError("unknown_field", "not in the schema", path=unknown[0])


def _printable(text: str) -> str:
    """``text`` with its unstorable characters written as escapes (for paths and details)."""
    return _BAD_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _storable(text: str) -> bool:
    """No NUL, no lone surrogate. Per string of every event: C-level tests first (ASCII cannot
    hold a surrogate), the regex only for non-ASCII text."""
    return "\x00" not in text and (text.isascii() or _BAD_TEXT.search(text) is None)


def _bad_text(text: str, path: str) -> ValidationError:
    bad = _BAD_TEXT.search(text)
    assert bad is not None
    what = "NUL, which PostgreSQL text cannot store" if bad.group() == "\x00" else "a lone surrogate (not UTF-8)"
    return ValidationError("bad_text", f"contains U+{ord(bad.group()):04X}: {what}", path=path)


def _text(obj: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise ValidationError("missing_field", "required", path=name)
        return None
    if not isinstance(value, str):
        raise ValidationError("wrong_type", f"expected a string, got {type(value).__name__}", path=name)
    if not _storable(value):
        raise _bad_text(value, name)
    if not value.strip():
        raise ValidationError("empty_field", "must not be empty", path=name)
    if len(value) > MAX_TEXT:
        raise ValidationError("too_large", f"longer than {MAX_TEXT} characters", path=name)
    return value


def _number(obj: Mapping[str, Any], name: str) -> float:
    value = obj.get(name)
    if value is None:
        raise ValidationError("missing_field", "required", path=name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError("wrong_type", f"expected a number, got {type(value).__name__}", path=name)
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError("non_finite", f"{value!r} is not a finite number", path=name)
    return number


def _count(obj: Mapping[str, Any], name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("wrong_type", f"expected an integer, got {type(value).__name__}", path=name)
    if value < 0 or value > 2**62:
        raise ValidationError("wrong_type", "expected a non-negative integer", path=name)
    return value


def _label_path(key: object) -> str:
    return f"labels.{_printable(str(key))}"


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    value = obj.get("labels")
    if value is None:
        return {}
    if type(value) is not dict and not isinstance(value, Mapping):
        raise ValidationError("wrong_type", "expected an object of strings", path="labels")
    if len(value) > MAX_LABELS:
        raise ValidationError("too_large", f"more than {MAX_LABELS} labels", path="labels")
    for k, v in value.items():
        if not isinstance(v, str):
            raise ValidationError("wrong_type", f"expected a string, got {type(v).__name__}", path=_label_path(k))
        if not _storable(k):
            raise _bad_text(k, _label_path(k))
        if not _storable(v):
            raise _bad_text(v, _label_path(k))
        if len(k) > MAX_TEXT or len(v) > MAX_TEXT:
            raise ValidationError("too_large", f"longer than {MAX_TEXT} characters", path=_label_path(k))
    return dict(value)


def parse_timestamp(value: Any, now_ms: int, path: str = "occurred_at") -> int:
    """RFC 3339 text or epoch milliseconds -> epoch ms; absent -> now; far future refused."""
    if value is None:
        return now_ms
    if isinstance(value, bool):
        raise ValidationError("bad_timestamp", "expected RFC 3339 text or epoch milliseconds", path=path)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValidationError("bad_timestamp", f"{value!r} is not a valid epoch-ms time", path=path)
        millis = int(value)
    elif isinstance(value, str) and _TIMESTAMP_TEXT.match(value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise ValidationError("bad_timestamp", f"{value!r} is not RFC 3339", path=path) from exc
        if parsed.tzinfo is None:
            raise ValidationError("bad_timestamp", f"{value!r} has no UTC offset", path=path)
        millis = int(parsed.timestamp() * 1000)
    else:
        raise ValidationError("bad_timestamp", "expected RFC 3339 text or epoch milliseconds", path=path)
    return check_not_future(millis, now_ms, path)


def check_not_future(millis: int, now_ms: int, path: str = "occurred_at") -> int:
    if millis > now_ms + MAX_FUTURE_MS:
        raise ValidationError(
            "future_timestamp",
            f"{(millis - now_ms) // 1000}s ahead of now (limit {MAX_FUTURE_MS // 1000}s)",
            path=path,
        )
    return millis


def metric_event(obj: Mapping[str, Any], now_ms: int) -> MetricEvent:
    """Validate a MetricEvent given as JSON or as a decoded record."""
    _check_fields(obj, _METRIC_FIELDS)
    return MetricEvent(
        event_id=_text(obj, "event_id", required=False) or str(uuid.uuid4()),
        tenant=_text(obj, "tenant") or "",
        metric=_text(obj, "metric") or "",
        value=_number(obj, "value"),
        source=_text(obj, "source") or "",
        labels=_labels(obj),
        occurred_at=parse_timestamp(obj.get("occurred_at"), now_ms),
    )


def drift_event(obj: Mapping[str, Any], now_ms: int) -> DriftEvent:
    """Validate a DriftEvent given as JSON or as a decoded record."""
    _check_fields(obj, _DRIFT_FIELDS)
    return DriftEvent(
        event_id=_text(obj, "event_id", required=False) or str(uuid.uuid4()),
        tenant=_text(obj, "tenant") or "",
        drift_type=_text(obj, "drift_type") or "",
        payer=_text(obj, "payer") or "",
        cpt_group=_text(obj, "cpt_group", required=False),
        baseline_value=_number(obj, "baseline_value"),
        current_value=_number(obj, "current_value"),
        sample_count=_count(obj, "sample_count"),
        labels=_labels(obj),
        occurred_at=parse_timestamp(obj.get("occurred_at"), now_ms),
    )
