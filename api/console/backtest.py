"""`POST /api/v1/backtest` and `GET /api/v1/backtest/{id}`: what a proposed config would have done,
run off the request path (:mod:`.backtest_runner`). Admin keys only: a backtest reads every
tenant's recorded events unless it names one.

The request is checked before a job exists: the window (at most ``MAX_WINDOW``, warm-up at most
``MAX_WARMUP``) and each config, parsed and validated with the config model every process uses
(errors name the document, the path in it and the problem). YAML aliases are refused: a few
hundred bytes of nested aliases expand into billions of nodes for a validator.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, FastAPI, Path, Request, Response

from alertstream.api.auth import Caller, Principal
from alertstream.api.console.backtest_runner import QUEUED, RUNNING, TIMEOUT_SECONDS, BacktestRunner, Busy, JobSpec
from alertstream.api.console.models import BacktestJob, BacktestRequest
from alertstream.api.problems import ApiProblem, not_found, responses
from alertstream.api.routes import _json, _utc
from alertstream.schemas.config import parse_config
from alertstream.schemas.errors import ConfigError
from alertstream.schemas.matchers import MatcherError, parse_matchers
from alertstream.schemas.silences import SilenceError, new_silence

MAX_WINDOW = timedelta(days=7)
MAX_WARMUP = timedelta(days=1)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]

router = APIRouter(prefix="/api/v1/backtest", tags=["backtest"], responses=responses(401, 403, 422, 429, 503))


def runner_of(app: FastAPI) -> BacktestRunner:
    found: BacktestRunner | None = getattr(app.state, "console_backtest", None)
    if found is None:
        found = app.state.console_backtest = BacktestRunner(app.state.pool)
    return found


def _admin(caller: Principal) -> None:
    if caller.tenant is not None:
        raise ApiProblem(403, "backtests need an admin key (they replay every tenant's events)", "forbidden")


def duration(text: str) -> timedelta:
    match = re.fullmatch(r"([0-9]+)([smhd])", text)
    if match is None:
        raise ApiProblem(422, f"{text!r} is not a duration (e.g. 30m, 12h, 7d)", "invalid-request")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def window(body: BacktestRequest, now: datetime) -> tuple[datetime, datetime]:
    if body.since is not None and body.from_ is not None:
        raise ApiProblem(422, "give since or from/to, not both", "invalid-request")
    end = _instant(body.to, "to") or now
    start = _instant(body.from_, "from") or end - duration(body.since or "24h")
    if start >= end:
        raise ApiProblem(422, "the window is empty: its start is not before its end", "invalid-request")
    if end - start > MAX_WINDOW:
        raise ApiProblem(422, f"the window may span at most {MAX_WINDOW.days} days", "invalid-request")
    if end > now + timedelta(minutes=5):
        raise ApiProblem(422, "the window ends in the future", "invalid-request")
    if duration(body.warmup) > MAX_WARMUP:
        raise ApiProblem(422, f"the warm-up may be at most {MAX_WARMUP.days} day", "invalid-request")
    return start, end


def _instant(text: str | None, name: str) -> datetime | None:
    return _utc(text, name)


def checked_config(text: str, name: str) -> None:
    """Refuse YAML with aliases, then validate like `alertstream config validate`."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ApiProblem(422, f"{name}: YAML aliases (*name) are not accepted here", "invalid-config")
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ApiProblem(
            422, f"{name}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}", "invalid-config"
        ) from None
    try:
        parse_config(data, name)
    except ConfigError as exc:
        raise ApiProblem(422, str(exc)[:4000], "invalid-config") from None


@router.post(
    "",
    status_code=202,
    response_model=BacktestJob,
    summary="Start a backtest of a proposed config (admin keys; runs in the background)",
    responses=responses(413),
)
async def start_backtest(request: Request, caller: Caller, body: BacktestRequest) -> Response:
    _admin(caller)
    start, end = window(body, datetime.now(UTC))
    checked_config(body.config, "config")
    if body.baseline is not None:
        checked_config(body.baseline, "baseline")
    for i, matchers in enumerate(body.silences):
        try:  # as `alertstream backtest --silence` checks it (a silence must select something)
            new_silence(parse_matchers(matchers), 0, 1, "backtest", "proposed", 0)
        except (MatcherError, SilenceError) as exc:
            raise ApiProblem(422, f"silences[{i}]: {exc}", "invalid-request") from None
    spec = JobSpec(start, end, body.warmup, body.tenant, body.config, body.baseline, tuple(body.silences))
    try:
        job = await runner_of(request.app).submit(spec, caller.actor)
    except Busy:
        raise ApiProblem(
            429,
            f"{RUNNING + QUEUED} backtests are running or queued on this server: try again later",
            "busy",
            {"Retry-After": str(int(TIMEOUT_SECONDS))},
        ) from None
    response = _json(job)
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/backtest/{job.job_id}"
    return response


@router.get("", response_model=list[BacktestJob], summary="The latest backtest jobs (admin keys)")
async def list_backtests(request: Request, caller: Caller) -> Response:
    _admin(caller)
    jobs = await runner_of(request.app).recent()
    return Response(
        "[" + ",".join(j.model_dump_json() for j in jobs) + "]",
        media_type="application/json",
    )


@router.get(
    "/{job_id}",
    response_model=BacktestJob,
    summary="A backtest job: state, and its JSON report once done",
    responses=responses(404),
)
async def get_backtest(request: Request, caller: Caller, job_id: JobId) -> Response:
    _admin(caller)
    job = await runner_of(request.app).get(job_id)
    if job is None:
        raise not_found("backtest job")
    return _json(job)


@router.get(
    "/{job_id}/report.html",
    summary="The job's self-contained HTML report (as `alertstream backtest --out` writes it)",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **responses(404)},
    response_class=Response,
)
async def backtest_html(request: Request, caller: Caller, job_id: JobId) -> Response:
    _admin(caller)
    html = await runner_of(request.app).html(job_id)
    if html is None:
        raise not_found("backtest report")
    # opened on its own, the report may not run scripts or load anything
    csp = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return Response(html, media_type="text/html", headers={"Content-Security-Policy": csp})
