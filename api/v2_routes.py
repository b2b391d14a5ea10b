"""The Alertmanager API v2 subset Prometheus and amtool use, under ``/api/v2``.

* ``POST /alerts`` — Prometheus' notifications (a JSON array of ``postableAlert``): validated,
  the tenant decided (:func:`alertstream.schemas.external_alerts.resolve_tenant`), published to
  ``events.alerts`` as ``ExternalAlert`` records keyed by fingerprint, answered 200 once the broker
  has acknowledged them. Like Alertmanager, a batch is accepted best-effort: its valid alerts are
  published and the invalid ones are named in a 400 problem (``errors``: index, field, reason), so
  one bad alert does not lose the others; a body that is not a JSON array publishes nothing.
* ``GET /alerts`` — the current alerts (:mod:`alertstream.api.am_alerts`), Alertmanager's filters;
  ``GET /alerts/groups`` the same by receiver and ``alertname``.
* ``GET /status``, ``GET /receivers`` — what amtool asks first (version check) and lists.

Every request needs an API key, like ``/api/v1`` (Prometheus: ``authorization: {credentials: …}``
in its ``alertmanagers`` config; amtool: ``--http.config.file``). A tenant key posts and sees its
own tenant's alerts only.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

import orjson
import yaml
from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from alertstream import __version__
from alertstream.api.am_alerts import AlertQuery, current_alerts, grouped
from alertstream.api.am_models import (
    AlertGroup,
    AlertmanagerConfig,
    AlertmanagerStatus,
    AmReceiver,
    ClusterStatus,
    GettableAlert,
    VersionInfo,
)
from alertstream.api.auth import Caller, Principal
from alertstream.api.pipeline import Pipeline, broker_of, pipeline_of
from alertstream.api.problems import ApiProblem, responses
from alertstream.api.publisher import PublishFailed
from alertstream.schemas import codec as c
from alertstream.schemas.errors import ValidationError
from alertstream.schemas.external_alerts import ExternalAlertEvent, postable_alert
from alertstream.schemas.matchers import Matcher, MatcherError, parse_matchers

#: At most this many alerts per request (Prometheus sends at most 64).
MAX_ALERTS = 10_000
#: At most this many refused alerts are named in a 400 problem.
MAX_ERRORS = 50

router = APIRouter(prefix="/api/v2", tags=["alertmanager-v2"], responses=responses(401, 422, 429))
_ALERTS = TypeAdapter(list[GettableAlert])
_RECEIVERS = TypeAdapter(list[AmReceiver])
_GROUPS = TypeAdapter(list[AlertGroup])

_LABEL_SET = {"type": "object", "additionalProperties": {"type": "string"}}
POSTABLE_ALERTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["labels"],
        "properties": {
            "labels": _LABEL_SET,
            "annotations": _LABEL_SET,
            "startsAt": {"type": "string", "format": "date-time"},
            "endsAt": {"type": "string", "format": "date-time"},
            "generatorURL": {"type": "string", "format": "uri"},
        },
    },
}


def _encoded(pipeline: Pipeline, events: list[ExternalAlertEvent]) -> list[tuple[bytes, bytes]]:
    topic = pipeline.topics.events_alerts
    encode = pipeline.codec.encode
    return [(e.key(), encode(c.EXTERNAL_ALERT, e.to_record(), topic)) for e in events]


@router.post(
    "/alerts",
    summary="Receive alerts (Prometheus' notifications): published to events.alerts",
    response_class=Response,
    responses={200: {"description": "every alert of the batch is on the broker"}, **responses(400, 413, 503)},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": POSTABLE_ALERTS}}}},
)
async def post_alerts(request: Request, caller: Caller) -> Response:
    pipeline, _bootstrap, publisher = broker_of(request)
    body = await request.body()
    try:
        items = orjson.loads(body)  # half the stdlib's time for a batch
    except orjson.JSONDecodeError:
        try:  # what only the stdlib reads (a lone surrogate escape): refused below, per alert, by name
            items = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiProblem(400, "the body is not JSON", "invalid-request") from None
    if not isinstance(items, list):
        raise ApiProblem(400, "the body must be a JSON array of alerts", "invalid-request")
    if len(items) > MAX_ALERTS:
        raise ApiProblem(413, f"at most {MAX_ALERTS} alerts per request", "too-many-alerts")
    now = int(time.time() * 1000)
    batch = uuid.uuid4().hex[:20]
    default_tenant = pipeline.config.external_alerts.default_tenant
    events: list[ExternalAlertEvent] = []
    errors: list[dict[str, str]] = []
    for i, item in enumerate(items):
        try:
            events.append(
                postable_alert(
                    item,
                    key_tenant=caller.tenant,
                    default_tenant=default_tenant,
                    now_ms=now,
                    source=caller.actor,
                    event_id=f"{batch}.{i}",
                )
            )
        except ValidationError as exc:
            errors.append(
                {"loc": f"body.{i}" + (f".{exc.path}" if exc.path else ""), "msg": f"{exc.reason}: {exc.detail}"}
            )
    if events:
        if pipeline.codec.pending_registrations([(c.EXTERNAL_ALERT, pipeline.topics.events_alerts)]):
            # registry mode, first request: the registration is a network call
            records = await asyncio.to_thread(_encoded, pipeline, events)
        else:
            records = _encoded(pipeline, events)
        try:
            await publisher.publish(records)
        except PublishFailed as exc:
            raise ApiProblem(503, f"the alerts were not published ({exc}); send them again", "unavailable") from None
    if errors:
        shown = errors[:MAX_ERRORS]
        raise ApiProblem(
            400,
            f"{len(errors)} of {len(items)} alerts refused (the other {len(events)} were accepted): "
            + "; ".join(f"{e['loc']}: {e['msg']}" for e in shown[:5])[:900],
            "invalid-alerts",
            errors=shown,
        )
    return Response(status_code=200)


Flag = Annotated[bool, Query()]
Filter = Annotated[
    list[Annotated[str, Query(max_length=1024)]] | None,
    Query(max_length=16, description='matchers on the label set, e.g. alertname="DiskFull" (repeatable)'),
]
ReceiverRegex = Annotated[str | None, Query(max_length=512, description="a regex over the receivers")]


def _query(
    filters: list[str] | None,
    receiver: str | None,
    active: bool,
    silenced: bool,
    inhibited: bool,
    unprocessed: bool = True,
    muted: bool = True,
) -> AlertQuery:
    """Alertmanager's filter parameters, or a 400 problem naming the bad one."""
    matchers: list[Matcher] = []
    for text in filters or ():
        try:
            matchers += parse_matchers(text)
        except MatcherError as exc:
            raise ApiProblem(400, f"filter: {exc}", "invalid-request") from None
    pattern = None
    if receiver is not None:
        try:
            pattern = re.compile(f"^(?:{receiver})\\Z")
        except re.error as exc:
            raise ApiProblem(400, f"receiver: invalid regex: {exc}", "invalid-request") from None
    return AlertQuery(tuple(matchers), pattern, active, silenced, inhibited, unprocessed, muted)


