"""SSRF: hostile receiver URLs are refused before any connection; redirects are never followed."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from alertstream.consumers.channels import build_channel
from alertstream.consumers.model import tasks_for
from alertstream.schemas.errors import PermanentDeliveryError
from tests.integration.consumers.helpers import Receiver, config_with, make_alert

pytestmark = pytest.mark.integration


def hostile_urls(port: int) -> list[str]:
    p = port
    return [
        f"http://127.0.0.1:{p}/",
        f"http://localhost:{p}/",
        f"http://LOCALHOST:{p}/",
        f"http://127.0.0.1.:{p}/",
        f"http://2130706433:{p}/",
        f"http://0177.0.0.1:{p}/",
        f"http://0x7f.0.0.1:{p}/",
        f"http://0x7f000001:{p}/",
        f"http://017700000001:{p}/",
        f"http://127.1:{p}/",
        f"http://127.0.1:{p}/",
        f"http://127.000.000.001:{p}/",
        f"http://0x7f.0x0.0x0.0x1:{p}/",
        f"https://127.0.0.1:{p}/",
        f"http://[::1]:{p}/",
        f"http://[0:0:0:0:0:0:0:1]:{p}/",
        f"http://[::ffff:127.0.0.1]:{p}/",
        f"http://[::ffff:7f00:1]:{p}/",
        f"http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/",
        f"http://0.0.0.0:{p}/",
        f"http://0:{p}/",
        f"http://[::]:{p}/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://2852039166/latest/meta-data/",  # 169.254.169.254 in decimal
        f"http://10.0.0.1:{p}/",
        f"http://172.16.0.1:{p}/",
        f"http://192.168.1.1:{p}/",
        f"http://100.64.0.1:{p}/",
        f"http://[fe80::1]:{p}/",
        f"http://[fc00::1]:{p}/",
        f"http://[64:ff9b::7f00:1]:{p}/",
        f"http://[2002:7f00:1::]:{p}/",
        f"http://224.0.0.1:{p}/",
        f"http://255.255.255.255:{p}/",
        "http://user:pass@example.com/",
    ]


async def test_hostile_urls_are_refused_with_zero_connections() -> None:
    connections: list[str] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(str(writer.get_extra_info("peername")))
        writer.close()

    trap = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = trap.sockets[0].getsockname()[1]
    trap6 = None
    with contextlib.suppress(OSError):
        trap6 = await asyncio.start_server(on_connect, "::1", port)
    urls = hostile_urls(port)
    assert len(urls) >= 30
    receivers = [
        {"name": f"h{i}", "channel": "webhook", "url": u, "timeout_seconds": 1, "connect_timeout_seconds": 1}
        for i, u in enumerate(urls)
    ]
    channel = build_channel("webhook", config_with(receivers))
    refused: dict[str, str] = {}
    try:
        for i, url in enumerate(urls):
            (task,) = tasks_for(make_alert([(f"h{i}", "webhook")]), "webhook")
            try:
                await channel.send(task)
            except PermanentDeliveryError as exc:
                refused[url] = exc.reason
            except Exception as exc:  # report, do not hide
                refused[url] = f"unexpected {type(exc).__name__}: {exc}"
    finally:
        await channel.aclose()
        trap.close()
        if trap6 is not None:
            trap6.close()
    assert refused == dict.fromkeys(urls, "ssrf_refused")
    assert connections == [], "no connection reached the trap"


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
