"""`alertstream publish` end to end on the real broker, read back by our codec and by plain fastavro."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form

from alertstream.runtime.settings import Settings
from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from tests.kafka_reader import read_topic

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _run(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        ALERTSTREAM_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
        ALERTSTREAM_TOPIC_PREFIX=settings.topic_prefix,
    )
    return subprocess.run(
        [sys.executable, "-m", "alertstream", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _metric(i: int) -> dict[str, Any]:
    return {
        "event_id": f"evt-{i}",
        "tenant": f"tenant-{i % 7}",
        "metric": ["cpu_percent", "memory_percent", "api_response_seconds"][i % 3],
        "value": i * 0.25,
        "source": f"host-{i % 13}",
        "labels": {"env": "prod", "i": str(i)},
        "occurred_at": 1_790_000_000_000 + i,
    }


def test_ten_thousand_events_round_trip(settings: Settings, tmp_path: Path) -> None:
    events = [_metric(i) for i in range(10_000)]
    file = tmp_path / "metrics.jsonl"
    file.write_text("".join(json.dumps(e) + "\n" for e in events))

    done = _run(settings, "publish", "events.metric", str(file))
    assert done.returncode == 0, done.stderr
    assert f"published 10000 events to {settings.topics.events_metric}" in done.stdout

    records = read_topic(settings.kafka_bootstrap or "", settings.topics.events_metric, 10_000)
    assert len(records) == 10_000
    codec = Codec()
    decoded = {r["event_id"]: r for r in (codec.decode(rec.value, c.METRIC_EVENT) for rec in records)}
    assert decoded == {e["event_id"]: e for e in events}  # field for field, none missing, none extra
    for rec in records:  # the contract key: tenant + source
        event = decoded[codec.decode(rec.value, c.METRIC_EVENT)["event_id"]]
        assert rec.key == f"{event['tenant']}|{event['source']}".encode()

    # An independent decoder: plain fastavro, the .avsc file, the Avro single-object spec; no project code.
    schema = parse_schema(json.loads((ROOT / "schemas" / "alertstream.v1.MetricEvent.avsc").read_text()))
    expected_fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
    independent = {}
    for rec in records:
        assert rec.value[:2] == b"\xc3\x01"
        assert rec.value[2:10] == expected_fp
        body = io.BytesIO(rec.value[10:])
        record = schemaless_reader(body, schema, None)
        assert body.read() == b""
        assert isinstance(record, dict)
        independent[record["event_id"]] = record
    assert independent == decoded


def test_bad_lines_publish_nothing_unless_skipped(settings: Settings) -> None:
    good = json.dumps(_metric(1))
    lines = [
        good,
        '{"tenant": "acme", "metric": "cpu", "value": NaN, "source": "h"}',
        "",
        "not json",
        json.dumps({**_metric(2), "tenant": ""}),
        json.dumps(_metric(3)),
    ]
    text = "\n".join(lines) + "\n"

    done = _run(settings, "publish", "events.metric", stdin=text)
    assert done.returncode == 1
    assert "<stdin>: line 2: non_finite: value: nan is not a finite number" in done.stderr
    assert "<stdin>: line 4: invalid_json:" in done.stderr
    assert "<stdin>: line 5: empty_field: tenant: must not be empty" in done.stderr
    assert "published 0 of 2 valid lines: 3 bad lines" in done.stderr
    assert read_topic(settings.kafka_bootstrap or "", settings.topics.events_metric, 0, timeout=3) == []

    done = _run(settings, "publish", "events.metric", "--skip-invalid", stdin=text)
    assert done.returncode == 1  # still says something was wrong
    assert "published 2 events" in done.stdout
    records = read_topic(settings.kafka_bootstrap or "", settings.topics.events_metric, 2)
    codec = Codec()
    assert sorted(codec.decode(r.value, c.METRIC_EVENT)["event_id"] for r in records) == ["evt-1", "evt-3"]


def test_drift_events_and_unknown_topic(settings: Settings) -> None:
    drift = {
        "tenant": "acme",
        "drift_type": "UNDERPAYMENT",
        "payer": "cigna",
        "baseline_value": 2.0,
        "current_value": 11.5,
        "sample_count": 300,
        "occurred_at": "2026-01-02T08:00:00Z",
    }
    done = _run(settings, "publish", "events.drift", stdin=json.dumps(drift) + "\n")
    assert done.returncode == 0, done.stderr
    (record,) = read_topic(settings.kafka_bootstrap or "", settings.topics.events_drift, 1)
    assert record.key == b"acme|cigna"
    decoded = Codec().decode(record.value, c.DRIFT_EVENT)
    assert decoded["current_value"] == 11.5
    assert decoded["occurred_at"] == 1_767_340_800_000
    assert decoded["cpt_group"] is None

    done = _run(settings, "publish", "events.nope", stdin="{}\n")
    assert done.returncode == 2
    assert "cannot publish to 'events.nope'" in done.stderr
