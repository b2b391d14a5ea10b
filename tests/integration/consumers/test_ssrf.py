"""SSRF at delivery: hostile receiver URLs are refused before any connection; redirects are never followed.

(`config validate` refuses the same URLs in the file: tests/unit/schemas/test_receiver_urls.py.)"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from alertstream.consumers.channels import build_channel
from alertstream.consumers.channels.http_base import post
from alertstream.consumers.http import HttpClients
from alertstream.consumers.model import tasks_for
from alertstream.consumers.receivers import ResolvedReceiver, Secret
from alertstream.schemas.errors import PermanentDeliveryError
from tests.integration.consumers.helpers import Receiver, config_with, make_alert
from tests.ssrf_cases import hostile_urls

pytestmark = pytest.mark.integration


class Trap:
    """Listens on loopback (v4 and, where available, v6) and records every connection."""

    def __init__(self) -> None:
        self.connections: list[str] = []
        self.servers: list[asyncio.Server] = []
        self.port = 0

    async def on_connect(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(str(writer.get_extra_info("peername")))
        writer.close()

    async def __aenter__(self) -> Trap:
        server = await asyncio.start_server(self.on_connect, "127.0.0.1", 0)
        self.servers.append(server)
        self.port = server.sockets[0].getsockname()[1]
        with contextlib.suppress(OSError):
            self.servers.append(await asyncio.start_server(self.on_connect, "::1", self.port))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for server in self.servers:
            server.close()


async def test_hostile_urls_are_refused_by_the_http_client_with_zero_connections() -> None:
    """Defence in depth: a URL that never met the config validator (a model built in code) is
    refused by the HTTP channels' own check of the same rule, before any connection."""
    async with Trap() as trap:
        urls = hostile_urls(trap.port)
        assert len(urls) >= 40
        config = config_with([{"name": "h", "channel": "webhook", "url": "https://hooks.example.com/h"}])
        checked = config.receivers[0].model_copy(update={"timeout_seconds": 1, "connect_timeout_seconds": 1})
        clients = HttpClients()
        refused: dict[str, str] = {}
        try:
            for url in urls:
                receiver = ResolvedReceiver(config=checked, url=Secret(url))
                try:
                    await post(clients, receiver, b"{}", {}, 60.0)
                except PermanentDeliveryError as exc:
                    refused[url] = exc.reason
                except Exception as exc:  # report, do not hide
                    refused[url] = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            await clients.aclose()
    assert refused == dict.fromkeys(urls, "ssrf_refused")
    assert trap.connections == [], "no connection reached the trap"


async def test_hostile_url_env_values_are_refused_with_zero_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same URLs given through ``url_env`` (which the file cannot show): refused when the
    deliver process resolves its receivers, every task a permanent ssrf_refused, no connection."""
    async with Trap() as trap:
        urls = hostile_urls(trap.port)
        for i, url in enumerate(urls):
            monkeypatch.setenv(f"T_HOSTILE_URL_{i}", url)
        receivers = [{"name": f"h{i}", "channel": "webhook", "url_env": f"T_HOSTILE_URL_{i}"} for i in range(len(urls))]
        channel = build_channel("webhook", config_with(receivers))
        refused: dict[str, str] = {}
        try:
            for i, url in enumerate(urls):
                (task,) = tasks_for(make_alert([(f"h{i}", "webhook")]), "webhook")
                try:
                    await channel.send(task)
                except PermanentDeliveryError as exc:
                    refused[url] = exc.reason
        finally:
            await channel.aclose()
    assert refused == dict.fromkeys(urls, "ssrf_refused")
    assert trap.connections == [], "no connection reached the trap"


async def test_redirect_to_loopback_is_not_followed() -> None:
    trap = Receiver()
    await trap.start()
    redirector = Receiver(respond=lambda _p, _n: (302, {"Location": trap.url("/stolen")}))
    await redirector.start()
    receivers = [{"name": "r", "channel": "webhook", "url": redirector.url("/hook"), "allow_private": True}]
    channel = build_channel("webhook", config_with(receivers))
    (task,) = tasks_for(make_alert([("r", "webhook")]), "webhook")
    try:
        with pytest.raises(PermanentDeliveryError) as err:
            await channel.send(task)
    finally:
        await channel.aclose()
        await trap.stop()
        await redirector.stop()
    assert err.value.reason == "http_3xx"
    assert len(redirector.hits) == 1
    assert trap.hits == []


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """The event loop's getaddrinfo answers ``answers`` (and records each name asked)."""
    import socket
    from typing import Any

    asked: list[str] = []
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, port: int, **_kw: Any) -> list[Any]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("transport", ["reqwest", "aiohttp"])
async def test_the_client_connects_to_the_checked_answer_only(monkeypatch: pytest.MonkeyPatch, transport: str) -> None:
    """A name is resolved once by the checking resolver and the connection goes to that checked
    address: ``pinned.invalid`` exists in no DNS, so reaching the receiver proves the client used
    the checked answer (no lookup of its own to rebind); a name with a private answer is refused
    before any connection."""
    receiver = Receiver()
    await receiver.start()
    asked = _fake_dns(monkeypatch, {"pinned.invalid": ["127.0.0.1"], "rebind.invalid": ["127.0.0.1"]})
    clients = HttpClients(transport)
    try:
        for n in range(3):  # the answer is reused (one lookup), the connection kept
            answer = await clients.post(f"http://pinned.invalid:{receiver.port}/p{n}", b"{}", {}, True, 2.0, 5.0)
            assert answer.status_code == 200
        with pytest.raises(PermanentDeliveryError) as err:
            await clients.post(f"http://rebind.invalid:{receiver.port}/no", b"{}", {}, False, 2.0, 5.0)
    finally:
        await clients.aclose()
        await receiver.stop()
    assert err.value.reason == "ssrf_refused"
    assert [h.path for h in receiver.hits] == ["/p0", "/p1", "/p2"]
    assert asked == ["pinned.invalid", "rebind.invalid"]
