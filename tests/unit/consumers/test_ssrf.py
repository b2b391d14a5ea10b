"""The HTTP channels' resolver checks every answer with the contract's SSRF policy."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from alertstream.consumers.http import CheckedResolver
from alertstream.schemas.ssrf import SsrfRefused


def _fake_getaddrinfo(answers: list[str]) -> Any:
    async def getaddrinfo(host: str, port: int, **_kw: Any) -> list[Any]:
        out = []
        for a in answers:
            fam = socket.AF_INET6 if ":" in a else socket.AF_INET
            out.append((fam, socket.SOCK_STREAM, 6, "", (a, port)))
        return out

    return getaddrinfo


async def test_resolver_refuses_a_name_if_any_answer_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _fake_getaddrinfo(["93.184.216.34", "127.0.0.1"]))
    with pytest.raises(SsrfRefused) as err:
        await CheckedResolver(allow_private=False).resolve("rebind.example", 80)
    assert err.value.reason == "loopback"


async def test_resolver_returns_only_the_checked_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _fake_getaddrinfo(["93.184.216.34", "2606:2800:220:1::", "93.184.216.34"]))
    results = await CheckedResolver(allow_private=False).resolve("example.com", 443)
    assert [(r["host"], r["port"], r["hostname"]) for r in results] == [
        ("93.184.216.34", 443, "example.com"),
        ("2606:2800:220:1::", 443, "example.com"),
    ]
