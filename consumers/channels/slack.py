"""Slack channel: incoming-webhook JSON (text fallback + Block Kit), same HTTP safety as webhooks."""

from __future__ import annotations

from alertstream.consumers.model import Task
from alertstream.consumers.receivers import ResolvedReceiver
from alertstream.consumers.render import slack_body


def render(task: Task, receiver: ResolvedReceiver) -> tuple[bytes, dict[str, str]]:
    return slack_body(task["alert"], receiver.config.link_template), {}
