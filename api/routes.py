"""The /api/v1 endpoints. Thin: parse and check the parameters, scope by the caller's tenant, run
one module's SQL, return a model. A tenant key naming another tenant — in a filter or by an
alert id — gets the same 404 as for something that does not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from alertstream.api import history
from alertstream.api.auth import Caller, Principal
from alertstream.api.explain import explain
from alertstream.api.models import AlertDetail, AlertPage, DeliveryPage, Explanation, Stats
from alertstream.api.pagination import Cursor, InvalidCursor, decode
from alertstream.api.problems import ApiProblem, not_found, responses
from alertstream.api.stats import stats as compute_stats

#: No NUL (PostgreSQL refuses it in text) and no other control character in a parameter.
PLAIN = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[str | None, Query(min_length=1, max_length=256, pattern=PLAIN)]
#: RFC 3339 only (a bare number is not a time here, whatever pydantic would make of it)
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
Time = Annotated[
    str | None,
    Query(
        pattern=RFC3339,
        max_length=40,
        description="RFC 3339; without an offset, UTC",
        json_schema_extra={"format": "date-time"},
    ),
]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
CursorParam = Annotated[str | None, Query(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$")]
AlertId = Annotated[str, Path(min_length=1, max_length=256, pattern=PLAIN)]
MAX_RANGE = timedelta(days=400)

router = APIRouter(prefix="/api/v1", responses=responses(401, 404, 422, 429, 503))


def _json(model: BaseModel) -> Response:
    """The model serialised once (pydantic's Rust serialiser): FastAPI would otherwise dump it to a
    dict, validate that against the response model again and serialise it — three passes per page."""
    return Response(model.model_dump_json(), media_type="application/json")


def _pool(request: Request) -> AsyncConnectionPool[Any]:
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    return pool


def _utc(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ApiProblem(422, f"{name}: not a valid RFC 3339 time", "invalid-request") from None


def alert_filter(
    severity: Annotated[list[Literal["critical", "warning", "info"]] | None, Query(max_length=3)] = None,
    status: Annotated[list[Literal["firing", "resolved"]] | None, Query(max_length=2)] = None,
    rule: Name = None,
    receiver: Name = None,
    fingerprint: Name = None,
    since: Time = None,
    until: Time = None,
    text: Annotated[
        str | None, Query(min_length=1, max_length=200, pattern=PLAIN, description="words of the summary/entity")
    ] = None,
) -> history.AlertFilter:
    """The filters of ``GET /api/v1/alerts`` as one dependency: the console's counts and groups
    take exactly the same ones (the tenant is the caller's scope, :func:`_scope`)."""
    return history.AlertFilter(
        tenant=None,
        severity=tuple(severity or ()),
        status=tuple(status or ()),
        rule=rule,
        receiver=receiver,
        fingerprint=fingerprint,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
        text=text,
    )


AlertFilterQuery = Annotated[history.AlertFilter, Depends(alert_filter)]


def time_range(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """A report's range: ``until`` (default now) back to ``since`` (default 24 h before it), at
    most :data:`MAX_RANGE`; a 422 problem otherwise (the stats and the console's overview)."""
    end = _utc(until, "until") or now
    start = _utc(since, "since") or end - timedelta(hours=24)
    if start >= end:
        raise ApiProblem(422, "since must be before until", "invalid-request")
    if end - start > MAX_RANGE:
        raise ApiProblem(422, f"the range may span at most {MAX_RANGE.days} days", "invalid-request")
    return start, end


def _scope(caller: Principal, tenant: str | None) -> str | None:
    """The tenant every query is limited to (None: an admin key without a tenant filter)."""
    if caller.tenant is not None and tenant is not None and tenant != caller.tenant:
        raise not_found("tenant")
    return caller.tenant if caller.tenant is not None else tenant


def _cursor(token: str | None, listing: str) -> Cursor | None:
    if token is None:
        return None
    try:
        cursor = decode(token, listing)
    except InvalidCursor as exc:
        raise ApiProblem(400, str(exc), "invalid-cursor") from None
    if listing == "deliveries" and not cursor.key.isdigit():
        raise ApiProblem(400, "the cursor is not one of deliveries", "invalid-cursor")
    return cursor


@router.get(
    "/alerts",
    response_model=AlertPage,
    summary="Alerts, newest first (keyset pagination)",
    responses=responses(400),
)
async def list_alerts(
    request: Request,
    caller: Caller,
    f: AlertFilterQuery,
    tenant: Name = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Response:
    scope = _scope(caller, tenant)
    async with _pool(request).connection() as conn:
        items, after = await history.list_alerts(conn, f, scope, _cursor(cursor, "alerts"), limit)
    return _json(AlertPage(items=items, next_cursor=after.encode() if after else None))


@router.get("/alerts/{alert_id}", response_model=AlertDetail, summary="One alert: notifications, attempts, audit")
async def get_alert(request: Request, caller: Caller, alert_id: AlertId) -> Response:
    async with _pool(request).connection() as conn:
        found = await history.get_alert(conn, alert_id, caller.tenant)
        if found is None:
            raise not_found("alert")
        alert, _ = found
        detail = AlertDetail(
            alert=alert,
            notifications=await history.notifications_of(conn, alert),
            dead_letters=await history.dead_letters_of(conn, alert),
            audit=await history.audit_of(conn, alert),
        )
    return _json(detail)


@router.get(
    "/alerts/{alert_id}/explain", response_model=Explanation, summary="Why it fired: rule, values, events, decisions"
)
async def explain_alert(request: Request, caller: Caller, alert_id: AlertId) -> Response:
    async with _pool(request).connection() as conn:
        found = await history.get_alert(conn, alert_id, caller.tenant)
        if found is None:
            raise not_found("alert")
        alert, breakdown = found
        previous = await history.previous_alerts(conn, alert)
    return _json(explain(alert, breakdown, previous))


@router.get("/stats", response_model=Stats, summary="Counts, success rates, DLQ depth, latency over a range")
async def get_stats(
    request: Request, caller: Caller, tenant: Name = None, since: Time = None, until: Time = None
) -> Response:
    start, end = time_range(since, until, datetime.now(UTC))
    scope = _scope(caller, tenant)
    async with _pool(request).connection() as conn:
        return _json(await compute_stats(conn, scope, start, end))


@router.get(
    "/deliveries", response_model=DeliveryPage, summary="Delivery attempts, newest first", responses=responses(400)
)
async def list_deliveries(
    request: Request,
    caller: Caller,
    tenant: Name = None,
    channel: Annotated[Literal["webhook", "slack", "pagerduty", "email"] | None, Query()] = None,
    receiver: Name = None,
    outcome: Annotated[Literal["sent", "retrying", "dead_lettered", "duplicate", "disabled"] | None, Query()] = None,
    alert_id: Name = None,
    delivery_id: Name = None,
    since: Time = None,
    until: Time = None,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Response:
    f = history.DeliveryFilter(
        channel=channel,
        receiver=receiver,
        outcome=outcome,
        alert_id=alert_id,
        delivery_id=delivery_id,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
    )
    scope = _scope(caller, tenant)
    async with _pool(request).connection() as conn:
        items, after = await history.list_deliveries(conn, f, scope, _cursor(cursor, "deliveries"), limit)
    return _json(DeliveryPage(items=items, next_cursor=after.encode() if after else None))
