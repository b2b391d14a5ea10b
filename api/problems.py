"""RFC 9457 problem details: every error the API answers is ``application/problem+json`` with
``type``, ``title``, ``status`` and ``detail`` — validation errors, unknown routes, auth, limits,
and even an unexpected failure (a 500 that names nothing internal)."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    type: str = Field(description="a URI naming the kind of problem; about:blank = see the status")
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        default=None, description="each invalid parameter (or refused alert of a batch): loc, msg"
    )


class ApiProblem(Exception):
    """Raised by handlers for an answer other than 2xx."""

    def __init__(
        self,
        status: int,
        detail: str,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers or {}
        self.errors = errors


def not_found(what: str = "resource") -> ApiProblem:
    """The one answer for "absent" and "another tenant's": nothing tells them apart."""
    return ApiProblem(404, f"no such {what}", "not-found")


def problem_response(
    status: int,
    detail: str,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> JSONResponse:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = Problem(
        type=f"urn:alertstream:problem:{kind}" if kind else "about:blank",
        title=title,
        status=status,
        detail=detail,
        errors=errors,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _allowed(request: Request) -> str:
    """The methods of the request's path: Starlette answers 405 with the methods of the first
    route that matches the path only, though a path may have one route per method. A documented
    path answers what its OpenAPI entry lists — where several templates match (``/alerts/ack``
    and ``/alerts/{alert_id}``) the most literal one, as clients read the document; any other
    path what the router answers, asked method by method (included routers hide their routes)."""
    path = request.scope.get("path", "")
    documented = [(t, ops) for t, ops in request.app.openapi().get("paths", {}).items() if _template(t).fullmatch(path)]
    if documented:
        _t, ops = min(documented, key=lambda item: item[0].count("{"))
        return ", ".join(sorted(m for m in _METHODS if m.lower() in ops))
    probe = [
        m
        for m in _METHODS
        if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in request.app.router.routes)
    ]
    return ", ".join(sorted(probe))


def install(app: FastAPI) -> None:
    """Route every error through :func:`problem_response`."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, exc.kind, exc.headers, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", ""))[:300]} for e in exc.errors()][:20]
        detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)[:1000] or "invalid request"
        return problem_response(422, detail, "invalid-request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 400:  # FastAPI's only own 400: a body it could not decode (e.g. not UTF-8)
            return problem_response(422, "the request body is not JSON text in UTF-8", "invalid-request")
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request) or headers.get("Allow", "")
        return problem_response(exc.status_code, detail, None, headers)

    @app.exception_handler(psycopg.OperationalError)
    async def _database(_request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("api: database unavailable: %s", type(exc).__name__)
        return problem_response(503, "the history database is unavailable; try again", "unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api: unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "unexpected error; it has been logged", "internal")


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the problem answers a route can give."""
    schema = Problem.model_json_schema()
    return {
        status: {"description": HTTPStatus(status).phrase, "content": {MEDIA_TYPE: {"schema": schema}}}
        for status in statuses
    }
