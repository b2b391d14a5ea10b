from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from alertstream.consumers.http import CheckedResolver
from alertstream.consumers.ssrf import SsrfRefused, check_url, parse_ip, refusal


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("2130706433", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("017700000001", "loopback"),
        ("127.1", "loopback"),
        ("127.0.0.1.", "loopback"),
        ("[::1]", "loopback"),
        ("::ffff:127.0.0.1", "ipv4_mapped"),
        ("[::ffff:7f00:1]", "ipv4_mapped"),
        ("::ffff:169.254.169.254", "metadata"),
        ("169.254.169.254", "metadata"),
        ("2852039166", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("100.64.0.1", "not_global"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("64:ff9b::7f00:1", "nat64"),
        ("2002:7f00:1::", "tunnel"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "tunnel"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_non_public_addresses_are_refused(host: str, reason: str) -> None:
    ip = parse_ip(host)
    assert ip is not None
    assert refusal(ip) == reason


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_pass(host: str) -> None:
    ip = parse_ip(host)
    assert ip is not None
    assert refusal(ip) is None


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("::1", True),
        ("100.64.0.1", True),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("64:ff9b::a00:1", False),
    ],
)
def test_allow_private_opens_private_ranges_but_never_metadata(host: str, allowed: bool) -> None:
    ip = parse_ip(host)
    assert ip is not None
    assert (refusal(ip, allow_private=True) is None) is allowed


@pytest.mark.parametrize("host", ["example.com", "hooks.slack.com", "cafe.be", "1e100.net", "0x.example"])
def test_names_are_not_mistaken_for_ips(host: str) -> None:
    assert parse_ip(host) is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "http://u:p@example.com/", "http:///x", "gopher://example.com/"]
)
def test_static_url_checks(url: str) -> None:
    with pytest.raises(SsrfRefused):
        check_url(url)


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
