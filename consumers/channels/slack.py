"""Slack channel: incoming-webhook JSON (text fallback + Block Kit), same HTTP safety as webhooks."""

from __future__ import annotations

from consumers.model import Task
from consumers.receivers import ResolvedReceiver
from consumers.render import slack_body


def render(task: Task, receiver: ResolvedReceiver) -> tuple[bytes, dict[str, str]]:
    return slack_body(task["alert"], receiver.config.link_template), {}
