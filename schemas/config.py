"""The configuration file (``ALERTSTREAM_CONFIG``): topics, rules, routes, receivers, delivery.

Config is data with a schema: :func:`load_config` validates the whole file and raises one
:class:`~alertstream.schemas.errors.ConfigError` that names the file, the path inside it (``rules[2].critical``)
and the problem, for *every* problem at once. Secrets are never in the file: receivers name the
environment variable or file that holds them.

Each stage owns its section's model: :mod:`alertstream.schemas.rules_config` (rules, routes) for the
evaluator and :mod:`alertstream.schemas.receivers_config` (receivers, retry tiers) for the consumers; this
module composes them with the topic settings every process shares.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from alertstream.schemas.codec import DEFAULT_MAX_BYTES
from alertstream.schemas.errors import ConfigError
from alertstream.schemas.history_config import HistorySection
from alertstream.schemas.lifecycle_config import EscalationPolicy, Heartbeat, InhibitRule
from alertstream.schemas.lifecycle_problems import lifecycle_problems
from alertstream.schemas.oncall import Schedule
from alertstream.schemas.receivers_config import DeliverySection, Receiver
from alertstream.schemas.rules_config import (
    RateLimitSection,
    RedactionSection,
    RouteNode,
    Rule,
    match_problems,
    route_nodes,
)
from alertstream.schemas.time_intervals import NamedTimeInterval
from alertstream.schemas.topics import CHANNELS, is_dlq, is_retry_tier

EXAMPLE_CONFIG = Path(__file__).resolve().parent / "example-config.yaml"
DAY_MS = 86_400_000
log = logging.getLogger(__name__)


class Strict(BaseModel):
    """Base for config models: unknown keys are errors (a typo must not silently do nothing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicSpec(Strict):
    partitions: int | None = Field(default=None, ge=1, le=10_000)
    replication: int | None = Field(default=None, ge=1, le=16)
    cleanup_policy: Literal["delete", "compact", "compact,delete"] | None = None
    retention_ms: int | None = Field(default=None, ge=-1)


class TopicsSection(Strict):
    """Defaults for every topic plus per-topic overrides keyed by the contract name (no prefix)."""

    partitions: int = Field(default=6, ge=1, le=10_000)
    replication: int = Field(default=1, ge=1, le=16)
    #: One limit for the codec (larger input is ``too_large``), every producer (``message.max.bytes``)
    #: and every topic (``max.message.bytes``), so nothing the pipeline accepts can be refused downstream.
    max_message_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=64 * 1024, le=64 * 1024 * 1024)
    #: ``retention.ms`` of every ``alerts.<channel>.dlq`` at creation: long enough to notice and
    #: replay after a holiday (14 days); ``-1`` keeps forever.
    dlq_retention_ms: int = Field(default=14 * DAY_MS, ge=-1)
    #: ``retention.ms`` of every retry tier at creation (7 days): must be longer than twice the
    #: longest wait a task can have on a tier (see :func:`retention_problems`).
    retry_retention_ms: int = Field(default=7 * DAY_MS, ge=-1)
    overrides: dict[str, TopicSpec] = Field(default_factory=dict)

    def retention_ms(self, base: str) -> int | None:
        """``retention.ms`` of topic ``base`` (contract name) at creation: its override, else the
        DLQ / retry-tier default, else None (the broker's default)."""
        spec = self.overrides.get(base)
        if spec is not None and spec.retention_ms is not None:
            return spec.retention_ms
        if is_dlq(base):
            return self.dlq_retention_ms
        if is_retry_tier(base):
            return self.retry_retention_ms
        return None


class AlertstreamConfig(Strict):
    version: int = Field(default=1, ge=1, description="Bumped on every change; alerts record it.")
    topics: TopicsSection = Field(default_factory=TopicsSection)
    rules: list[Rule] = Field(default_factory=list)
    routes: RouteNode | None = None
    rate_limits: RateLimitSection = Field(default_factory=RateLimitSection)
    redaction: RedactionSection = Field(default_factory=RedactionSection)
    receivers: list[Receiver] = Field(default_factory=list)
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    history: HistorySection = Field(default_factory=HistorySection)
    # the alert lifecycle (schemas/lifecycle_config.py, time_intervals.py, oncall.py)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    heartbeats: list[Heartbeat] = Field(default_factory=list)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union")) or part in {"union"}:
            continue  # pydantic's internal union branch names say nothing to a user
        else:
            out += f".{part}" if out else str(part)
    return out


