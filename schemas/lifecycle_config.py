"""Config models of the alert lifecycle: inhibition, escalation policies, heartbeats, missing data.

Sections of the config file (composed into :class:`~alertstream.schemas.config.AlertstreamConfig`)::

    inhibit_rules:                   # Alertmanager's inhibit_rules, same semantics
      - name: db-pool-hides-latency
        source_matchers: ['alertname="db-pool-saturated"', 'severity="critical"']
        target_matchers: ['alertname="api-latency-high"', 'severity="warning"']
        equal: [tenant]
    escalation_policies:             # Grafana OnCall's escalation chains
      - name: db-oncall
        steps:
          - {notify_on_call: db-primary}
          - {wait_seconds: 300}
          - {notify: db-lead-pager}
        repeat: 1                    # walk the steps once more after the last one
    heartbeats:                      # a source that reported and then went quiet raises an alert
      - {id: collector-heartbeat, metric: cpu_percent, after_seconds: 300, severity: warning}

Rules gain ``missing_data:`` (:class:`MissingData`), route nodes ``mute_time_intervals``,
``active_time_intervals`` and ``escalation_policy``; ``time_intervals:`` is
:mod:`alertstream.schemas.time_intervals` and ``schedules:`` :mod:`alertstream.schemas.oncall`.
Matchers are the Alertmanager strings of :mod:`alertstream.schemas.matchers`; one that does not
parse is a config error at its path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertstream.schemas.matchers import Matcher, MatcherError, parse_matcher

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parsed(texts: list[str]) -> list[str]:
    for text in texts:
        try:
            parse_matcher(text)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
    return texts


class InhibitRule(_Strict):
    """A firing alert matching ``source_matchers`` mutes the alerts matching ``target_matchers``
    whose ``equal`` labels have the same values (missing on both sides counts as equal); an alert
    never inhibits itself."""

    name: str = Field(min_length=1, max_length=128, pattern=_NAME)
    source_matchers: list[str] = Field(min_length=1)
    target_matchers: list[str] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _matchers_parse(cls, texts: list[str]) -> list[str]:
        return _parsed(texts)

    def sources(self) -> list[Matcher]:
        return [parse_matcher(t) for t in self.source_matchers]

    def targets(self) -> list[Matcher]:
        return [parse_matcher(t) for t in self.target_matchers]


class EscalationStep(_Strict):
    """Exactly one of: ``notify`` (a receiver), ``notify_on_call`` (a schedule: whoever is on call
    when the step runs), ``wait_seconds``."""

    notify: str | None = Field(default=None, min_length=1)
    notify_on_call: str | None = Field(default=None, min_length=1)
    wait_seconds: float | None = Field(default=None, gt=0, le=7 * 86_400)

    @model_validator(mode="after")
    def _one(self) -> EscalationStep:
        if sum(x is not None for x in (self.notify, self.notify_on_call, self.wait_seconds)) != 1:
            raise ValueError("a step is exactly one of notify, notify_on_call, wait_seconds")
        return self


class EscalationPolicy(_Strict):
    name: str = Field(min_length=1, max_length=128, pattern=_NAME)
    steps: list[EscalationStep] = Field(min_length=1, max_length=50)
    repeat: int = Field(default=0, ge=0, le=20, description="walk the steps this many more times")


class MissingData(_Strict):
    """What a firing episode does when its events stop for ``after_seconds`` (worker clock):

    * ``resolve_after``: resolved once (reason ``missing_data``), like Alertmanager's resolve_timeout;
    * ``keep_firing``: stays firing, and is not expired while it does;
    * ``nodata``: a separate ``nodata`` alert fires (fingerprint of ``<rule>:nodata``), resolved when
      the events come back.
    """

    policy: Literal["resolve_after", "keep_firing", "nodata"]
    after_seconds: float = Field(gt=0, le=30 * 86_400)


class Heartbeat(_Strict):
    """A source that reported (an event matching ``metric``/``tenant``/``labels``; any metric when
    unset) and then stays silent for ``after_seconds`` raises ``id``; it resolves when the source
    reports again. Sources are identified by tenant + source (the events' key)."""

    id: str = Field(min_length=1, max_length=128, pattern=_NAME)
    metric: str | None = Field(default=None, min_length=1)
    tenant: str | None = Field(default=None, min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    after_seconds: float = Field(gt=0, le=30 * 86_400)
    severity: Literal["critical", "warning", "info"] = "warning"
    description: str = Field(default="", max_length=512)
