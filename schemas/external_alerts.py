"""Alerts from other systems: the Alertmanager API v2 payload -> a validated ``ExternalAlert`` event.

One module for both sides of ``events.alerts``: the API turns ``POST /api/v2/alerts`` bodies into
:class:`ExternalAlertEvent` records (:func:`postable_alert`) and keys them by :func:`fingerprint`;
the worker validates the decoded records again (:func:`external_alert`, the contract's semantics
the codec cannot check) and evaluates them by the same fingerprint. Every problem is a
:class:`~alertstream.schemas.errors.ValidationError` with a bounded reason and the field's path.

Alertmanager's rules (``api/v2``, ``types.Alert.Validate`` of 0.25), kept:

* labels with an empty value are removed first; at least one label must remain;
* label names are Prometheus names (``[a-zA-Z_][a-zA-Z0-9_]*``), values any storable text;
* ``startsAt``/``endsAt`` are RFC 3339; Go's zero time (``0001-01-01T00:00:00Z``) means "not set";
  an ``endsAt`` before ``startsAt`` is refused.

Identity: the **label set + tenant**. The ``tenant`` label (when sent) names the tenant and is
not part of the fingerprint, so the same alert sent with and without it is one alert.
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
from alertstream.schemas.events import _storable, _text, check_not_future
from alertstream.schemas.label_fingerprint import TENANT_LABEL, fingerprint

__all__ = ["TENANT_LABEL", "ExternalAlertEvent", "external_alert", "fingerprint", "postable_alert"]

MAX_LABELS = 64
MAX_LABEL_NAME = 256
MAX_LABEL_VALUE = 1024
MAX_ANNOTATIONS = 64
MAX_ANNOTATION_VALUE = 16_384
MAX_URL = 4096
#: fullmatch: a ``$`` would let a name end in a newline
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TENANT = re.compile(r"^[A-Za-z0-9._:@-]{1,128}\Z")  # \Z: `$` also matches before a final newline
_RECORD_FIELDS = {
    "event_id",
    "tenant",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "generator_url",
    "received_at",
    "source",
}


def valid_tenant(tenant: str) -> bool:
    return bool(_TENANT.match(tenant))


@dataclass(frozen=True, slots=True)
class ExternalAlertEvent:
    """One received alert (an update of the alert its label set names)."""

    event_id: str
    tenant: str
    labels: Mapping[str, str]
    received_at: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: int | None = None
    ends_at: int | None = None
    generator_url: str = ""
    source: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.tenant, self.labels)

    def key(self) -> bytes:
        """The Kafka key: the fingerprint, so every update of one alert stays on one partition."""
        return self.fingerprint.encode()

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "tenant": self.tenant,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "generator_url": self.generator_url,
            "received_at": self.received_at,
            "source": self.source,
        }


def _pairs(value: Any, path: str, most: int, longest: int, *, names: bool) -> dict[str, str]:
    """A label set or annotations: an object of strings, bounded; empty values dropped."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("wrong_type", "expected an object of strings", path=path)
    if len(value) > most:
        raise ValidationError("too_large", f"more than {most} entries", path=path)
    name_ok = _LABEL_NAME.fullmatch if names else None
    out: dict[str, str] = {}
    for k, v in value.items():
        # one test per pair on the way in (a batch of 100 alerts is ~1,000 pairs); the reason only
        # for the pair that fails
        if (
            isinstance(k, str)
            and isinstance(v, str)
            and len(k) <= MAX_LABEL_NAME
            and len(v) <= longest
            and _storable(k)
            and _storable(v)
            and (name_ok is None or name_ok(k))
        ):
            if v:
                out[k] = v
            continue
        raise _pair_problem(k, v, path, longest, names)
    return out


def _pair_problem(k: Any, v: Any, path: str, longest: int, names: bool) -> ValidationError:
    """Why one name/value pair of :func:`_pairs` is refused (the first problem, name first)."""
    where = f"{path}.{k}" if isinstance(k, str) and _storable(k) else path
    if not isinstance(k, str) or not _storable(k) or len(k) > MAX_LABEL_NAME:
        return ValidationError("bad_name", "names are text of at most 256 characters", path=where)
    if names and not _LABEL_NAME.fullmatch(k):
        return ValidationError("bad_name", "a label name is [a-zA-Z_][a-zA-Z0-9_]*", path=where)
    if not isinstance(v, str):
        return ValidationError("wrong_type", f"expected a string, got {type(v).__name__}", path=where)
    if not _storable(v):
        return ValidationError("bad_text", "contains NUL or a lone surrogate", path=where)
    return ValidationError("too_large", f"longer than {longest} characters", path=where)


