"""No PII leaves a real worker process: not in the Alert record on `alerts`, not in its log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.events import MetricEvent
from alertstream.streams.fingerprint import fingerprint
from tests.integration.streams.worker_proc import (
    CODEC,
    WorkerProcess,
    publish,
    settled_alerts,
    start_worker,
    warm_up,
    write_config,
)

pytestmark = pytest.mark.integration

EMAIL, SSN, PHONE, NAME = "jane.doe@example.com", "123-45-6789", "555-867-5309", "Jane Q Public"
MRN, BED = "MRN-0042-CANARY", "BED-7-CANARY"
CANARIES = (EMAIL, SSN, PHONE, NAME, MRN, BED)


def test_canaries_reach_neither_the_alerts_nor_the_worker_log(
    settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    rule = {"id": "cpu", "metric": "cpu_percent", "operator": ">", "warning": 70, "group_by": ["mrn", "bed"]}
    config = write_config(tmp_path / "c.yaml", [rule], redaction={"drop_labels": ["bed"], "mask_labels": ["mrn"]})
    w = start_worker(workers, settings, config)
    warm_up(settings, w)
    now = int(time.time() * 1000) - 5000
    labels = {"patient_name": NAME, "note": f"ssn {SSN}, call {PHONE}", "mrn": MRN, "bed": BED, "env": "prod"}
    source = f"ward/{EMAIL}"
    events = [
        MetricEvent("pii-1", "acme", "cpu_percent", 80.0, source, now, labels),
        MetricEvent("pii-2", "acme", "cpu_percent", 10.0, source, now + 1000, labels),  # resolves
    ]
    # and an invalid event whose validation detail quotes producer input (a label key)
    bad = {**events[0].to_record(), "event_id": "pii-bad"}
    bad_value = CODEC.encode(c.METRIC_EVENT, {**bad, "labels": {f"{EMAIL} {SSN} {PHONE}": "x\x00"}})
    publish(settings, [*events, (settings.topics.events_metric, b"acme|bad", bad_value)])

    alerts = settled_alerts(settings, w)
    assert [(a["status"], a["severity"]) for a in alerts] == [("firing", "warning"), ("resolved", "warning")]
    for alert in alerts:
        text = json.dumps(alert)
        assert [canary for canary in CANARIES if canary in text] == []
        assert alert["labels"] == {
            "patient_name": "[REDACTED]",
            "note": "ssn XXX-XX-XXXX, call [PHONE_REDACTED]",
            "mrn": "[REDACTED]",
            "env": "prod",
        }
        assert alert["entity"] == "ward/[EMAIL_REDACTED]{bed=[REDACTED],mrn=[REDACTED]}"
        # the identity is the real entity's: still one alert per real entity
        assert alert["fingerprint"] == fingerprint("cpu", "acme", f"{source}{{bed={BED},mrn={MRN}}}")
    assert w.metric("alertstream_events_invalid_total", reason="bad_text") == 1

    # the worker logs a summary of events.invalid, quoting the latest detail: wait for that line
    deadline = time.monotonic() + 60
    while "events to events.invalid" not in w.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the worker never logged its events.invalid summary"
        time.sleep(0.5)
    log_text = w.log.read_text(errors="replace")
    assert "[EMAIL_REDACTED] XXX-XX-XXXX [PHONE_REDACTED]" in log_text  # the detail, redacted
    assert [canary for canary in CANARIES if canary in log_text] == []
