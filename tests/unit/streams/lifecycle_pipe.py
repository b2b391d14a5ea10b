"""A worker without Kafka for the lifecycle's unit tests: evaluator + lifecycle over dicts, applied
in the worker's order (alerts, entries and firing view, rows)."""

from __future__ import annotations

import json
from typing import Any

from alertstream.schemas.actions import Action, ActionKind, new_action
from alertstream.schemas.config import parse_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.matchers import parse_matchers
from alertstream.schemas.silences import Silence, new_silence
from alertstream.streams.evaluator import Compiled, Evaluator, StoredState
from alertstream.streams.lifecycle import Lifecycle
from alertstream.streams.lifecycle_config import LifecycleConfig
from alertstream.streams.lifecycle_state import Changes
from tests.unit.streams.helpers import T0

RECEIVERS = [
    {"name": "hook", "channel": "webhook", "url": "https://hooks.example.com/a"},
    {"name": "pager", "channel": "pagerduty", "routing_key_env": "PD_KEY"},
    {"name": "chat", "channel": "slack", "url_env": "SLACK_URL"},
    {"name": "lead", "channel": "webhook", "url": "https://hooks.example.com/lead"},
    {"name": "alice", "channel": "webhook", "url": "https://hooks.example.com/alice"},
]


def doc(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "rules": [
            {"id": "cpu", "metric": "cpu_percent", "warning": 70, "critical": 90, "clear": 60},
            {"id": "db-pool-saturated", "metric": "db_pool", "critical": 0.9, "clear": 0.5},
            {"id": "api-latency-high", "metric": "latency", "warning": 1, "clear": 0.5},
        ],
        "receivers": RECEIVERS,
        "routes": {"receiver": "hook"},
    }
    base.update(extra)
    return base


class Pipe:
    def __init__(self, config: dict[str, Any]) -> None:
        parsed = parse_config(config, "test")
        self.now = T0 / 1000
        self.evaluator = Evaluator(Compiled.from_config(parsed), clock=lambda: self.now)
        self.lifecycle = Lifecycle(LifecycleConfig.from_config(parsed), clock=lambda: self.now)
        self.state: dict[str, StoredState] = {}
        self.entries: dict[str, Any] = {}
        self.sent: list[dict[str, Any]] = []
        self.last = Changes()
        self.looked_at = 0

    def at(self, ms: int) -> Pipe:
        self.now = ms / 1000
        return self

    def event(
        self,
        value: float,
        *,
        metric: str = "cpu_percent",
        source: str = "db-1",
        tenant: str = "acme",
        at: int | None = None,
        **labels: str,
    ) -> list[dict[str, Any]]:
        when = at if at is not None else int(self.now * 1000)
        e = MetricEvent(f"e-{metric}-{source}-{when}", tenant, metric, value, source, when, labels)
        result = self.evaluator.process([(0, e)], self.state.get)
        return self._apply(self.lifecycle.after_batch([(0, e)], result, self.state.get, self.entries.get))

    def batch(self, *values: float, gap: int = 1000) -> list[dict[str, Any]]:
        """One batch of cpu_percent events of db-1, ``gap`` ms apart from now."""
        start = int(self.now * 1000)
        events = [
            (0, MetricEvent(f"b-{start + i * gap}", "acme", "cpu_percent", v, "db-1", start + i * gap, {}))
            for i, v in enumerate(values)
        ]
        result = self.evaluator.process(events, self.state.get)
        return self._apply(self.lifecycle.after_batch(events, result, self.state.get, self.entries.get))

    def tick(self, at_ms: int | None = None) -> list[dict[str, Any]]:
        """The worker's one-second step (:meth:`Lifecycle.step`: watched entries, sweeps), all
        partitions owned; ``looked_at`` counts the episodes it read."""
        if at_ms is not None:
            self.at(at_ms)
        self.looked_at = 0

        def get_state(fp: str) -> StoredState | None:
            self.looked_at += 1
            return self.state.get(fp)

        changes = self.lifecycle.step({}, list(self.entries.items()), get_state, self.entries.get, lambda _p: True)
        return self._apply(changes)

    def act(self, kind: ActionKind, fp: str, at: int | None = None, actor: str = "api-key:k1") -> list[dict[str, Any]]:
        action = new_action(kind, fp, "acknowledged-tenant", actor, at or int(self.now * 1000), "looking")
        return self.apply(action)

    def apply(self, action: Action) -> list[dict[str, Any]]:
        return self._apply(
            self.lifecycle.apply(action, self.state[action.fingerprint], self.entries.get(action.fingerprint))
        )

    def silence(self, matchers: str, start: int, end: int) -> Silence:
        s = new_silence(parse_matchers(matchers), start, end, "ops", "maintenance", start)
        self.lifecycle.put_silence(s)
        return s

    def _apply(self, changes: Changes) -> list[dict[str, Any]]:
        self.last = changes
        records = [a.record for a in changes.alerts]
        self.sent += records
        for fp, (_p, value) in changes.entries.items():
            if value is None:
                self.entries.pop(fp, None)
            else:
                self.entries[fp] = value
        for fp, labels in changes.firing.items():
            if labels is None:
                self.lifecycle.view.drop(fp)
            else:
                self.lifecycle.view.put(fp, labels)
        for fp, (p, row) in changes.writes.items():
            if row is None:
                self.state.pop(fp, None)
            else:
                self.state[fp] = [p, row]
        return records


def brief(records: list[dict[str, Any]]) -> list[tuple[str, str, str, list[str]]]:
    """(status, event, details.reason, receivers) per record."""
    return [
        (
            r["status"],
            r.get("event", "notify"),
            json.loads(r["details"])["reason"],
            [x["receiver"] for x in r["routes"]],
        )
        for r in records
    ]
