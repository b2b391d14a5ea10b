"""Per-receiver guards: what the breaker counts, slots, 410-disabled (no broker, no HTTP)."""

from __future__ import annotations

import asyncio

import pytest

from alertstream.consumers import receiver_guard
from alertstream.consumers.receiver_guard import ReceiverGuards
from alertstream.schemas.errors import PermanentDeliveryError, RetryableDeliveryError
from alertstream.schemas.receivers_config import DeliverySection


def _guards(**settings: object) -> ReceiverGuards:
    s = DeliverySection.model_validate({"breaker_failures": 2, "breaker_cooldown_seconds": 60, **settings})
    return ReceiverGuards("webhook", s, "group")


async def test_retryable_failures_and_gone_open_the_breaker_other_answers_do_not() -> None:
    g = _guards()
    g.record("r", RetryableDeliveryError("http_5xx"))
    g.record("r", PermanentDeliveryError("http_4xx"))  # an answer: resets the count
    g.record("r", RetryableDeliveryError("timeout"))
    assert await g.admit("r")
    g.record("r", PermanentDeliveryError("gone"))
    assert not await g.admit("r")
    assert await g.admit("other")  # per receiver


async def test_config_behind_is_no_verdict_on_the_receiver() -> None:
    g = _guards()
    for _ in range(5):
        g.record("r", RetryableDeliveryError("config_behind"))
    assert await g.admit("r")


async def _half_open_with_probe_out(g: ReceiverGuards) -> None:
    g.record("r", RetryableDeliveryError("http_5xx"))
    g.record("r", RetryableDeliveryError("http_5xx"))  # open
    assert not await g.admit("r")  # cooling down: refused at once
    await asyncio.sleep(0.06)
    assert await g.admit("r")  # the probe


@pytest.mark.parametrize(("verdict", "admitted"), [(None, True), (RetryableDeliveryError("http_5xx"), False)])
async def test_tasks_arriving_during_a_probe_wait_for_its_verdict(
    verdict: RetryableDeliveryError | None, admitted: bool
) -> None:
    g = _guards(breaker_cooldown_seconds=0.05)
    await _half_open_with_probe_out(g)
    waiting = [asyncio.create_task(g.admit("r")) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in waiting)  # neither refused nor admitted before the verdict
    g.record("r", verdict)
    assert await asyncio.gather(*waiting) == [admitted] * 3


async def test_an_abandoned_probe_lets_the_next_task_probe() -> None:
    g = _guards(breaker_cooldown_seconds=0.05)
    await _half_open_with_probe_out(g)
    waiting = asyncio.create_task(g.admit("r"))
    await asyncio.sleep(0.01)
    g.abandoned("r")
    assert await waiting


def test_disable_until_enabled() -> None:
    g = _guards()
    assert not g.is_disabled("r")
    g.disable("r")
    assert g.is_disabled("r")
    g.enable("r")
    assert not g.is_disabled("r")


async def test_slots_bound_in_flight_per_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receiver_guard, "RECEIVER_WAIT_SECONDS", 0.05)
    g = _guards(max_in_flight_per_receiver=2)
    assert await g.acquire("r")
    assert await g.acquire("r")
    assert not await g.acquire("r")  # full: gives up after the wait
    assert await g.acquire("other")
    g.release("r")
    assert await asyncio.wait_for(g.acquire("r"), 1)
