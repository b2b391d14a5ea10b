"""Label matchers with Alertmanager's semantics, and the label set of an alert they match.

One matcher language for everything that selects alerts by their labels — silences, inhibition
rules, route ``matchers`` and the Alertmanager API v2 compatibility (amtool sends these) — so a
matcher means the same thing everywhere:

* ``name="value"`` equal, ``name!="value"`` not equal, ``name=~"regex"`` matches,
  ``name!~"regex"`` does not match. Regexes are anchored at both ends (``=~"web.*"`` does not
  match ``myweb1``), as in Prometheus and Alertmanager.
* A label the alert does not have is the empty string: ``severity!="critical"`` matches an alert
  without ``severity``, ``team=""`` matches one without ``team``.
* A list of matchers matches when every one does (an empty list matches everything).

The label set of an alertstream alert (:func:`alert_labels`) is its event labels plus the names
operators and amtool expect — ``alertname`` (= the rule id, Alertmanager's convention), ``rule``,
``tenant``, ``severity`` and ``entity`` — which take precedence over event labels of the same name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Op = Literal["=", "!=", "=~", "!~"]
OPS: tuple[Op, ...] = ("=~", "!~", "!=", "=")  # longest first, for parsing
#: Names every alertstream alert carries in its label set (they override event labels).
RESERVED = ("alertname", "rule", "tenant", "severity", "entity")
MAX_VALUE = 1024

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*\Z")  # \Z: `$` also matches before a final newline


class MatcherError(ValueError):
    """A matcher that does not parse or whose regex does not compile (the message says which)."""


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(f"^(?:{pattern})\\Z")  # Go's `$`: the very end (Python's also matches before a final newline)
    except re.error as exc:
        raise MatcherError(f"invalid regex {pattern!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: Op
    value: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise MatcherError(f"invalid label name {self.name!r}")
        if len(self.value) > MAX_VALUE:
            raise MatcherError(f"value of {self.name!r} longer than {MAX_VALUE} characters")
        if self.op in ("=~", "!~"):
            _compiled(self.value)  # fail at creation, not at the first alert

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        """Alertmanager API v2's ``isEqual``: false for the negative operators."""
        return self.op in ("=", "=~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        have = labels.get(self.name, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        hit = _compiled(self.value).match(have) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'

    # -- Alertmanager API v2 shape: {"name", "value", "isRegex", "isEqual"} ------------------------

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Matcher:
        try:
            name, value = str(data["name"]), str(data["value"])
        except KeyError as exc:
            raise MatcherError(f"matcher without {exc.args[0]!r}") from None
        regex, equal = bool(data.get("isRegex", False)), bool(data.get("isEqual", True))
        op: Op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
        return cls(name, op, value)


def parse_matcher(text: str) -> Matcher:
    """``name="value"`` (quotes optional for simple values), with any of the four operators.

    The operator is the earliest one in the text (the longest at that position: ``!=`` before
    ``=``), so an ``=`` inside the value is part of the value."""
    text = text.strip()
    positions = [p for p in (text.find(op) for op in OPS) if p > 0]
    if not positions:
        raise MatcherError(f"{text!r} is not a matcher (name=value, name!=value, name=~regex, name!~regex)")
    start = min(positions)
    op = next(o for o in OPS if text.startswith(o, start))
    return Matcher(text[:start].strip(), op, _unquote(text[start + len(op) :].strip()))


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        body = raw[1:-1]
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)
    return raw


def parse_matchers(text: str) -> list[Matcher]:
    """``{a="1", b=~"x|y"}`` or ``a="1",b=~"x|y"``: comma-separated, commas inside quotes kept."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    parts, current, quote, escaped = [], [], "", False
    for ch in body:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            current.append(ch)
            quote = ch
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote:
        raise MatcherError(f"unterminated quote in {text!r}")
    parts.append("".join(current))
    return [parse_matcher(p) for p in parts if p.strip()]


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def alert_labels(alert: Mapping[str, Any]) -> dict[str, str]:
    """The label set matchers see for an Alert record (or anything with its fields)."""
    labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
    rule = str(alert.get("rule_id") or "")
    labels.update(
        alertname=rule,
        rule=rule,
        tenant=str(alert.get("tenant") or ""),
        severity=str(alert.get("severity") or ""),
        entity=str(alert.get("entity") or ""),
    )
    return labels
