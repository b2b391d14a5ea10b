"""The SSRF address policy (pure): every spelling of an IP, the ranges, names refused without a lookup."""

from __future__ import annotations

import pytest

from alertstream.schemas.ssrf import SsrfRefused, check_url, name_refusal, parse_ip, refusal, static_refusal


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


@pytest.mark.parametrize(
    ("host", "strict", "permissive"),
    [
        ("localhost", "loopback", None),
        ("LocalHost.", "loopback", None),
        ("api.localhost", "loopback", None),
        ("metadata.google.internal", "metadata", "metadata"),
        ("METADATA.GOOGLE.INTERNAL.", "metadata", "metadata"),
        ("metadata.goog", "metadata", "metadata"),
        ("instance-data.ec2.internal", "metadata", "metadata"),
        ("example.com", None, None),
        ("localhost.example.com", None, None),
        ("notmetadata.google.internal.example", None, None),
    ],
)
def test_names_refused_without_a_lookup(host: str, strict: str | None, permissive: str | None) -> None:
    assert name_refusal(host) == strict
    assert name_refusal(host, allow_private=True) == permissive
    assert static_refusal(f"https://{host}/x", False) == strict