def route_problems(root: RouteNode | None, receiver_names: Collection[str]) -> list[tuple[str, str]]:
    """Every route that names a receiver the config does not define, as (path, problem)."""
    return [
        (f"{path}.receiver", f"unknown receiver {node.receiver!r}")
        for path, node in route_nodes(root)
        if node.receiver is not None and node.receiver not in receiver_names
    ]


def cross_problems(config: AlertstreamConfig) -> list[tuple[str, str]]:
    """Problems no single section can see: names that must be unique, routes naming receivers."""
    problems: list[tuple[str, str]] = []
    for section, names in (("rules", [r.id for r in config.rules]), ("receivers", [r.name for r in config.receivers])):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                field = "id" if section == "rules" else "name"
                problems.append((f"{section}[{i}].{field}", f"duplicate {field} {name!r}"))
            seen.add(name)
    return (
        problems
        + route_problems(config.routes, {r.name for r in config.receivers})
        + match_problems(config.routes)
        + retention_problems(config)
        + lifecycle_problems(config)
    )


def longest_retry_wait_ms(delivery: DeliverySection) -> int:
    """The longest a task can be due after it was written to a retry tier: the longest tier delay
    with full jitter, or the longest ``Retry-After`` honoured, whichever is longer."""
    longest = max(max(delivery.retry_delays_seconds) * (1 + delivery.jitter), delivery.max_retry_after_seconds)
    return math.ceil(longest * 1000)


def retention_problems(config: AlertstreamConfig) -> list[tuple[str, str]]:
    """Retry tiers whose retention could delete a task before it is due. Twice the longest wait:
    a task can also wait behind the head of its partition (which pauses until *it* is due)."""
    floor = 2 * longest_retry_wait_ms(config.delivery)
    t = config.topics
    tiers = len(config.delivery.retry_delays_seconds)
    checked = [("topics.retry_retention_ms", t.retry_retention_ms)]
    for ch in CHANNELS:
        for n in range(1, tiers + 1):
            spec = t.overrides.get(f"alerts.{ch}.retry.{n}")
            if spec is not None and spec.retention_ms is not None:
                checked.append((f"topics.overrides.alerts.{ch}.retry.{n}.retention_ms", spec.retention_ms))
    return [
        (path, f"{value} ms is not longer than twice the longest wait on a retry tier ({floor} ms)")
        for path, value in checked
        if value != -1 and value <= floor
    ]


def parse_config(data: Any, source: str) -> AlertstreamConfig:
    """Validate already-parsed YAML/JSON data; ``source`` is used in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [("", f"expected a mapping at the top level, got {type(data).__name__}")])
    try:
        config = AlertstreamConfig.model_validate(data)
    except PydanticValidationError as exc:
        problems = [(_path(err["loc"]), err["msg"]) for err in exc.errors(include_url=False)]
        raise ConfigError(source, problems) from None
    problems = cross_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def parse_published(value: bytes, source: str) -> AlertstreamConfig:
    """A document from the config topic (JSON, as ``config publish`` writes it), validated.

    Workers and deliver processes both read the topic through this, so they accept and refuse
    exactly the same documents.
    """
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise ConfigError(source, [("", f"not JSON: {exc}")]) from None
    return parse_config(data, source)


def accept_published(value: bytes, source: str, in_force: int | None) -> AlertstreamConfig | None:
    """The config topic document to switch to, or None (logged, nothing raised) when it is invalid
    or older than version ``in_force``: one rule for workers and deliver processes alike."""
    try:
        config = parse_published(value, source)
    except ConfigError as exc:
        log.error("ignoring invalid config from %s:\n%s", source, exc)
        return None
    if not supersedes(config.version, in_force):
        log.error(
            "ignoring config version %s from %s: older than version %s in force (versions only move forward)",
            config.version,
            source,
            in_force,
        )
        return None
    return config


def supersedes(version: int, in_force: int | None) -> bool:
    """Config versions only move forward: a document older than the one in force is ignored, or a
    process restarted with a stale file would roll back a live change."""
    return in_force is None or version >= in_force


def load_config(path: str | Path | None = None) -> AlertstreamConfig:
    """Read and validate a YAML config file; ``None`` is the shipped example config."""
    file = Path(path) if path else EXAMPLE_CONFIG
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(file), [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(file), [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    return parse_config(data, str(file))
