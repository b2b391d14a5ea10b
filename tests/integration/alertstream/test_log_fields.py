"""What an on-call engineer greps: the JSON log lines of a real worker and deliver that delivered
one alert, retried one and dead-lettered another.

Every line is one JSON object with the documented fields; the retry and dead-letter lines carry the
ids to look the notification up by (fingerprint, alert and delivery id, channel, receiver); and no line
carries a secret (the webhook signing secret, a token in the receiver's URL, the database password)
or the PII in the events (an e-mail address in a label and in the entity).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from typing import Any

import pytest

from alertstream.bench.pipeline import PROBE_METRIC, SECRET_ENV, Pipeline, e2e_config
from alertstream.consumers.db import create_schema, drop_schema
from alertstream.consumers.model import delivery_id
from alertstream.local_stack import StackInfo
from alertstream.streams.sanitise import redact_text
from tests.polling import eventually
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.integration

TOKEN = "tok_" + uuid.uuid4().hex
PASSWORD = "pw_" + uuid.uuid4().hex
EMAIL = "jane.doe@example.com"
FIELDS = {"time", "level", "logger", "message", "process", "pid"}


def _with_password(url: str) -> str:
    """The DSN with a password in it (``postgresql://user@host`` -> ``postgresql://user:PW@host``)."""
    with_pw, n = re.subn(r"^(postgres(?:ql)?://[^:@/]+)@", rf"\1:{PASSWORD}@", url)
    assert n == 1, url
    return with_pw


def test_json_lines_carry_the_ids_and_no_secret_or_pii(stack: StackInfo) -> None:
    prefix = f"logs{uuid.uuid4().hex[:8]}."
    schema = f"t_{uuid.uuid4().hex[:12]}"
    run = uuid.uuid4().hex[:6]
    bad, flaky, good, sentinel = f"{run}/{EMAIL}/bad", f"{run}/flaky", f"{run}/{EMAIL}/good", f"{run}/z"
    failed_once: list[str] = []

    def status(body: dict[str, Any]) -> int:
        """400 for one alert (dead-lettered at once), 503 once for another (a retry), 200 otherwise."""
        if body["entity"].endswith("/bad"):
            return 400
        if body["entity"] == flaky and not failed_once:
            failed_once.append(flaky)
            return 503
        return 200

    with WebhookSink(status=status) as sink:
        config = e2e_config(f"{sink.url}?token={TOKEN}")
        dsn = _with_password(create_schema(stack.database_url, schema))
        pipeline = Pipeline(stack.bootstrap, dsn, prefix, config)
        pipeline.env.update({"ALERTSTREAM_LOG_FORMAT": "json", "ALERTSTREAM_LOG_LEVEL": "DEBUG"})
        try:
            topics = subprocess.run(
                [sys.executable, "-m", "alertstream", "topics", "create"],
                env=pipeline.env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert topics.returncode == 0, topics.stderr
            pipeline.start()

            def publish(*sources: str) -> None:
                lines = [
                    {
                        "tenant": "logs",
                        "metric": PROBE_METRIC,
                        "value": 1.0,
                        "source": s,
                        "labels": {"owner": EMAIL},
                    }
                    for s in sources
                ]
                done = subprocess.run(
                    [sys.executable, "-m", "alertstream", "publish", "events.metric", "-"],
                    input="".join(json.dumps(line) + "\n" for line in lines),
                    capture_output=True,
                    text=True,
                    env=pipeline.env,
                    timeout=120,
                    check=False,
                )
                assert done.returncode == 0, done.stderr

            publish(bad, flaky, good)

            def dead_letter_logged() -> bool:
                return any("dead-lettered" in line.get("message", "") for line in _lines(pipeline, "deliver-0"))

            assert eventually(dead_letter_logged, 180, check=pipeline.check), _tail(pipeline)
            # the retried one arrives from retry tier 1 (10 s later)
            assert eventually(lambda: [b["entity"] for b in sink.bodies].count(flaky) == 2, 120, check=pipeline.check)
            publish(sentinel)  # a later alert delivered: the lines of the first ones are all written by then
            assert eventually(lambda: any(b["entity"] == sentinel for b in sink.bodies), 120, check=pipeline.check)
            # the worker redacts the address out of the alerts themselves
            assert sink.entities() == sorted([*(redact_text(s) for s in (bad, good, sentinel)), flaky, flaky])
        finally:
            pipeline.stop()
            drop_schema(stack.database_url, schema)

    secrets = {"webhook secret": pipeline.env[SECRET_ENV], "URL token": TOKEN, "database password": PASSWORD}
    for name, process in (("worker-0", "worker"), ("deliver-0", "deliver-webhook")):
        text = (pipeline.dir / f"{name}.log").read_text()
        lines = _lines(pipeline, name)
        assert lines, name
        assert len(lines) == len(text.splitlines()), f"{name}: lines that are not JSON objects"
        for line in lines:
            assert set(line) >= FIELDS, (name, line)
            assert line["process"] == process, line
        for what, secret in secrets.items():
            assert secret not in text, f"{name} logged the {what}"
        assert EMAIL not in text, f"{name} logged the e-mail address of an event"
    (dead,) = [line for line in _lines(pipeline, "deliver-0") if "dead-lettered" in line["message"]]
    (refused,) = [b for b in sink.bodies if b["entity"].endswith("/bad")]
    assert dead["level"] == "WARNING"
    assert {k: dead.get(k) for k in ("fingerprint", "alert_id", "channel", "receiver")} == {
        "fingerprint": refused["fingerprint"],
        "alert_id": refused["alert_id"],
        "channel": "webhook",
        "receiver": "sink",
    }
    assert dead.get("delivery_id") == delivery_id(refused["alert_id"], "webhook", "sink"), dead
    (retry,) = [line for line in _lines(pipeline, "deliver-0") if "retry tier" in line["message"]]
    (retried, _) = [b for b in sink.bodies if b["entity"] == flaky]
    assert retry["level"] == "WARNING"
    assert "(http_5xx, HTTP 503): retry tier 1" in retry["message"], retry
    assert retry.get("delivery_id") == delivery_id(retried["alert_id"], "webhook", "sink"), retry
    assert retry.get("fingerprint") == retried["fingerprint"], retry


def _lines(pipeline: Pipeline, name: str) -> list[dict[str, Any]]:
    out = []
    for raw in (pipeline.dir / f"{name}.log").read_text(errors="replace").splitlines():
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            out.append(parsed)
    return out


def _tail(pipeline: Pipeline) -> str:
    return "\n".join(
        f"--- {n}\n" + (pipeline.dir / f"{n}.log").read_text(errors="replace")[-3000:] for n in pipeline.procs
    )
