"""``/api/v1/dlq/{channel}``: a channel's dead-letter topic over HTTP, with the semantics of
``alertstream dlq list|replay`` — the same code (:mod:`alertstream.runtime.dlq`), run on a thread
(it is a blocking Kafka read) and at most :data:`CONCURRENT` at a time per API process.

* ``GET`` lists the dead-lettered tasks (since/until on the time they were dead-lettered,
  fingerprint). A tenant key sees its tenant's tasks only (undecodable entries name no tenant:
  admin keys only); another tenant's fingerprint lists nothing.
* ``POST …/replay`` (admin keys only) puts the selected tasks back on retry tier 1, due now, with
  the replay marker; the delivery id is kept, so the ledger makes a second replay notify nothing.
  The request is written to the audit log (``dlq_replayed``, actor ``api-key:<id>``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from alertstream.api.auth import Caller
from alertstream.api.pipeline import broker_of
from alertstream.api.problems import ApiProblem, not_found, responses
from alertstream.api.routes import RFC3339, Name, Time, _utc
from alertstream.runtime.dlq import DlqTopicMissing, read_dlq, replay, select

#: DLQ reads/replays one API process runs at once (each is a consumer reading a topic).
CONCURRENT = 2
#: A read ends once nothing new arrived for this long (the CLI waits 1.5 s).
IDLE_SECONDS = 0.5
MAX_ITEMS = 1000

router = APIRouter(prefix="/api/v1/dlq", tags=["dlq"], responses=responses(401, 404, 422, 429, 503))
Channel = Annotated[Literal["webhook", "slack", "pagerduty", "email"], Path(description="the delivery channel")]


class DlqTask(BaseModel):
    partition: int
    offset: int
    dead_lettered_at: datetime
    reason: str
    delivery_id: str | None
    receiver: str | None
    attempt: int | None
    severity: str | None
    fingerprint: str | None
    alert_id: str | None
    tenant: str | None
    error: str | None


class DlqListing(BaseModel):
    items: list[DlqTask]
    truncated: bool = Field(description=f"more than {MAX_ITEMS} tasks matched: narrow since/until")


class ReplayRequest(BaseModel):
    since: Annotated[str | None, Field(pattern=RFC3339, max_length=40, json_schema_extra={"format": "date-time"})] = (
        None
    )
    until: Annotated[str | None, Field(pattern=RFC3339, max_length=40, json_schema_extra={"format": "date-time"})] = (
        None
    )
    fingerprint: Annotated[str | None, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")] = None
    delivery_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]] | None,
        Field(max_length=1000, description="only these deliveries (the console's replay of one delivery)"),
    ] = None


class ReplayResult(BaseModel):
    replayed: int = Field(description="tasks put back on retry tier 1")
    skipped_undecodable: int
    topic: str


def _ms(text: str | None, name: str) -> int | None:
    at = _utc(text, name)
    return None if at is None else int(at.timestamp() * 1000)


async def _off_loop(request: Request, fn: Any, *args: Any, **kwargs: Any) -> Any:
    slots: asyncio.Semaphore = request.app.state.dlq_slots
    async with slots:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except DlqTopicMissing:
            raise not_found("DLQ topic") from None


@router.get("/{channel}", response_model=DlqListing, summary="The dead-lettered tasks of a channel")
async def list_dlq(
    request: Request,
    caller: Caller,
    channel: Channel,
    since: Time = None,
    until: Time = None,
    fingerprint: Name = None,
) -> Response:
    pipeline, bootstrap, _ = broker_of(request)

    def read() -> list[dict[str, Any]]:
        entries = read_dlq(bootstrap, pipeline.topics, channel, codec=pipeline.codec, idle_seconds=IDLE_SECONDS)
        chosen = select(entries, _ms(since, "since"), _ms(until, "until"), fingerprint, caller.tenant)
        out = []
        for e in chosen:
            out.append(e.summary())
            if len(out) > MAX_ITEMS:
                break
        return out

    found: list[dict[str, Any]] = await _off_loop(request, read)
    items = [
        DlqTask(**{**s, "dead_lettered_at": datetime.fromtimestamp(s["dead_lettered_at"] / 1000, UTC)})
        for s in found[:MAX_ITEMS]
    ]
    return Response(
        DlqListing(items=items, truncated=len(found) > MAX_ITEMS).model_dump_json(), media_type="application/json"
    )


@router.post(
    "/{channel}/replay",
    response_model=ReplayResult,
    summary="Put dead-lettered tasks back on retry tier 1 (admin keys)",
    responses=responses(400, 403),  # 400: a body that is not JSON
)
async def replay_dlq(request: Request, caller: Caller, channel: Channel, body: ReplayRequest) -> Response:
    if caller.tenant is not None:
        raise ApiProblem(403, "replaying a DLQ needs an admin key", "forbidden")
    pipeline, bootstrap, _ = broker_of(request)
    since, until = _ms(body.since, "since"), _ms(body.until, "until")
    done, skipped = await _off_loop(
        request,
        replay,
        bootstrap,
        pipeline.topics,
        channel,
        since,
        until,
        body.fingerprint,
        codec=pipeline.codec,
        idle_seconds=IDLE_SECONDS,
        delivery_ids=set(body.delivery_ids) if body.delivery_ids is not None else None,
    )
    async with request.app.state.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, details) VALUES (now(), %s, 'dlq_replayed', %s::jsonb)",
            (caller.actor, json.dumps({"channel": channel, **body.model_dump(), "replayed": done, "skipped": skipped})),
        )
    result = ReplayResult(replayed=done, skipped_undecodable=skipped, topic=pipeline.topics.retry(channel, 1))
    return Response(result.model_dump_json(), media_type="application/json")
