"""The worker's batch handler with Faust's producer replaced by lists (no broker, app not started)."""

from __future__ import annotations

import asyncio
import json
import shutil
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
from alertstream.streams import evaluator as evaluator_module
from alertstream.streams import worker as worker_module
from alertstream.streams.dedup import EpisodeState
from alertstream.streams.worker import WorkerApp

CODEC = Codec()


@pytest.fixture
def worker() -> Iterator[tuple[WorkerApp, list[tuple[str, dict[str, Any]]]]]:
    config = parse_config({"rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70}]}, "t")
    w = WorkerApp("127.0.0.1:1", TopicNames("u."), config, codec=CODEC)
    sent: list[tuple[str, dict[str, Any]]] = []

    async def confirm_alerts(messages: list[tuple[bytes, bytes]]) -> None:
        sent.extend(("alert", {"key": key, "value": value}) for key, value in messages)

    w.confirm_alerts = confirm_alerts  # type: ignore[method-assign]
    w.invalid.send_soon = lambda **kw: sent.append(("invalid", kw))
    w.rate_out.send_soon = lambda **kw: sent.append(("rate", kw))
    yield w, sent
    w.feed.stop()
    shutil.rmtree(w.datadir)
    w.rate_follower.stop()


def _msg(event: MetricEvent | None, partition: int = 2, offset: int = 7, raw: bytes | None = None) -> SimpleNamespace:
    value = raw if event is None else CODEC.encode(c.METRIC_EVENT, event.to_record())
    return SimpleNamespace(topic="u.events.metric", key=b"k", value=value, partition=partition, offset=offset)


def _event(source: str, value: float = 80.0) -> MetricEvent:
    return MetricEvent(f"e-{source}", "acme", "cpu_percent", value, source, int(time.time() * 1000))


async def test_alert_sent_and_state_written_with_its_source_partition(worker: Any) -> None:
    w, sent = worker
    await w.handle([_msg(_event("h1"), partition=2), _msg(_event("h2"), partition=5)])
    assert [kind for kind, _ in sent] == ["alert", "alert"]
    alerts = [CODEC.decode(kw["value"], c.ALERT) for _, kw in sent]
    assert {a["entity"] for a in alerts} == {"h1", "h2"}
    assert {a["entity"]: w.state[a["fingerprint"]][0] for a in alerts} == {"h1": 2, "h2": 5}
    assert w.seal.unsealed == {2, 5}


async def test_bad_bytes_go_to_invalid_and_the_rest_is_evaluated(worker: Any) -> None:
    w, sent = worker
    await w.handle([_msg(None, raw=b"junk", offset=3), _msg(_event("h1"))])
    assert [kind for kind, _ in sent] == ["invalid", "alert"]
    headers = dict(sent[0][1]["headers"])
    assert headers["error.reason"] == b"bad_magic"
    assert headers["source.offset"] == b"3"
    assert sent[0][1]["value"] == b"junk"


async def test_an_event_that_breaks_the_evaluator_goes_to_invalid_not_the_batch(
    worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, sent = worker
    real = w.evaluator.process

    def fragile(events: Any, get: Any) -> Any:
        if any(e.source == "boom" for _, e in events):
            raise ZeroDivisionError("bug")
        return real(events, get)

    monkeypatch.setattr(w.evaluator, "process", fragile)
    await w.handle([_msg(_event("h1"), offset=1), _msg(_event("boom"), offset=2), _msg(_event("h2"), offset=3)])
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


async def test_starting_the_followers_does_not_block_the_event_loop() -> None:
    """TopicFollower.start() asked the broker for metadata and watermarks on Faust's loop (up to
    10 s each against a broker that does not answer); the loop must keep running meanwhile."""
    config = parse_config({"rules": [{"id": "cpu", "metric": "cpu_percent", "warning": 70}]}, "t")
    w = WorkerApp("127.0.0.1:1", TopicNames("u."), config, codec=CODEC, publish=False)  # nothing listens
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def ticker() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.02)
            gaps.append(loop.time() - last)
            last = loop.time()

    task = asyncio.create_task(ticker())
    try:
        await asyncio.sleep(0.1)
        await w._start_feed()
        await asyncio.sleep(0.5)
    finally:
        task.cancel()
        w.feed.stop()
        w.rate_follower.stop()
        w.lifecycle.stop()
        shutil.rmtree(w.datadir)
    assert len(gaps) >= 20
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.1f} s"
    assert not w.feed.wait_caught_up(0)  # still trying to reach the broker, off the loop


async def test_expiry_does_bounded_work_per_tick_over_100k_keys(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The expiry timer walked the whole table on the loop every 60 s; now one tick looks at a slice."""
    w, _ = worker
    examined = 0
    real = evaluator_module.expired

    def counting(state: Any, now_ms: int) -> bool:
        nonlocal examined
        examined += 1
        return real(state, now_ms)

    monkeypatch.setattr(evaluator_module, "expired", counting)
    now = int(time.time() * 1000)
    old = EpisodeState("firing", now - 10_000_000, now - 10_000_000, 3_600_000, "cpu").to_row()
    fresh = EpisodeState("firing", now, now, 3_600_000, "cpu").to_row()
    store = w.state.data  # filled directly: 100k changelog writes are not what is tested here
    for i in range(100_000):
        store[f"{i:032x}"] = [i % 6, old if i % 2 else fresh]
    await w._expire()
    assert 0 < examined <= worker_module.EXPIRY_SLICE
    ticks = 1
    while examined < 100_000:
        await w._expire()
        ticks += 1
        assert ticks <= 100_000 // worker_module.EXPIRY_SLICE + 1
    assert set(store) == {f"{i:032x}" for i in range(0, 100_000, 2)}  # exactly the stale half went


async def test_state_is_written_only_once_the_alerts_are_acknowledged(worker: Any) -> None:
    """The state records an alert as sent; a failed send must leave no such record behind."""
    w, _ = worker
    state_when_sent: list[dict[str, Any]] = []

    async def broker_gone(messages: list[tuple[bytes, bytes]]) -> None:
        state_when_sent.append(dict(w.state.data))
        raise RuntimeError("no acknowledgement")

    w.confirm_alerts = broker_gone
    with pytest.raises(RuntimeError):
        await w.handle([_msg(_event("h1"))])
    assert state_when_sent == [{}]  # nothing written before the alert went out ...
    assert dict(w.state.data) == {}  # ... nor after its send failed: the replay will fire it
