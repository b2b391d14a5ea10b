"""Receivers from the config with their secrets loaded from the environment/files (never logged)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from alertstream.consumers.model import Task
from alertstream.consumers.signing import SigningSecret
from alertstream.schemas.errors import PermanentDeliveryError, RetryableDeliveryError
from alertstream.schemas.receivers_config import Receiver, url_env_problem

log = logging.getLogger(__name__)
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class Secret:
    """A secret string whose repr/str never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass
class ResolvedReceiver:
    config: Receiver
    url: Secret | None = None
    signing: list[SigningSecret] = field(default_factory=list)
    routing_key: Secret | None = None
    smtp_password: Secret | None = None
    #: Why this receiver cannot be used (a missing secret), checked per task ...
    problem: str | None = None
    #: ... and the permanent failure reason its tasks then get.
    problem_reason: str = "missing_secret"

    @property
    def name(self) -> str:
        return self.config.name


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def resolve(receiver: Receiver) -> ResolvedReceiver:
    """Load a receiver's secrets; a missing one is recorded as a problem, not raised."""
    out = ResolvedReceiver(config=receiver)
    try:
        if receiver.url_env:
            value = _env(receiver.url_env)
            if value is None:
                raise ValueError(f"environment variable {receiver.url_env} (url) is not set")
            refused = url_env_problem(receiver, value)  # the rule `config validate` applies to url
            if refused is not None:
                out.problem, out.problem_reason = refused, "ssrf_refused"
                log.error("receiver %s unusable: %s", receiver.name, refused)
                return out
            out.url = Secret(value)
        elif receiver.url:
            out.url = Secret(receiver.url)
        elif receiver.channel == "pagerduty":
            out.url = Secret(PAGERDUTY_EVENTS_URL)
        for env in receiver.secret_env:
            value = _env(env)
            if value is None:
                raise ValueError(f"environment variable {env} (signing secret) is not set")
            out.signing.append(SigningSecret.parse(value))
        for file in receiver.secret_file:
            try:
                text = Path(file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"cannot read signing secret file {file}: {exc.strerror}") from None
            out.signing.append(SigningSecret.parse(text))
        if receiver.routing_key_env:
            value = _env(receiver.routing_key_env)
            if value is None:
                raise ValueError(f"environment variable {receiver.routing_key_env} (routing key) is not set")
            out.routing_key = Secret(value)
        if receiver.smtp and receiver.smtp.password_env:
            value = _env(receiver.smtp.password_env)
            if value is None:
                raise ValueError(f"environment variable {receiver.smtp.password_env} (SMTP password) is not set")
            out.smtp_password = Secret(value)
    except ValueError as exc:
        out.problem = str(exc)
        log.error("receiver %s unusable: %s", receiver.name, exc)
    return out


class ReceiverBook:
    """The receivers of one channel by name, as of one config ``version``.

    The book follows live config (:mod:`alertstream.consumers.receiver_feed`): :meth:`replace` swaps the whole
    mapping in one assignment, so a delivery sees either the old or the new receivers, never a mix.
    """

    def __init__(self, receivers: list[Receiver], channel: str, version: int) -> None:
        self.channel = channel
        self.version = version
        self._by_name = self._resolve(receivers)

    def _resolve(self, receivers: list[Receiver]) -> dict[str, ResolvedReceiver]:
        return {r.name: resolve(r) for r in receivers if r.channel == self.channel}

    def replace(self, receivers: list[Receiver], version: int) -> None:
        """Switch to the receivers of config ``version`` (secrets are loaded again)."""
        by_name = self._resolve(receivers)
        self._by_name, self.version = by_name, version

    def for_task(self, task: Task) -> ResolvedReceiver:
        """The receiver a task names.

        An unknown name is permanent unless the alert was routed under a newer config than this
        book has seen: then the receiver was probably added by a live config change that has not
        reached this process yet, and the task is retried instead of dead-lettered.
        """
        name = task["receiver"]
        by_name, version = self._by_name, self.version
        r = by_name.get(name)
        if r is None:
            routed_under = int(task["alert"].get("rule_version") or 0)
            if routed_under > version:
                raise RetryableDeliveryError(
                    "config_behind", f"no {self.channel} receiver named {name[:128]!r} in config version {version}"
                )
            raise PermanentDeliveryError("unknown_receiver", f"no {self.channel} receiver named {name[:128]!r}")
        if r.problem:
            raise PermanentDeliveryError(r.problem_reason, r.problem)
        return r

    def names(self) -> list[str]:
        return sorted(self._by_name)
