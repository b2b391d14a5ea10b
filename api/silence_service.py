"""Silences as the API sees them — one set of rules for /api/v1/silences and Alertmanager's
/api/v2/silences: scope by tenant, validate, publish, expire.

A tenant key's silences always carry the matcher ``tenant="<its tenant>"`` (added when absent; a
different tenant matcher is refused), and it sees and expires only silences carrying that matcher.
An admin key sees every silence and may silence across tenants. Creating and expiring publishes
the whole document to the silences topic (:class:`~alertstream.api.lifecycle_bus.LifecycleBus`),
from which every worker, every API process and the store's audit log follow.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import Request

from alertstream.api.auth import Principal
from alertstream.api.lifecycle_bus import BusUnavailable, LifecycleBus
from alertstream.api.problems import ApiProblem, not_found
from alertstream.schemas.matchers import Matcher
from alertstream.schemas.silences import Silence, SilenceError, new_silence


def bus(request: Request) -> LifecycleBus:
    found: LifecycleBus | None = getattr(request.app.state, "bus", None)
    if found is None:
        raise ApiProblem(503, "this API process has no broker configured (ALERTSTREAM_KAFKA_BOOTSTRAP)", "unavailable")
    return found


def now_ms() -> int:
    return int(time.time() * 1000)


def visible(caller: Principal, s: Silence) -> bool:
    return caller.tenant is None or any(
        m.name == "tenant" and m.op == "=" and m.value == caller.tenant for m in s.matchers
    )


def scoped(caller: Principal, matchers: Sequence[Matcher]) -> list[Matcher]:
    """The matchers of a new silence with the caller's tenant enforced."""
    out = list(matchers)
    if caller.tenant is None:
        return out
    for m in out:
        if m.name == "tenant" and not (m.op == "=" and m.value == caller.tenant):
            raise ApiProblem(403, "a tenant key may only silence its own tenant", "forbidden")
    if not any(m.name == "tenant" for m in out):
        out.append(Matcher("tenant", "=", caller.tenant))
    return out


async def create(
    request: Request,
    caller: Principal,
    matchers: Sequence[Matcher],
    starts_at: int,
    ends_at: int,
    comment: str,
    created_by: str | None = None,
    silence_id: str | None = None,
) -> Silence:
    b = bus(request)
    now = now_ms()
    if silence_id is not None:
        known = b.silences.get(silence_id)
        if known is None or not visible(caller, known):
            raise not_found("silence")
        if known.state(now) == "expired":
            raise ApiProblem(422, "an expired silence cannot be changed: create a new one", "invalid-request")
    try:
        silence = new_silence(
            scoped(caller, matchers),
            starts_at,
            ends_at,
            created_by or caller.actor,
            comment,
            now,
            silence_id,
        )
    except SilenceError as exc:
        raise ApiProblem(422, str(exc), "invalid-request") from None
    if silence.ends_at <= now:
        raise ApiProblem(422, "the silence would end before it starts (ends_at is in the past)", "invalid-request")
    await _publish(b, silence)
    return silence


async def expire(request: Request, caller: Principal, silence_id: str) -> Silence:
    b = bus(request)
    known = b.silences.get(silence_id)
    if known is None or not visible(caller, known):
        raise not_found("silence")
    ended = known.expired(now_ms())
    if ended is not known:
        await _publish(b, ended)
    return ended


async def _publish(b: LifecycleBus, silence: Silence) -> None:
    try:
        await b.publish_silence(silence)
    except BusUnavailable as exc:
        raise ApiProblem(503, str(exc), "unavailable") from None


def listing(request: Request, caller: Principal) -> list[Silence]:
    return sorted(
        (s for s in bus(request).snapshot() if visible(caller, s)), key=lambda s: (s.ends_at, s.id), reverse=True
    )
