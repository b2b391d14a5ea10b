"""Receiver lanes: order per key, slots, the breaker and parking (no broker, no HTTP)."""

from __future__ import annotations

import asyncio

from alertstream.consumers.receiver_guard import ReceiverGuards, Ticket
from alertstream.schemas.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from alertstream.schemas.receivers_config import DeliverySection


def _guards(park_limit: int = 100, **settings: object) -> ReceiverGuards:
    s = DeliverySection.model_validate({"breaker_failures": 2, "breaker_cooldown_seconds": 60, **settings})
    return ReceiverGuards("webhook", s, "group", park_limit)


def _noop() -> None:
    return None


async def _ticket(g: ReceiverGuards, receiver: str = "r", key: object = "k") -> Ticket:
    t = await g.enter(receiver, key, _noop)  # type: ignore[arg-type]
    assert t is not None
    return t


async def _verdict(g: ReceiverGuards, error: DeliveryError | None, receiver: str = "r", key: object = "k") -> None:
    t = await _ticket(g, receiver, key)
    t.sent(error)
    t.finish()


def _parked(g: ReceiverGuards, receiver: str = "r", key: object = "k") -> asyncio.Task[Ticket | None]:
    return asyncio.create_task(g.enter(receiver, key, _noop))  # type: ignore[arg-type]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_retryable_failures_and_gone_open_the_breaker_other_answers_do_not() -> None:
    g = _guards()
    await _verdict(g, RetryableDeliveryError("http_5xx"))
    await _verdict(g, PermanentDeliveryError("http_4xx"))  # an answer: resets the count
    await _verdict(g, RetryableDeliveryError("timeout"))
    await _verdict(g, PermanentDeliveryError("gone"))  # open now
    waiting = _parked(g)
    await _settle()
    assert not waiting.done(), "open: the task waits, it is not refused"
    assert g.waiting_reason("r") == "circuit_open"
    await _verdict(g, None, receiver="other")  # per receiver
    waiting.cancel()


async def test_config_behind_is_no_verdict_on_the_receiver() -> None:
    g = _guards()
    for _ in range(5):
        await _verdict(g, RetryableDeliveryError("config_behind"))
    await asyncio.wait_for(_ticket(g), 1)


async def test_an_open_breaker_parks_tasks_and_one_probe_drains_them_all() -> None:
    g = _guards(breaker_cooldown_seconds=0.05)
    await _verdict(g, RetryableDeliveryError("http_5xx"))
    await _verdict(g, RetryableDeliveryError("http_5xx"))  # open
    parked = [_parked(g, key=n) for n in range(5)]
    await _settle()
    assert g.parked("r") == 5
    probe = await asyncio.wait_for(parked[0], 1)  # the cool-down ends: the first in line probes
    assert probe is not None
    assert probe.probe, "its failure would keep the task on its tier"
    await asyncio.sleep(0.1)
    assert not any(t.done() for t in parked[1:]), "the others wait for the probe's verdict"
    probe.sent(None)
    probe.finish()
    rest = await asyncio.wait_for(asyncio.gather(*parked[1:]), 1)
    assert all(t is not None for t in rest)
    assert g.parked("r") == 0


async def test_a_failed_probe_keeps_the_others_parked_and_an_abandoned_one_passes_the_turn() -> None:
    g = _guards(breaker_cooldown_seconds=0.05)
    await _verdict(g, RetryableDeliveryError("http_5xx"))
    await _verdict(g, RetryableDeliveryError("http_5xx"))
    parked = [_parked(g, key=n) for n in range(3)]
    probe = await asyncio.wait_for(parked[0], 1)
    assert probe is not None
    probe.sent(RetryableDeliveryError("http_5xx"))  # open again, for a full cool-down
    probe.finish()
    second = await asyncio.wait_for(parked[1], 1)  # the next probe, after the cool-down
    assert second is not None
    second.finish()  # cancelled before a verdict: no verdict, the next one probes
    third = await asyncio.wait_for(parked[2], 1)
    assert third is not None
    third.finish()


async def test_slots_bound_in_flight_per_receiver() -> None:
    g = _guards(max_in_flight_per_receiver=2)
    a, b = await _ticket(g, key=1), await _ticket(g, key=2)
    assert not a.probe
    parks: list[int] = []
    third = asyncio.create_task(g.enter("r", 3, lambda: parks.append(3)))
    await _settle()
    assert not third.done()
    assert parks == [3], "the caller is told when its task parks"
    assert g.waiting_reason("r") == "receiver_busy"
    await asyncio.wait_for(_ticket(g, "other", 1), 1)  # another receiver is not held up
    a.sent(None)
    a.finish()
    assert await asyncio.wait_for(third, 1) is not None
    b.finish()


async def test_one_key_at_a_time_in_the_order_entered() -> None:
    g = _guards(max_in_flight_per_receiver=10)
    first = await _ticket(g, key="fp")
    second, third = _parked(g, key="fp"), _parked(g, key="fp")
    other = await asyncio.wait_for(_ticket(g, key="another"), 1)  # free slots: other keys go
    await _settle()
    assert not second.done()
    first.sent(None)
    await _settle()
    assert not second.done(), "the key is held until finish() (the ledger write), not just the send"
    first.finish()
    got_second = await asyncio.wait_for(second, 1)
    assert got_second is not None
    assert not third.done()
    got_second.finish()
    got_third = await asyncio.wait_for(third, 1)
    assert got_third is not None
    got_third.finish()
    other.finish()


async def test_a_full_lane_refuses_and_a_cancelled_waiter_leaves_it() -> None:
    g = _guards(park_limit=2, max_in_flight_per_receiver=1)
    holder = await _ticket(g, key=0)
    waiting = [_parked(g, key=n) for n in (1, 2)]
    await _settle()
    assert await g.enter("r", 3, _noop) is None, "full: the caller defers the task"
    waiting[0].cancel()
    await _settle()
    assert g.parked("r") == 1
    holder.finish()
    last = await asyncio.wait_for(waiting[1], 1)
    assert last is not None
    last.finish()
    assert g.parked("r") == 0


def test_disable_until_enabled() -> None:
    g = _guards()
    assert not g.is_disabled("r")
    g.disable("r")
    assert g.is_disabled("r")
    g.enable("r")
    assert not g.is_disabled("r")
