"""The lifecycle's view of one config version, compiled once per version — pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alertstream.schemas.config import AlertstreamConfig
from alertstream.schemas.lifecycle_config import EscalationPolicy, Heartbeat
from alertstream.schemas.oncall import Schedule, on_call
from alertstream.schemas.rules_config import Rule
from alertstream.schemas.time_intervals import NamedTimeInterval
from alertstream.streams.routing import Router
from alertstream.streams.sanitise import Redaction
from alertstream.streams.suppression import CompiledInhibit, RouteMute


@dataclass(frozen=True)
class LifecycleConfig:
    version: int = 0
    intervals: Mapping[str, NamedTimeInterval] = field(default_factory=dict)
    inhibit: tuple[CompiledInhibit, ...] = ()
    policies: Mapping[str, EscalationPolicy] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    heartbeats: tuple[Heartbeat, ...] = ()
    rules: Mapping[str, Rule] = field(default_factory=dict)
    receivers: Mapping[str, str] = field(default_factory=dict)  # name -> channel
    router: Router = field(default_factory=lambda: Router(None, {}))
    redaction: Redaction = field(default_factory=Redaction)

    @classmethod
    def from_config(cls, config: AlertstreamConfig) -> LifecycleConfig:
        receivers = {r.name: r.channel for r in config.receivers}
        return cls(
            version=config.version,
            intervals={t.name: t for t in config.time_intervals},
            inhibit=tuple(CompiledInhibit.of(r) for r in config.inhibit_rules),
            policies={p.name: p for p in config.escalation_policies},
            schedules={s.name: s for s in config.schedules},
            heartbeats=tuple(config.heartbeats),
            rules={r.id: r for r in config.rules},
            receivers=receivers,
            router=Router(config.routes, receivers),
            redaction=Redaction.from_config(config.redaction),
        )

    def heartbeat(self, rule_id: str) -> Heartbeat | None:
        return next((h for h in self.heartbeats if h.id == rule_id), None)

    def on_call(self, schedule: str, at_ms: int) -> str | None:
        s = self.schedules.get(schedule)
        if s is None:
            return None
        return on_call(s, datetime.fromtimestamp(at_ms / 1000, tz=UTC)).participant

    def resolved_routes(self, template: Mapping[str, Any]) -> list[dict[str, str]]:
        """The routes of the resolution of the episode whose last firing record is ``template``."""
        routes = self.router.routes(
            str(template["tenant"]),
            str(template["severity"]),
            str(template["rule_id"]),
            "resolved",
            template.get("labels") or {},
            str(template.get("entity") or ""),
        )
        return [{"receiver": r.receiver, "channel": r.channel} for r in routes]

    def route_info(
        self, tenant: str, severity: str, rule_id: str, labels: Mapping[str, str], entity: str = ""
    ) -> tuple[list[RouteMute], str | None]:
        """The firing routes with their nodes' time intervals, and the first escalation policy."""
        mutes: list[RouteMute] = []
        policy: str | None = None
        for route, node in self.router.matched(tenant, severity, rule_id, "firing", labels, entity):
            mutes.append(
                RouteMute(
                    route.receiver, route.channel, tuple(node.mute_time_intervals), tuple(node.active_time_intervals)
                )
            )
            if policy is None and node.escalation_policy:
                policy = node.escalation_policy
        return mutes, policy
