"""Sanitising what leaves the evaluator: every text field of an alert, and the worker's log lines.

Alerts travel to third parties (Slack, PagerDuty, e-mail) and into PostgreSQL, so they are treated
as a disclosure. The Alert record built by the evaluator is all any sink ever receives, so
redacting it here covers every sink:

* PII is redacted wherever it appears — by *pattern* in any string (SSN, e-mail, phone, card
  numbers) and by *key name* (``patient*``, ``*name``, ``ssn``, ``dob``…) at any nesting depth —
  in ``summary``, ``details``, ``entity`` and ``labels``; the config's ``redaction:`` policy
  (:class:`Redaction`) also drops or masks label keys by name. The fingerprint is computed from
  the unredacted entity (a hash: stable identity, nothing disclosed);
* log records of the worker process pass the same pattern redaction
  (:func:`install_log_redaction`), message and traceback alike;
* ``details`` is bounded: at most :data:`MAX_KEYS` keys per object (plus a ``_truncated``
  marker), strings longer than :data:`MAX_STRING` are cut with :data:`TRUNCATED`, and the JSON
  text is at most :data:`MAX_DETAILS_BYTES`; a payload that still does not fit is replaced by a
  marker rather than cut mid-JSON;
* ``summary`` is at most :data:`MAX_SUMMARY` characters.

Limits and markers follow the seeds (8 KiB, 20 keys, 512-character strings, 255-character summary).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from alertstream.schemas.rules_config import RedactionSection

MAX_DETAILS_BYTES = 8192
MAX_KEYS = 20
MAX_STRING = 512
MAX_SUMMARY = 255
MAX_DEPTH = 6
TRUNCATED = "...[truncated]"
REDACTED = "[REDACTED]"

_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Card numbers: 13-19 digits, optionally grouped by spaces or dashes (checked with Luhn).
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# Phone numbers: optional +country, 10+ digits in common groupings (US and E.164 styles).
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w.])")
_PII_KEY_PARTS = ("patient", "ssn", "social_security", "dob", "birth", "email", "phone", "address")
_PII_KEY = re.compile("|".join(_PII_KEY_PARTS))
#: What every pattern above needs at least: an "@" (e-mail) or nine digits (SSN 9, phone 10, card
#: 13; the same ``\d`` as theirs). Text with neither is left as it is after one scan instead of four
#: substitutions: rule ids, metric names, most labels and sources, summaries of small values.
#: The "@" is a ``str`` test; the digits pattern starts with ``\d`` (the engine skips to digits)
#: and ``\D*+`` never backtracks: ``@|(?:\d\D*){9}`` tried every position and every split, 5-10x
#: slower on an alert's summary, ~9 calls per alert.
_NINE_DIGITS = re.compile(r"\d(?:\D*+\d){8}")
#: The fallback encoder of ``details`` (:func:`_encoded`), built once (``json.dumps`` with options builds one per call).
_JSON = json.JSONEncoder(separators=(",", ":"))
#: Keys ending in "name" that name things, not people.
_SAFE_NAME_KEYS = frozenset(
    {"rule_name", "metric_name", "host_name", "hostname", "service_name", "payer_name", "drift_name", "app_name"}
    # Prometheus / Kubernetes label names of received alerts (events.alerts)
    | {"alertname", "job_name", "pod_name", "container_name", "node_name", "cluster_name", "device_name"}
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD_REDACTED]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def redact_text(text: str) -> str:
    """Replace PII patterns in free text (summaries, detail values, log lines)."""
    if "@" not in text and _NINE_DIGITS.search(text) is None:
        return text
    text = _SSN.sub("XXX-XX-XXXX", text)
    text = _EMAIL.sub("[EMAIL_REDACTED]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub("[PHONE_REDACTED]", text)


@lru_cache(maxsize=4096)
def is_pii_key(key: str) -> bool:
    """Keys whose values are personal whatever they contain (``patient_name``, ``ssn``, ``dob``).

    Cached (bounded): the same few label and detail keys are asked about for every alert."""
    k = key.lower().replace("-", "_")
    if k in _SAFE_NAME_KEYS:
        return False
    return k.endswith("name") or _PII_KEY.search(k) is not None


def _clean(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:  # most detail values: one type test instead of the chain below
        text = redact_text(value)
        return text[:MAX_STRING] + TRUNCATED if len(text) > MAX_STRING else text
    # the other exact built-in types of an alert's details, before the general tests below
    # (``isinstance(value, Mapping)`` is an ABC check: ~1 us per value, most of a details dict)
    if value is None or kind is int or kind is bool:
        return value
    if kind is float:
        return value if value == value and abs(value) != float("inf") else str(value)
    if kind is dict:
        return TRUNCATED if depth >= MAX_DEPTH else sanitise_dict(value, depth + 1)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, str):
        text = redact_text(value)
        return text[:MAX_STRING] + TRUNCATED if len(text) > MAX_STRING else text
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return TRUNCATED
        return sanitise_dict(value, depth + 1)
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            return TRUNCATED
        items = [_clean(v, depth + 1) for v in list(value)[:MAX_KEYS]]
        if len(value) > MAX_KEYS:
            items.append(TRUNCATED)
        return items
    return _clean(str(value), depth)


def sanitise_dict(data: Mapping[Any, Any], depth: int = 0) -> dict[str, Any]:
    """Redact PII (by key name and by pattern) and bound key count and string length, recursively."""
    out: dict[str, Any] = {}
    for i, (key, value) in enumerate(data.items()):
        if i >= MAX_KEYS:
            out["_truncated"] = True
            break
        name = (key if type(key) is str else str(key))[:128]
        out[name] = REDACTED if is_pii_key(name) and value not in (None, "") else _clean(value, depth)
    return out


def _encoded(data: Mapping[str, Any]) -> bytes:
    """Compact JSON: orjson (~5x faster than the standard encoder on an alert's details); the
    standard encoder for what orjson refuses (integers beyond 64 bits, lone surrogates)."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _JSON.encode(data).encode()


def details_json(details: Mapping[str, Any]) -> str:
    """The ``details`` field: sanitised JSON text of at most :data:`MAX_DETAILS_BYTES` bytes."""
    clean = sanitise_dict(details)
    data = _encoded(clean)
    if len(data) <= MAX_DETAILS_BYTES:
        return data.decode()
    # Too big: drop keys from the end until it fits, keeping the marker.
    keys = list(clean)
    while keys:
        keys.pop()
        smaller = {k: clean[k] for k in keys}
        smaller["_truncated"] = True
        data = _encoded(smaller)
        if len(data) <= MAX_DETAILS_BYTES:
            return data.decode()
    return json.dumps({"_truncated": True, "_error": "details too large"})


def summary_text(text: str) -> str:
    """One line, PII redacted, at most :data:`MAX_SUMMARY` characters."""
    line = redact_text(" ".join(text.split()))
    return line if len(line) <= MAX_SUMMARY else line[: MAX_SUMMARY - 3] + "..."


@dataclass(frozen=True, slots=True)
class Redaction:
    """The label policy of one config version (``redaction:``) on top of the built-in rules."""

    drop: frozenset[str] = frozenset()
    mask: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, section: RedactionSection) -> Redaction:
        return cls(frozenset(section.drop_labels), frozenset(section.mask_labels))

    def label(self, key: str, value: str) -> str | None:
        """The value ``key`` may carry out of the evaluator; None = the label is dropped."""
        if key in self.drop:
            return None
        if key in self.mask or is_pii_key(key):
            return REDACTED if value else value
        text = redact_text(value)
        return text[:MAX_STRING] + TRUNCATED if len(text) > MAX_STRING else text

    def labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in labels.items():
            shown = self.label(key, value)
            if shown is not None:
                out[key] = shown
        return out

    def entity_label(self, key: str, value: str) -> str:
        """A ``group_by`` label inside the entity text: a dropped one shows as masked."""
        shown = self.label(key, value)
        return (REDACTED if value else value) if shown is None else shown


class _RedactingRecord(logging.LogRecord):
    """A log record whose text is redacted when a handler formats it — never before: libraries
    create many records (aiokafka's debug ones) that no handler emits, and formatting those was
    measured at ~0.9 ms CPU per alert.

    The message is redacted in :meth:`getMessage` (arguments applied first); the traceback and
    stack text when the formatter stores them (``exc_text``/``stack_info`` are set through the
    properties below, which redact).
    """

    def getMessage(self) -> str:
        return redact_text(super().getMessage())

    @property
    def exc_text(self) -> str | None:
        return self._exc_text

    @exc_text.setter
    def exc_text(self, text: str | None) -> None:
        self._exc_text = None if text is None else redact_text(text)

    @property
    def stack_info(self) -> str | None:
        return self._stack_info

    @stack_info.setter
    def stack_info(self, text: str | None) -> None:
        self._stack_info = None if text is None else redact_text(text)


def install_log_redaction() -> None:
    """Make every log record of this process pass :func:`redact_text` (message and traceback),
    whichever logger writes it and however the handlers are set up (Faust sets up its own)."""
    logging.setLogRecordFactory(_RedactingRecord)