async def _current(request: Request, caller: Principal, query: AlertQuery) -> list[GettableAlert]:
    """The caller's current alerts passing ``query``, silenced as this process's silences view says."""
    bus = getattr(request.app.state, "bus", None)
    silences = bus.snapshot() if bus is not None else None
    async with request.app.state.pool.connection() as conn:
        return await current_alerts(conn, caller.tenant, query, datetime.now(UTC), silences)


@router.get(
    "/alerts",
    response_model=list[GettableAlert],
    summary="The current alerts (the latest record of each fingerprint is firing)",
    responses=responses(400, 414, 503),
)
async def get_alerts(
    request: Request,
    caller: Caller,
    active: Flag = True,
    silenced: Flag = True,
    inhibited: Flag = True,
    unprocessed: Flag = True,
    filter: Filter = None,
    receiver: ReceiverRegex = None,
) -> Response:
    alerts = await _current(request, caller, _query(filter, receiver, active, silenced, inhibited, unprocessed))
    return Response(_ALERTS.dump_json(alerts), media_type="application/json")


@router.get(
    "/alerts/groups",
    response_model=list[AlertGroup],
    summary="The current alerts grouped by receiver and alertname",
    responses=responses(400, 414, 503),
)
async def get_alert_groups(
    request: Request,
    caller: Caller,
    active: Flag = True,
    silenced: Flag = True,
    inhibited: Flag = True,
    muted: Flag = True,
    filter: Filter = None,
    receiver: ReceiverRegex = None,
) -> Response:
    query = _query(filter, receiver, active, silenced, inhibited, muted=muted)
    alerts = await _current(request, caller, query)
    groups = grouped(alerts)
    if query.receiver is not None:  # an alert's group of another receiver is not asked for
        groups = [g for g in groups if query.receiver.match(g.receiver.name)]
    return Response(_GROUPS.dump_json(groups), media_type="application/json")


def _original(pipeline: Pipeline) -> str:
    """The routing part of the config, as Alertmanager shows its config: no URLs, no secrets."""
    config = pipeline.config
    routes = config.routes.model_dump(mode="json", by_alias=True, exclude_defaults=True) if config.routes else {}
    shown = {
        "global": {"resolve_timeout": f"{config.external_alerts.resolve_timeout_seconds:g}s"},
        "route": routes,
        "receivers": [{"name": r.name, "channel": r.channel} for r in config.receivers],
    }
    return yaml.safe_dump(shown, sort_keys=False)


@router.get("/status", response_model=AlertmanagerStatus, summary="Version, config (routing only), uptime")
async def get_status(request: Request, _caller: Caller) -> Response:
    pipeline = pipeline_of(request)
    status = AlertmanagerStatus(
        cluster=ClusterStatus(status="disabled", peers=[]),
        versionInfo=VersionInfo(version=__version__, revision="", branch="", buildUser="", buildDate="", goVersion=""),
        config=AlertmanagerConfig(original=_original(pipeline)),
        uptime=request.app.state.started,
    )
    return Response(status.model_dump_json(exclude_none=True), media_type="application/json")


@router.get("/receivers", response_model=list[AmReceiver], summary="The receivers of the config")
async def get_receivers(request: Request, _caller: Caller) -> Response:
    pipeline = pipeline_of(request)
    return Response(
        _RECEIVERS.dump_json([AmReceiver(name=r.name) for r in pipeline.config.receivers]),
        media_type="application/json",
    )
