"""No input of any size stops `alertstream deliver`: a record over ``topics.max_message_bytes`` is
set aside in the DLQ (a bounded prefix and a reference to where it was) and the partition moves on."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
import yaml

from alertstream.consumers.model import delivery_id
from alertstream.local_stack import free_port
from alertstream.runtime.dlq import read_dlq
from alertstream.runtime.metrics import scrape
from alertstream.runtime.settings import Settings
from alertstream.schemas.codec import ALERT, Codec
from tests.integration.consumers.helpers import Receiver, deliver_env, make_alert, publish_to, start_deliver, wait_for

pytestmark = pytest.mark.integration

LIMIT = 1_000_000  # topics.max_message_bytes of the example config


def _total(port: int, name: str, **labels: str) -> float:
    samples = scrape(port, name) or []
    return sum(v for lab, v in samples if all(lab.get(k) == want for k, want in labels.items()))


async def test_oversized_alerts_are_set_aside_and_the_alerts_behind_them_delivered(
    settings: Settings, tmp_path: Path
) -> None:
    server = Receiver()
    await server.start()
    config = {
        "receivers": [{"name": "ops", "channel": "webhook", "url": server.url("/ops"), "allow_private": True}],
        "delivery": {"retry_delays_seconds": [0.5, 1, 2, 3]},
    }
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {**deliver_env(settings, config_file), "ALERTSTREAM_METRICS_PORT": str(port)}
    assert settings.kafka_bootstrap is not None
    codec = Codec()
    alerts = [make_alert([("ops", "webhook")]) for _ in range(50)]
    big = [b"\xc3\x01" + b"x" * (2_000_000 - 2), b"\xc3\x01" + b"y" * (1_040_000 - 2)]
    # all on partition 0, the big ones first: everything else is behind them
    records = [(0, b"big", v) for v in big] + [(0, a["fingerprint"].encode(), codec.encode(ALERT, a)) for a in alerts]
    publish_to(settings.kafka_bootstrap, settings.topics.alerts, records)
    log = tmp_path / "deliver.log"
    proc = start_deliver("webhook", env, log)
    try:
        assert await wait_for(lambda: len(server.hits) >= 50 or proc.poll() is not None, 60), log.read_text()[-3000:]
        assert proc.poll() is None, f"deliver exited: {log.read_text()[-3000:]}"
        assert await wait_for(lambda: _total(port, "alertstream_notifications_total", outcome="sent") == 50, 10)
        dlq_count = _total(port, "alertstream_dlq_messages_total", channel="webhook")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        await server.stop()
    assert sorted(h.headers["webhook-id"] for h in server.hits) == sorted(
        delivery_id(a["alert_id"], "webhook", "ops") for a in alerts
    )
    assert dlq_count == 2
    entries = sorted(
        read_dlq(settings.kafka_bootstrap, settings.topics, "webhook", codec=codec), key=lambda e: e.offset
    )
    assert [(e.reason, e.headers["error"], e.headers["source.offset"]) for e in entries] == [
        ("undecodable", "too_large", "0"),
        ("undecodable", "too_large", "1"),
    ]
    assert [e.headers["original-size"] for e in entries] == ["2000000", "1040000"]
    assert all(e.headers["source.topic"] == settings.topics.alerts for e in entries)
    for entry, original in zip(entries, big, strict=True):
        assert entry.headers["truncated"] == "1"
        assert 0 < len(entry.raw) <= 4096
        assert original.startswith(entry.raw), "the prefix of the original bytes"
