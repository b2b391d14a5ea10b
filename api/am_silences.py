"""Alertmanager API v2 silences: ``/api/v2/silences`` and ``/api/v2/silence/{id}``, so that
``amtool silence add|query|expire`` (and Grafana's Alertmanager data source) work unchanged.

The shapes are Alertmanager's (``api/v2/openapi.yaml``: ``postableSilence``, ``gettableSilence``
with ``status.state``, ``{"silenceID": …}``); the rules are alertstream's
(:mod:`alertstream.api.silence_service`: API keys, tenant scope). amtool authenticates with
``--http.config.file`` holding ``authorization: {credentials: ask_…}``. ``createdBy`` is kept
as given, prefixed by the key that made the silence (``api-key:<id> (alice)``), which is also the
audit log's actor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from alertstream.api.auth import Caller
from alertstream.api.problems import ApiProblem, not_found, responses
from alertstream.api.silence_service import create, expire, listing, now_ms
from alertstream.schemas.matchers import Matcher, MatcherError, matches_all, parse_matchers
from alertstream.schemas.silences import Silence

router = APIRouter(prefix="/api/v2", responses=responses(400, 401, 404, 422, 429, 503), tags=["alertmanager-v2"])
SilenceId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class V2Matcher(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    value: str = Field(max_length=1024)
    isRegex: bool
    isEqual: bool = True


class PostableSilence(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=128)
    matchers: list[V2Matcher] = Field(min_length=1, max_length=64)
    startsAt: datetime
    endsAt: datetime
    createdBy: str = Field(default="", max_length=256)
    comment: str = Field(default="", max_length=2048)


def _ms(at: datetime) -> int:
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gettable(s: Silence) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now_ms())},
        "updatedAt": _iso(s.updated_at),
        "matchers": [m.to_api() for m in s.matchers],
        "startsAt": _iso(s.starts_at),
        "endsAt": _iso(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
    }


@router.get("/silences", summary="Silences (Alertmanager API v2)")
async def get_silences(
    request: Request, caller: Caller, filter: Annotated[list[str] | None, Query(max_length=64)] = None
) -> list[dict[str, Any]]:
    try:
        wanted = [m for text in filter or () for m in parse_matchers(text)]
    except MatcherError as exc:
        raise ApiProblem(400, str(exc), "invalid-request") from None
    out = []
    for s in listing(request, caller):
        labels = {m.name: m.value for m in s.matchers if m.op == "="}
        if matches_all(wanted, labels):
            out.append(gettable(s))
    return out


@router.post("/silences", summary="Create or update a silence (Alertmanager API v2)")
async def post_silence(request: Request, caller: Caller, body: PostableSilence) -> dict[str, str]:
    try:
        matchers = [Matcher.from_api(m.model_dump()) for m in body.matchers]
    except MatcherError as exc:
        raise ApiProblem(400, str(exc), "invalid-request") from None
    by = f"{caller.actor} ({body.createdBy})" if body.createdBy else caller.actor
    s = await create(request, caller, matchers, _ms(body.startsAt), _ms(body.endsAt), body.comment, by, body.id or None)
    return {"silenceID": s.id}


@router.get("/silence/{silence_id}", summary="One silence (Alertmanager API v2)")
async def get_silence(request: Request, caller: Caller, silence_id: SilenceId) -> dict[str, Any]:
    found = next((s for s in listing(request, caller) if s.id == silence_id), None)
    if found is None:
        raise not_found("silence")
    return gettable(found)


@router.delete("/silence/{silence_id}", summary="Expire a silence (Alertmanager API v2)")
async def delete_silence(request: Request, caller: Caller, silence_id: SilenceId) -> dict[str, Any]:
    await expire(request, caller, silence_id)
    return {}
