"""The JSON endpoints the console needs beside /api/v1's listings (each tenant-scoped like them):
who the key is, counts and groups of a filtered listing, an alert's timeline, the overview's
series, and the preview of label matchers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from alertstream.api import history
from alertstream.api.auth import Caller
from alertstream.api.console import groups as grouping
from alertstream.api.console.episode import later_alerts
from alertstream.api.console.models import AlertGroups, Me, Overview, Preview, PreviewRequest, Timeline
from alertstream.api.console.overview import overview
from alertstream.api.console.preview import preview
from alertstream.api.console.timeline import timeline
from alertstream.api.explain import explain
from alertstream.api.problems import ApiProblem, not_found, responses
from alertstream.api.routes import (
    AlertFilterQuery,
    AlertId,
    Name,
    Time,
    _json,
    _pool,
    _scope,
    time_range,
)
from alertstream.schemas.matchers import Matcher, MatcherError

router = APIRouter(prefix="/api/v1", responses=responses(401, 404, 422, 429, 503))


@router.get("/me", response_model=Me, summary="The calling key: its id and scope")
async def me(caller: Caller) -> Me:
    return Me(key_id=caller.key_id, scope="admin" if caller.tenant is None else "tenant", tenant=caller.tenant)


@router.get(
    "/alert-groups",
    response_model=AlertGroups,
    summary="Counts of the alerts a filter selects, grouped by rule or fingerprint",
)
async def alert_groups(
    request: Request,
    caller: Caller,
    f: AlertFilterQuery,
    by: Annotated[Literal["rule", "fingerprint"] | None, Query(description="group by; none: counts only")] = None,
    tenant: Name = None,
    limit: Annotated[int, Query(ge=1, le=500, description="groups")] = 100,
) -> Response:
    """The same filters as `GET /api/v1/alerts`."""
    scope = _scope(caller, tenant)
    async with _pool(request).connection() as conn:
        counts = await grouping.counts(conn, f, scope)
        found = await grouping.groups(conn, f, scope, by, limit) if by else []
    return _json(AlertGroups(by=by, counts=counts, groups=found))


@router.get(
    "/alerts/{alert_id}/timeline",
    response_model=Timeline,
    summary="An alert's story in order: breach, suppressions, routing, attempts, audit, resolve",
)
async def alert_timeline(request: Request, caller: Caller, alert_id: AlertId) -> Response:
    async with _pool(request).connection() as conn:
        found = await history.get_alert(conn, alert_id, caller.tenant)
        if found is None:
            raise not_found("alert")
        alert, breakdown = found
        explanation = explain(alert, breakdown, await history.previous_alerts(conn, alert))
        story = timeline(
            alert,
            explanation,
            await history.notifications_of(conn, alert),
            await history.dead_letters_of(conn, alert),
            await history.audit_of(conn, alert),
            await later_alerts(conn, alert),
        )
    return _json(story)


@router.get(
    "/stats/overview",
    response_model=Overview,
    summary="Series for the console's overview: alerts by severity, suppressions, deliveries, breakers, noise",
)
async def stats_overview(
    request: Request, caller: Caller, tenant: Name = None, since: Time = None, until: Time = None
) -> Response:
    now = datetime.now(UTC)
    start, end = time_range(since, until, now)
    scope = _scope(caller, tenant)
    async with _pool(request).connection() as conn:
        return _json(await overview(conn, scope, start, end, now))


@router.post(
    "/matchers/preview",
    response_model=Preview,
    summary="The firing alerts label matchers select now (a silence's preview)",
    responses=responses(413),
)
async def matchers_preview(request: Request, caller: Caller, body: PreviewRequest, tenant: Name = None) -> Response:
    try:
        matchers = [Matcher.from_api(m.model_dump()) for m in body.matchers]
    except MatcherError as exc:
        raise ApiProblem(422, f"matchers: {exc}", "invalid-request") from None
    scope = _scope(caller, tenant)
    async with _pool(request).connection() as conn:
        return _json(await preview(conn, matchers, scope, datetime.now(UTC)))
