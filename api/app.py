"""The FastAPI application of `alertstream api`: routes, errors as problem details, request
limits, Prometheus metrics, health, and docs served from this process (no CDN).

``create_app`` takes a DSN and limits and returns the app; the pool opens in the lifespan (an
unreachable database does not stop the start: ``/readyz`` says 503 until it answers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alertstream import __version__
from alertstream.api import dlq_routes, problems, v2_routes
from alertstream.api.auth import KeyCache
from alertstream.api.console.router import router as console_router
from alertstream.api.lifecycle_bus import BusConfig, LifecycleBus
from alertstream.api.lifecycle_routes import register as register_lifecycle
from alertstream.api.limits import RequestLimits
from alertstream.api.models import Health
from alertstream.api.observe import Observe
from alertstream.api.pipeline import Pipeline
from alertstream.api.rate_limit import RateLimiter
from alertstream.api.routes import router
from alertstream.runtime import metrics as _contract_metrics  # noqa: F401 - alertstream_build_info on /metrics

log = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = 5000

DESCRIPTION = """The history of alertstream: alerts with their notifications, delivery attempts and audit
trail, why each alert fired, stats and the dead-letter topics; and the Alertmanager API v2 subset
Prometheus and amtool use (`/api/v2`: receive alerts, current alerts, status, receivers). Every
`/api/v1` and `/api/v2` request needs an API key (`Authorization: Bearer ask_…` or `X-API-Key`);
a tenant key sees its tenant only. Errors are RFC 9457 problem details (`application/problem+json`)."""


async def _configure(conn: AsyncConnection[Any]) -> None:
    await conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")


def create_app(
    dsn: str,
    *,
    rate_limit: float = 20.0,
    max_request_bytes: int = 65_536,
    max_alerts_bytes: int = 4 * 1024 * 1024,
    pool_size: int = 10,
    pipeline: Pipeline | None = None,
    bus: BusConfig | None = None,
) -> FastAPI:
    """``pipeline``: the broker, topics, codec and config of ``/api/v2`` and the DLQ endpoints
    (without one they answer 503); ``bus``: where acknowledgements and silences are published (without
    one those endpoints answer 503); ``max_alerts_bytes``: the body limit of ``POST /api/v2/alerts``."""
    connected = pipeline or Pipeline()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=pool_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        configure=_configure,
        # no check on every checkout (a round trip per request): a connection that broke is
        # discarded when it fails (that request answers 503) and the pool opens a new one
        max_idle=300,
        timeout=5.0,
        open=False,
        name="alertstream-api",
    )

    lifecycle = LifecycleBus(bus.bootstrap, bus.topics, bus.config) if bus is not None else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)
        connected.start()
        if lifecycle is not None:
            lifecycle.start()  # threads: returns at once
        try:
            yield
        finally:
            if lifecycle is not None:
                lifecycle.stop()
            await connected.close()
            await pool.close()

    app = FastAPIOffline(
        title="alertstream",
        version=__version__,
        description=DESCRIPTION,
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},  # the badge would load from validator.swagger.io
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.state.bus = lifecycle
    app.state.keys = KeyCache(pool)
    app.state.limiter = RateLimiter(rate=rate_limit, burst=max(1.0, 2 * rate_limit))
    app.state.pipeline = connected
    app.state.started = datetime.now(UTC)
    app.state.dlq_slots = asyncio.Semaphore(dlq_routes.CONCURRENT)
    problems.install(app)
    # acks, silences (v1 and Alertmanager v2), schedules, trails; before `router`: the first route
    # whose path matches answers a wrong method, and /alerts/{alert_id} (GET) would claim /alerts/ack
    register_lifecycle(app)
    app.include_router(router)
    app.include_router(v2_routes.router)
    app.include_router(dlq_routes.router)
    app.include_router(console_router)  # the web console at / and the endpoints it needs
    _operations(app, pool)
    app.add_middleware(
        RequestLimits, max_bytes=max_request_bytes, larger={("POST", "/api/v2/alerts"): max_alerts_bytes}
    )
    app.add_middleware(Observe)  # outermost: also counts what the limits refuse
    return app


def _operations(app: FastAPI, pool: AsyncConnectionPool[Any]) -> None:
    @app.get("/healthz", response_model=Health, tags=["operations"], summary="The process is up")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        tags=["operations"],
        summary="The database answers and is migrated",
        responses=problems.responses(503),
    )
    async def readyz() -> Health:
        try:
            async with pool.connection(timeout=2.0) as conn:
                row = await (await conn.execute("SELECT to_regclass('api_keys') IS NOT NULL AS migrated")).fetchone()
        except Exception as exc:  # any failure to reach the database is "not ready"
            raise problems.ApiProblem(503, f"database unavailable ({type(exc).__name__})", "unavailable") from None
        if row is None or not row["migrated"]:
            raise problems.ApiProblem(503, "the database is not migrated (alertstream db migrate)", "unavailable")
        return Health(status="ready")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
