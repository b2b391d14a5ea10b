"""The console's page and its assets, served by the API itself: nothing is loaded from outside
the host (the Content-Security-Policy says so to the browser too: scripts, styles, images and
connections from this origin only).

The console is one static page (``assets/index.html``) with a little vanilla JavaScript, as ES
modules, and no build step or third-party code: the page reads the API with the key the user
typed in (kept in sessionStorage, sent as ``Authorization: Bearer``; never in a URL or a cookie).
Every console path (``/``, ``/alerts/{id}``, ``/overview``, …) answers the same page, which routes
on the path in the browser; the data, and whether it exists for the key, comes from the API.
Assets are read once at start from the package (they ship in the wheel) and served with an ETag.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Path, Request, Response

from alertstream.api.problems import not_found

#: where a page may load from: this origin only. Inline styles are allowed for the backtest's
#: HTML report (shown as is, in a sandboxed frame without scripts); scripts never inline.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGES = ("/", "/login", "/alerts", "/overview", "/silences", "/oncall", "/backtest")
ASSET_PREFIX = "/console/assets/"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Asset]:
    out: dict[str, Asset] = {}
    for item in folder.iterdir():
        name = f"{prefix}{item.name}"
        if item.is_dir():
            out.update(_walk(item, f"{name}/"))
        elif not item.name.startswith("."):
            body = item.read_bytes()
            suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
            media = _TYPES.get(suffix) or mimetypes.guess_type(item.name)[0] or "application/octet-stream"
            out[name] = Asset(body, media, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return out


def load_assets() -> dict[str, Asset]:
    """Every file under ``assets/`` by its relative path (``js/main.js``)."""
    return _walk(resources.files("alertstream.api.console") / "assets")


ASSETS = load_assets()
router = APIRouter(include_in_schema=False)


def _answer(request: Request, asset: Asset, cache: str) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache, **SECURITY_HEADERS}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    media = f"{asset.media_type}; charset=utf-8" if asset.media_type.startswith("text/") else asset.media_type
    return Response(asset.body, media_type=media, headers=headers)


async def page(request: Request) -> Response:
    """The console's one page, for every console path."""
    return _answer(request, ASSETS["index.html"], "no-cache")


for _path in PAGES:
    router.add_api_route(_path, page, methods=["GET"])


@router.get("/alerts/{alert_id}")
async def alert_page(request: Request, alert_id: str = Path(max_length=256)) -> Response:
    return await page(request)


@router.get(ASSET_PREFIX + "{name:path}")
async def asset(request: Request, name: str = Path(max_length=200)) -> Response:
    found = ASSETS.get(name)
    if found is None or name == "index.html":
        raise not_found("asset")
    return _answer(request, found, "no-cache")
