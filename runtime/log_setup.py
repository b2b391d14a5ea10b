"""The logging of every process: one handler on stderr, the level and format from the settings.

``ALERTSTREAM_LOG_LEVEL`` (default INFO) is the level of every logger — alertstream's, Faust's and
mode's, aiokafka's, and librdkafka's (confluent-kafka hands its log lines to the
``alertstream.kafka`` logger, :mod:`alertstream.runtime.kafka_clients`). ``ALERTSTREAM_LOG_FORMAT``:

* ``text`` (default): ``2026-12-01 10:00:00,123 INFO alertstream.consumers.deliver: message``;
* ``json``: one JSON object per line — ``time`` (RFC 3339, UTC, ms), ``level``, ``logger``,
  ``message``, ``process`` (the alertstream process: ``worker``, ``deliver-webhook``…), ``pid``,
  ``exception`` (the traceback, when there is one), and the ids a line was given as ``extra``:
  ``fingerprint``, ``alert_id``, ``delivery_id``, ``channel``, ``receiver``, ``tenant``, ``topic``,
  ``partition``, ``offset``, ``group``.

Messages pass through whatever redaction the process installed (the worker's log record factory
redacts PII before any formatter sees it); secrets never reach a log call in the first place.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Record attributes copied into a JSON line when a log call passed them as ``extra``.
ID_FIELDS = (
    "fingerprint",
    "alert_id",
    "delivery_id",
    "channel",
    "receiver",
    "tenant",
    "topic",
    "partition",
    "offset",
    "group",
)
#: Loggers that libraries configure on their own: set explicitly so that they follow the setting too.
_LIBRARIES = ("faust", "mode", "aiokafka", "alertstream.kafka", "httpx", "uvicorn")


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.process,
            "pid": record.process or os.getpid(),
        }
        for name in ID_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(
    level: str = "INFO", fmt: str = "text", process: str = "alertstream", stream: TextIO | None = None
) -> None:
    """Replace the root logger's handlers with one on ``stream`` (stderr) in ``fmt`` at ``level``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(process) if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _LIBRARIES:
        logging.getLogger(name).setLevel(level)
