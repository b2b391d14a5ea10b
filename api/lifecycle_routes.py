"""The lifecycle endpoints of /api/v1: acknowledge, unacknowledge and resolve alerts (one, or every
open alert a filter matches), silences, on-call schedules, and an alert's episode trail.

Writes are commands, not table updates: each publishes an action or a silence to its compacted
topic (:mod:`alertstream.api.lifecycle_bus`) and answers ``202 Accepted`` once the broker has it;
the worker owning the alert's partition applies it, the store records it in the audit log. A
tenant key acts on its tenant's alerts only (another tenant's alert is the same 404 as a missing
one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from psycopg_pool import AsyncConnectionPool

from alertstream.api import history
from alertstream.api.auth import Caller, Principal
from alertstream.api.lifecycle_bus import BusUnavailable
from alertstream.api.lifecycle_models import (
    ActionAccepted,
    ActionRequest,
    BulkAccepted,
    BulkActionRequest,
    OnCallOut,
    ScheduleOut,
    SilenceOut,
    SilenceRequest,
    Trail,
    TrailEntry,
)
from alertstream.api.problems import ApiProblem, not_found, responses
from alertstream.api.silence_service import bus, create, expire, listing, now_ms
from alertstream.schemas.actions import ActionKind, new_action
from alertstream.schemas.matchers import Matcher, MatcherError, alert_labels, matches_all, parse_matcher
from alertstream.schemas.oncall import on_call
from alertstream.schemas.silences import Silence

router = APIRouter(prefix="/api/v1", responses=responses(401, 404, 422, 429, 503), tags=["lifecycle"])
PLAIN = r"^[^\x00-\x1f\x7f]+$"
AlertId = Annotated[str, Path(min_length=1, max_length=256, pattern=PLAIN)]
ItemId = Annotated[str, Path(min_length=1, max_length=256, pattern=PLAIN)]
KIND = {"ack": "acknowledge", "unack": "unacknowledge", "resolve": "resolve"}
MAX_BULK = 1000


def _pool(request: Request) -> AsyncConnectionPool[Any]:
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    return pool


def _matchers(texts: list[Any]) -> list[Matcher]:
    try:
        return [parse_matcher(t) if isinstance(t, str) else Matcher.from_api(t.model_dump()) for t in texts]
    except MatcherError as exc:
        raise ApiProblem(422, str(exc), "invalid-request") from None


async def _act(
    request: Request, caller: Principal, kind: ActionKind, fp: str, tenant: str, alert_id: str | None, comment: str
) -> ActionAccepted:
    action = new_action(kind, fp, tenant, caller.actor, now_ms(), comment, alert_id or "")
    try:
        await bus(request).publish_action(action)
    except BusUnavailable as exc:
        raise ApiProblem(503, str(exc), "unavailable") from None
    return ActionAccepted(action_id=action.action_id, kind=kind, fingerprint=fp, alert_id=alert_id)


def _register_single(verb: str) -> None:
    kind: ActionKind = KIND[verb]  # type: ignore[assignment]

    @router.post(
        f"/alerts/{{alert_id}}/{verb}",
        status_code=202,
        response_model=ActionAccepted,
        summary=f"{kind.capitalize()} the alert's episode (applied by the worker that owns it)",
        name=f"{verb}_alert",
    )
    async def single(
        request: Request, caller: Caller, alert_id: AlertId, body: Annotated[ActionRequest | None, Body()] = None
    ) -> ActionAccepted:
        async with _pool(request).connection() as conn:
            found = await history.get_alert(conn, alert_id, caller.tenant)
        if found is None:
            raise not_found("alert")
        alert = found[0]
        return await _act(
            request, caller, kind, alert.fingerprint, alert.tenant, alert.alert_id, body.comment if body else ""
        )

    @router.post(
        f"/alerts/{verb}",
        status_code=202,
        response_model=BulkAccepted,
        summary=f"{kind.capitalize()} every open alert the matchers select (at most {MAX_BULK})",
        name=f"{verb}_alerts",
    )
    async def bulk(request: Request, caller: Caller, body: BulkActionRequest) -> BulkAccepted:
        matchers = _matchers(list(body.matchers))
        async with _pool(request).connection() as conn:
            rows = await open_alerts(conn, caller.tenant)
        chosen = [r for r in rows if matches_all(matchers, alert_labels(r))][:MAX_BULK]
        actions = [
            await _act(request, caller, kind, r["fingerprint"], r["tenant"], r["alert_id"], body.comment)
            for r in chosen
        ]
        return BulkAccepted(kind=kind, matched=len(actions), actions=actions)


for _verb in KIND:
    _register_single(_verb)


async def open_alerts(conn: Any, scope: str | None) -> list[dict[str, Any]]:
    """The newest record of each fingerprint (last 30 days) that is still firing."""
    sql = (
        "SELECT DISTINCT ON (fingerprint) alert_id, fingerprint, tenant, rule_id, severity, entity, labels, status"
        " FROM alerts WHERE last_seen > now() - interval '30 days'"
    )
    params: list[Any] = []
    if scope is not None:
        sql += " AND tenant = %s"
        params.append(scope)
    sql += " ORDER BY fingerprint, emitted_at DESC NULLS LAST, alert_id DESC"
    rows = await (await conn.execute(sql, params)).fetchall()
    return [r for r in rows if r["status"] == "firing"]


# -- silences -------------------------------------------------------------------------------------


def silence_out(s: Silence) -> SilenceOut:
    def t(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)

    return SilenceOut(
        id=s.id,
        state=s.state(now_ms()),
        matchers=[str(m) for m in s.matchers],
        starts_at=t(s.starts_at),
        ends_at=t(s.ends_at),
        updated_at=t(s.updated_at),
        created_by=s.created_by,
        comment=s.comment,
    )


def _ms(at: datetime | None, default: int) -> int:
    if at is None:
        return default
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)


@router.get("/silences", response_model=list[SilenceOut], summary="Silences (newest end first)")
async def list_silences(
    request: Request,
    caller: Caller,
    state: Annotated[str | None, Query(pattern="^(pending|active|expired)$")] = None,
) -> list[SilenceOut]:
    out = [silence_out(s) for s in listing(request, caller)]
    return [s for s in out if state is None or s.state == state]


@router.post("/silences", status_code=201, response_model=SilenceOut, summary="Create a silence")
async def create_silence(request: Request, caller: Caller, body: SilenceRequest) -> SilenceOut:
    now = now_ms()
    starts = _ms(body.starts_at, now)
    if body.ends_at is None and body.duration_seconds is None:
        raise ApiProblem(422, "give ends_at or duration_seconds", "invalid-request")
    ends = _ms(body.ends_at, starts + int((body.duration_seconds or 0) * 1000))
    s = await create(request, caller, _matchers(list(body.matchers)), starts, ends, body.comment)
    return silence_out(s)


@router.get("/silences/{silence_id}", response_model=SilenceOut, summary="One silence")
async def get_silence(request: Request, caller: Caller, silence_id: ItemId) -> SilenceOut:
    found = next((s for s in listing(request, caller) if s.id == silence_id), None)
    if found is None:
        raise not_found("silence")
    return silence_out(found)


@router.delete("/silences/{silence_id}", response_model=SilenceOut, summary="Expire a silence now")
async def expire_silence(request: Request, caller: Caller, silence_id: ItemId) -> SilenceOut:
    return silence_out(await expire(request, caller, silence_id))


# -- schedules --------------------------------------------------------------------------------------


def _on_call(schedule: Any, at: datetime) -> OnCallOut:
    answer = on_call(schedule, at)
    return OnCallOut(
        schedule=answer.schedule,
        at=answer.at,
        participant=answer.participant,
        source=answer.source,
        shift_start=answer.shift_start,
    )


@router.get("/schedules", response_model=list[ScheduleOut], summary="On-call schedules and who is on call now")
async def list_schedules(request: Request, caller: Caller) -> list[ScheduleOut]:
    now = datetime.now(tz=UTC)
    return [
        ScheduleOut(
            name=s.name, time_zone=s.time_zone, layers=[la.name for la in s.layers], on_call_now=_on_call(s, now)
        )
        for s in bus(request).config.schedules
    ]


@router.get("/schedules/{name}/oncall", response_model=OnCallOut, summary="Who is on call now, or at `at`")
async def who_is_on_call(
    request: Request,
    caller: Caller,
    name: ItemId,
    at: Annotated[datetime | None, Query(description="RFC 3339; default now")] = None,
) -> OnCallOut:
    schedule = next((s for s in bus(request).config.schedules if s.name == name), None)
    if schedule is None:
        raise not_found("schedule")
    when = at or datetime.now(tz=UTC)
    return _on_call(schedule, when if when.tzinfo else when.replace(tzinfo=UTC))


# -- the trail ----------------------------------------------------------------------------------------

_TRAIL = """
WITH b AS (
    SELECT
        (SELECT max(at) FROM audit_log WHERE fingerprint = %(fp)s AND tenant = %(tenant)s
            AND action = 'resolved' AND at < %(emitted)s) AS start,
        (SELECT min(at) FROM audit_log WHERE fingerprint = %(fp)s AND tenant = %(tenant)s
            AND action = 'resolved' AND at >= %(emitted)s) AS stop
), closing AS (
    SELECT alert_id FROM audit_log, b WHERE fingerprint = %(fp)s AND tenant = %(tenant)s
        AND action = 'resolved' AND at = b.stop
)
SELECT at, actor, action, reason, alert_id, delivery_id, details FROM audit_log, b
WHERE fingerprint = %(fp)s AND tenant = %(tenant)s AND (b.start IS NULL OR at > b.start)
    AND (b.stop IS NULL OR at <= b.stop OR alert_id IN (SELECT alert_id FROM closing))
ORDER BY at, id LIMIT 2000
"""


@router.get("/alerts/{alert_id}/trail", response_model=Trail, summary="The audit trail of the alert's episode")
async def alert_trail(request: Request, caller: Caller, alert_id: AlertId) -> Trail:
    async with _pool(request).connection() as conn:
        found = await history.get_alert(conn, alert_id, caller.tenant)
        if found is None:
            raise not_found("alert")
        alert = found[0]
        emitted = alert.emitted_at or alert.last_seen
        rows = await (
            await conn.execute(_TRAIL, {"fp": alert.fingerprint, "tenant": alert.tenant, "emitted": emitted})
        ).fetchall()
    entries = [TrailEntry(**{**r, "details": r["details"] if isinstance(r["details"], dict) else {}}) for r in rows]
    return Trail(alert_id=alert.alert_id, fingerprint=alert.fingerprint, entries=entries)


def register(app: Any) -> None:
    """Mount the lifecycle endpoints (v1 and Alertmanager's v2 silences) on ``app``."""
    from alertstream.api.am_silences import router as v2

    app.include_router(router)
    app.include_router(v2)


__all__ = ["Response", "register", "router"]
