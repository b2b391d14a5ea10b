"""Why a firing notification is held back: inhibited, silenced, or muted — pure decisions.

Alertmanager's order and semantics, over an alert's label set (:func:`alertstream.schemas.matchers.alert_labels`):

1. **inhibited** — an inhibit rule whose ``target_matchers`` match the alert, and a *firing* source
   alert (any worker's: :class:`InhibitionView` is fed from the compacted firing topic) that
   matches its ``source_matchers`` and has the same values of the ``equal`` labels (a label missing
   on both sides is equal). An alert never inhibits itself, and when the target also matches the
   source matchers, sources that also match the target matchers are skipped (Alertmanager's
   "two-sided match" rule: two such alerts do not mute each other).
2. **silenced** — an active silence matches (:func:`alertstream.schemas.silences.muting_silence`).
3. **muted** — per route: a ``mute_time_intervals`` entry contains now, or the route has
   ``active_time_intervals`` and none contains now. Only the muted routes are dropped; the alert is
   held when every route is.

The result is a :class:`Hold` naming the cause (``inhibited`` + rule name, ``silenced`` + silence id,
``muted`` + interval), which the lifecycle records on the alert and in its audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from alertstream.schemas.lifecycle_config import InhibitRule
from alertstream.schemas.matchers import Matcher, matches_all
from alertstream.schemas.silences import Silence, muting_silence
from alertstream.schemas.time_intervals import NamedTimeInterval, muting


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a notification is held: ``reason`` (``inhibited``, ``silenced``, ``muted``,
    ``acknowledged``) and what did it (rule name, silence id, interval, actor)."""

    reason: str
    ref: str

    @property
    def key(self) -> str:
        return f"{self.reason}:{self.ref}"

    def facts(self) -> dict[str, str]:
        name = {"inhibited": "inhibit_rule", "silenced": "silence_id", "muted": "time_interval"}.get(self.reason, "by")
        return {"reason": self.reason, name: self.ref}


@dataclass(frozen=True, slots=True)
class CompiledInhibit:
    name: str
    sources: tuple[Matcher, ...]
    targets: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def of(cls, rule: InhibitRule) -> CompiledInhibit:
        return cls(rule.name, tuple(rule.sources()), tuple(rule.targets()), tuple(rule.equal))


class InhibitionView:
    """The firing alerts of every worker (fingerprint → label set), indexed per inhibit rule.

    Fed from the compacted firing topic (:meth:`put` / :meth:`drop`); asked for every firing
    notification and for every held alert on each lifecycle tick."""

    def __init__(self, rules: Sequence[CompiledInhibit] = ()) -> None:
        self.firing: dict[str, dict[str, str]] = {}
        self._rules: tuple[CompiledInhibit, ...] = ()
        self._sources: dict[str, dict[str, dict[str, str]]] = {}
        self.set_rules(rules)

    def set_rules(self, rules: Sequence[CompiledInhibit]) -> None:
        if tuple(rules) == self._rules:
            return
        self._rules = tuple(rules)
        self._sources = {r.name: {} for r in self._rules}
        for fp, labels in self.firing.items():
            self._index(fp, labels)

    def _index(self, fp: str, labels: dict[str, str]) -> None:
        for rule in self._rules:
            if matches_all(rule.sources, labels):
                self._sources[rule.name][fp] = labels

    def put(self, fp: str, labels: Mapping[str, str]) -> None:
        self.drop(fp)
        self.firing[fp] = dict(labels)
        self._index(fp, self.firing[fp])

    def drop(self, fp: str) -> None:
        if self.firing.pop(fp, None) is not None:
            for sources in self._sources.values():
                sources.pop(fp, None)

    def inhibiting(self, fp: str, labels: Mapping[str, str]) -> str | None:
        """The name of the first rule that inhibits the alert ``fp`` with ``labels``, or None."""
        for rule in self._rules:
            if not matches_all(rule.targets, labels):
                continue
            two_sided = matches_all(rule.sources, labels)
            for source_fp, source in self._sources[rule.name].items():
                if source_fp == fp:
                    continue
                if two_sided and matches_all(rule.targets, source):
                    continue
                if all(source.get(name, "") == labels.get(name, "") for name in rule.equal):
                    return rule.name
        return None


@dataclass(frozen=True, slots=True)
class RouteMute:
    """One route of an alert with the time intervals of the node it came from."""

    receiver: str
    channel: str
    mute: tuple[str, ...] = ()
    active: tuple[str, ...] = ()


def route_mutes(routes: Iterable[RouteMute], intervals: Mapping[str, NamedTimeInterval], now_ms: int) -> dict[str, str]:
    """receiver → why it is muted now (``mute:<name>`` / ``inactive:<names>``), for muted routes."""
    at = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    out: dict[str, str] = {}
    for r in routes:
        if r.mute or r.active:
            why = muting(intervals, r.mute, r.active, at)
            if why is not None:
                out[r.receiver] = why
    return out


def decide(
    fp: str,
    labels: Mapping[str, str],
    view: InhibitionView,
    silences: Iterable[Silence],
    routes: Sequence[RouteMute],
    intervals: Mapping[str, NamedTimeInterval],
    now_ms: int,
) -> tuple[Hold | None, dict[str, str]]:
    """(the hold, or None) and the muted routes (receiver → why) of a firing notification now."""
    rule = view.inhibiting(fp, labels)
    if rule is not None:
        return Hold("inhibited", rule), {}
    silence = muting_silence(silences, labels, now_ms)
    if silence is not None:
        return Hold("silenced", silence.id), {}
    muted = route_mutes(routes, intervals, now_ms)
    if routes and len(muted) == len(routes):
        return Hold("muted", sorted(set(muted.values()))[0].split(":", 1)[1]), muted
    return None, muted
