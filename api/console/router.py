"""The console's routes in one router (``app.include_router(console.router.router)``): its JSON
endpoints, the live stream, backtest jobs, and the page with its assets (registered last: the
page's paths never shadow an API path).

Its lifespan stops what the console started in this process when the API shuts down: the live
feed's poller and any backtest child."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from alertstream.api.console import backtest, endpoints, live, oncall, pages


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        feed = getattr(app.state, "console_live", None)
        if feed is not None:
            feed.stop()
        runner = getattr(app.state, "console_backtest", None)
        if runner is not None:
            await runner.close()


router = APIRouter(lifespan=lifespan)
router.include_router(endpoints.router)
router.include_router(live.router)
router.include_router(backtest.router)
router.include_router(oncall.router)
router.include_router(pages.router)