def _time(value: Any, path: str) -> int | None:
    """RFC 3339 text -> epoch ms; absent, empty or Go's zero time -> None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError("bad_timestamp", "expected RFC 3339 text", path=path)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError("bad_timestamp", f"{value[:64]!r} is not RFC 3339", path=path) from None
    if parsed.tzinfo is None:
        raise ValidationError("bad_timestamp", f"{value[:64]!r} has no UTC offset", path=path)
    if parsed.year < 1970:
        return None  # Go's zero time: "not set"
    millis = parsed.timestamp() * 1000
    if not math.isfinite(millis) or millis > 2**53:
        raise ValidationError("bad_timestamp", f"{value[:64]!r} is out of range", path=path)
    return int(millis)


def resolve_tenant(labels: Mapping[str, str], key_tenant: str | None, default_tenant: str | None) -> str:
    """The tenant of an alert: a tenant key's own (a ``tenant`` label naming another is refused);
    for an admin key (``key_tenant`` None) the ``tenant`` label, else ``default_tenant``."""
    named = labels.get(TENANT_LABEL)
    path = f"labels.{TENANT_LABEL}"
    if key_tenant is not None:
        if named is not None and named != key_tenant:
            raise ValidationError("wrong_tenant", "names a tenant other than the API key's", path=path)
        return key_tenant
    tenant = named or default_tenant
    if not tenant:
        raise ValidationError(
            "missing_tenant", "an admin key's alerts need a tenant label (or external_alerts.default_tenant)", path=path
        )
    if not valid_tenant(tenant):
        raise ValidationError("bad_tenant", "a tenant is 1-128 of A-Z a-z 0-9 . _ : @ -", path=path)
    return tenant


def postable_alert(
    item: Any, *, key_tenant: str | None, default_tenant: str | None, now_ms: int, source: str, event_id: str = ""
) -> ExternalAlertEvent:
    """One element of a ``POST /api/v2/alerts`` body (Alertmanager's ``postableAlert``)."""
    if not isinstance(item, Mapping):
        raise ValidationError("not_an_object", f"expected an alert object, got {type(item).__name__}")
    # other fields are ignored, as Alertmanager does (a newer client's additions must not break it)
    if "labels" not in item:
        raise ValidationError("missing_field", "required", path="labels")
    labels = _pairs(item["labels"], "labels", MAX_LABELS, MAX_LABEL_VALUE, names=True)
    if not labels:
        raise ValidationError("empty_field", "at least one label with a value is required", path="labels")
    annotations = _pairs(item.get("annotations"), "annotations", MAX_ANNOTATIONS, MAX_ANNOTATION_VALUE, names=False)
    starts, ends = _time(item.get("startsAt"), "startsAt"), _time(item.get("endsAt"), "endsAt")
    if starts is not None and ends is not None and ends < starts:
        raise ValidationError("bad_timestamp", "endsAt is before startsAt", path="endsAt")
    url = item.get("generatorURL") or ""
    if not isinstance(url, str) or not _storable(url) or len(url) > MAX_URL:
        raise ValidationError("wrong_type", f"expected text of at most {MAX_URL} characters", path="generatorURL")
    tenant = resolve_tenant(labels, key_tenant, default_tenant)
    return ExternalAlertEvent(
        event_id=event_id or uuid.uuid4().hex,
        tenant=tenant,
        labels=labels,
        received_at=now_ms,
        annotations=annotations,
        starts_at=starts,
        ends_at=ends,
        generator_url=url,
        source=source,
    )


def external_alert(record: Mapping[str, Any], now_ms: int) -> ExternalAlertEvent:
    """Validate a decoded ``ExternalAlert`` record (the worker's side of the contract)."""
    unknown = sorted(set(record) - _RECORD_FIELDS)
    if unknown:
        raise ValidationError("unknown_field", "not in the schema", path=unknown[0])
    tenant = _text(record, "tenant") or ""
    if not valid_tenant(tenant):
        raise ValidationError("bad_tenant", "a tenant is 1-128 of A-Z a-z 0-9 . _ : @ -", path="tenant")
    labels = _pairs(record.get("labels"), "labels", MAX_LABELS, MAX_LABEL_VALUE, names=True)
    if not labels:
        raise ValidationError("empty_field", "at least one label with a value is required", path="labels")
    received = record.get("received_at")
    if isinstance(received, bool) or not isinstance(received, int) or received < 0:
        raise ValidationError("bad_timestamp", "expected epoch milliseconds", path="received_at")
    times = {}
    for name in ("starts_at", "ends_at"):
        value = record.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValidationError("bad_timestamp", "expected epoch milliseconds or null", path=name)
        times[name] = value
    url = record.get("generator_url") or ""
    if not isinstance(url, str) or not _storable(url):
        raise ValidationError("bad_text", "contains NUL or a lone surrogate", path="generator_url")
    return ExternalAlertEvent(
        event_id=_text(record, "event_id") or "",
        tenant=tenant,
        labels=labels,
        received_at=check_not_future(received, now_ms, "received_at"),
        annotations=_pairs(
            record.get("annotations"), "annotations", MAX_ANNOTATIONS, MAX_ANNOTATION_VALUE, names=False
        ),
        starts_at=times["starts_at"],
        ends_at=times["ends_at"],
        generator_url=url,
        source=str(record.get("source") or "")[:256],
    )
