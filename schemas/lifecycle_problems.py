"""Cross-checks of the lifecycle sections: every name a route, a policy or a schedule uses exists,
and names are unique — problems as (path, message), like every other config check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from alertstream.schemas.rules_config import route_nodes

if TYPE_CHECKING:
    from alertstream.schemas.config import AlertstreamConfig


def _duplicates(section: str, names: Iterable[str], field: str = "name") -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        if name in seen:
            out.append((f"{section}[{i}].{field}", f"duplicate {field} {name!r}"))
        seen.add(name)
    return out


def lifecycle_problems(config: AlertstreamConfig) -> list[tuple[str, str]]:
    intervals = {t.name for t in config.time_intervals}
    policies = {p.name for p in config.escalation_policies}
    schedules = {s.name for s in config.schedules}
    receivers = {r.name for r in config.receivers}
    problems = (
        _duplicates("time_intervals", (t.name for t in config.time_intervals))
        + _duplicates("inhibit_rules", (r.name for r in config.inhibit_rules))
        + _duplicates("escalation_policies", (p.name for p in config.escalation_policies))
        + _duplicates("schedules", (s.name for s in config.schedules))
        + _duplicates("heartbeats", (h.id for h in config.heartbeats), "id")
    )
    rule_ids = {r.id for r in config.rules}
    for i, h in enumerate(config.heartbeats):
        if h.id in rule_ids:
            problems.append((f"heartbeats[{i}].id", f"{h.id!r} is also a rule id"))
    for path, node in route_nodes(config.routes):
        for key in ("mute_time_intervals", "active_time_intervals"):
            for j, name in enumerate(getattr(node, key)):
                if name not in intervals:
                    problems.append((f"{path}.{key}[{j}]", f"unknown time interval {name!r}"))
        if node.escalation_policy is not None and node.escalation_policy not in policies:
            problems.append((f"{path}.escalation_policy", f"unknown escalation policy {node.escalation_policy!r}"))
    for i, policy in enumerate(config.escalation_policies):
        for j, step in enumerate(policy.steps):
            where = f"escalation_policies[{i}].steps[{j}]"
            if step.notify is not None and step.notify not in receivers:
                problems.append((f"{where}.notify", f"unknown receiver {step.notify!r}"))
            if step.notify_on_call is not None and step.notify_on_call not in schedules:
                problems.append((f"{where}.notify_on_call", f"unknown schedule {step.notify_on_call!r}"))
    for i, schedule in enumerate(config.schedules):
        for name in sorted(set(schedule.participants()) - receivers):
            problems.append((f"schedules[{i}]", f"participant {name!r} is not a receiver"))
    return problems
