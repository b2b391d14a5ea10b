"""The worker's batch handler with Faust's producer replaced by lists (no broker, app not started)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.config import parse_config
from alertstream.schemas.events import MetricEvent
from alertstream.schemas.topics import TopicNames
from alertstream.streams.worker import WorkerApp

CODEC = Codec()


@pytest.fixture
def worker() -> Iterator[tuple[WorkerApp, list[tuple[str, dict[str, Any]]]]]:
    config = parse_config({"rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70}]}, "t")
    w = WorkerApp("127.0.0.1:1", TopicNames("u."), config, codec=CODEC)
    sent: list[tuple[str, dict[str, Any]]] = []
    w.alerts.send_soon = lambda **kw: sent.append(("alert", kw))
    w.invalid.send_soon = lambda **kw: sent.append(("invalid", kw))
    w.rate_out.send_soon = lambda **kw: sent.append(("rate", kw))
    yield w, sent
    w.feed.stop()
    w.rate_follower.stop()


def _msg(event: MetricEvent | None, partition: int = 2, offset: int = 7, raw: bytes | None = None) -> SimpleNamespace:
    value = raw if event is None else CODEC.encode(c.METRIC_EVENT, event.to_record())
    return SimpleNamespace(topic="u.events.metric", key=b"k", value=value, partition=partition, offset=offset)


def _event(source: str, value: float = 80.0) -> MetricEvent:
    return MetricEvent(f"e-{source}", "acme", "cpu_percent", value, source, int(time.time() * 1000))


def test_alert_sent_and_state_written_with_its_source_partition(worker: Any) -> None:
    w, sent = worker
    w.handle([_msg(_event("h1"), partition=2), _msg(_event("h2"), partition=5)])
    assert [kind for kind, _ in sent] == ["alert", "alert"]
    alerts = [CODEC.decode(kw["value"], c.ALERT) for _, kw in sent]
    assert {a["entity"] for a in alerts} == {"h1", "h2"}
    assert {a["entity"]: w.state[a["fingerprint"]][0] for a in alerts} == {"h1": 2, "h2": 5}
    assert w.unsealed == {2, 5}


def test_bad_bytes_go_to_invalid_and_the_rest_is_evaluated(worker: Any) -> None:
    w, sent = worker
    w.handle([_msg(None, raw=b"junk", offset=3), _msg(_event("h1"))])
    assert [kind for kind, _ in sent] == ["invalid", "alert"]
    headers = dict(sent[0][1]["headers"])
    assert headers["error.reason"] == b"bad_magic"
    assert headers["source.offset"] == b"3"
    assert sent[0][1]["value"] == b"junk"


def test_an_event_that_breaks_the_evaluator_goes_to_invalid_not_the_batch(
    worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, sent = worker
    real = w.evaluator.process

    def fragile(events: Any, get: Any) -> Any:
        if any(e.source == "boom" for _, e in events):
            raise ZeroDivisionError("bug")
        return real(events, get)

    monkeypatch.setattr(w.evaluator, "process", fragile)
    w.handle([_msg(_event("h1"), offset=1), _msg(_event("boom"), offset=2), _msg(_event("h2"), offset=3)])
    kinds = [(kind, dict(kw.get("headers") or {}).get("error.reason")) for kind, kw in sent]
    assert kinds == [("alert", None), ("invalid", b"evaluation_failed"), ("alert", None)]


class _FollowerRunsAfterFirstRead:
    """The config feed as the worker sees it, with the follower thread applying ``doc`` right after
    the worker's first read of it: the unlucky interleaving, made deterministic."""

    def __init__(self, feed: Any, doc: bytes) -> None:
        object.__setattr__(self, "_feed", feed)
        object.__setattr__(self, "_doc", doc)

    def __getattribute__(self, name: str) -> Any:
        feed = object.__getattribute__(self, "_feed")
        value = getattr(feed, name)
        doc = object.__getattribute__(self, "_doc")
        if doc is not None and not callable(value):
            object.__setattr__(self, "_doc", None)
            feed.apply(doc, "topic cfg offset 1")  # the follower thread runs now
        return value


def _doc(version: int) -> bytes:
    return json.dumps({"version": version, "rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 60}]}).encode()


def test_a_config_published_while_the_worker_reads_the_feed_is_not_lost(worker: Any) -> None:
    w, _ = worker
    w.feed.apply(_doc(2), "topic cfg offset 0")
    w.feed = _FollowerRunsAfterFirstRead(w.feed, _doc(3))
    w._maybe_reconfigure()  # reads the feed; version 3 arrives in the middle of that read
    w._maybe_reconfigure()  # the next batch must see version 3
    assert w.evaluator.compiled.version == 3
