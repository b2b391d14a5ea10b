"""Builders for the evaluator's unit tests (pure: no broker)."""

from __future__ import annotations

from typing import Any

from alertstream.schemas.events import DriftEvent, MetricEvent
from alertstream.schemas.rules_config import Rule

T0 = 1_700_000_000_000  # a fixed event time (ms) so bucket arithmetic is deterministic


def rule(**kw: Any) -> Rule:
    base: dict[str, Any] = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "warning": 70, "critical": 90}
    base.update(kw)
    return Rule.model_validate({k: v for k, v in base.items() if v is not None})


def metric(value: float, at: int = T0, *, source: str = "h1", tenant: str = "acme", **kw: Any) -> MetricEvent:
    return MetricEvent(
        event_id=kw.pop("event_id", f"e{at}-{value}"),
        tenant=tenant,
        metric=kw.pop("metric", "cpu_percent"),
        value=value,
        source=source,
        occurred_at=at,
        labels=kw.pop("labels", {}),
    )


def drift(baseline: float, current: float, at: int = T0, **kw: Any) -> DriftEvent:
    return DriftEvent(
        event_id=kw.pop("event_id", f"d{at}"),
        tenant=kw.pop("tenant", "acme"),
        drift_type=kw.pop("drift_type", "DENIAL_RATE"),
        payer=kw.pop("payer", "Aetna"),
        cpt_group=kw.pop("cpt_group", "E&M"),
        baseline_value=baseline,
        current_value=current,
        sample_count=kw.pop("sample_count", 100),
        occurred_at=at,
    )
