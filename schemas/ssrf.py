"""The SSRF address policy: which receiver URLs and addresses a delivery may connect to.

It lives in the contract layer because two places must apply the *same* rule: ``config validate``
and the receiver model (:mod:`alertstream.schemas.receivers_config`) refuse at load what can be
refused statically, and the HTTP channels (:mod:`alertstream.consumers.http`) refuse it again at
send time, then resolve the host and check *every* A/AAAA answer with :func:`refusal` before
connecting to exactly those addresses.

Pure classification (:func:`refusal`) over :mod:`ipaddress` objects, the parsing of every
spelling of an IP a URL host can carry (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``[::1]``,
``::ffff:127.0.0.1``), and the names that need no lookup to be refused (``localhost`` and
``*.localhost``; cloud metadata names such as ``metadata.google.internal``). Default deny: only
globally routable unicast addresses pass, unless a receiver sets ``allow_private`` — which opens
loopback (names included), private, link-local and shared ranges but never cloud metadata
endpoints, unspecified, multicast or reserved addresses, nor credentials in the URL.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud metadata endpoints: refused even with ``allow_private``.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.169.123", "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23")
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_6TO4 = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")
#: Host names of cloud metadata services (GCP, AWS): refused even with ``allow_private``.
METADATA_NAMES = frozenset(
    ("metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal")
)
#: Names that always mean this machine (RFC 6761 reserves ``localhost`` and ``*.localhost``).
LOOPBACK_NAMES = frozenset(("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"))
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)

#: Bounded refusal reasons (also a metric/DLQ label via ``ssrf_refused``).
REASONS = (
    "metadata",
    "unspecified",
    "multicast",
    "loopback",
    "private",
    "link_local",
    "reserved",
    "ipv4_mapped",
    "nat64",
    "tunnel",
    "not_global",
)


class SsrfRefused(OSError):
    """A target address that policy forbids. An OSError so aiohttp's resolver path carries it."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"ssrf_refused ({reason}){': ' + detail if detail else ''}")


def parse_ip(host: str) -> IPAddress | None:
    """The address a URL host denotes when it is an IP in *any* spelling, else None (a name)."""
    h = host.strip().rstrip(".") if not host.startswith("[") else host.strip()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    h = h.split("%", 1)[0]  # zone id
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if _LEGACY_V4.match(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))  # decimal, octal, hex, short forms
        except OSError:
            return None
    return None


def refusal(ip: IPAddress, allow_private: bool = False) -> str | None:
    """Why ``ip`` must not be contacted (a reason from :data:`REASONS`), or None when it may be."""
    if ip in METADATA:
        return "metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            inner = refusal(ip.ipv4_mapped, allow_private)
            return inner if inner in ("metadata", "unspecified", "multicast") else (inner and "ipv4_mapped")
        if any(ip in n for n in _NAT64):
            return "nat64"
        if ip in _6TO4 or ip in _TEREDO:
            return "tunnel"
        if ip.sixtofour is not None or ip.teredo is not None:
            return "tunnel"
    if ip.is_loopback:
        return None if allow_private else "loopback"
    if ip.is_reserved:  # before is_private: 240.0.0.0/4 counts as "private" too
        return "reserved"
    if ip.is_link_local:
        return None if allow_private else "link_local"
    if ip.is_private:
        return None if allow_private else "private"
    if not ip.is_global:
        return None if allow_private and isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED else "not_global"
    return None


_SHARED = ipaddress.ip_network("100.64.0.0/10")


def check_url(url: str) -> tuple[str, str, int]:
    """Static checks on a URL: http(s), a host, no credentials. Returns (scheme, host, port)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SsrfRefused("reserved", "only http and https URLs")
    if parts.username is not None or parts.password is not None:
        raise SsrfRefused("reserved", "credentials in the URL")
    host = parts.hostname
    if not host:
        raise SsrfRefused("reserved", "no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise SsrfRefused("reserved", "bad port") from None
    return scheme, host, port


def name_refusal(host: str, allow_private: bool = False) -> str | None:
    """Why the host *name* ``host`` is refused before any lookup, or None (resolve and check it)."""
    name = host.strip().rstrip(".").lower()
    if name in METADATA_NAMES:
        return "metadata"
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return None if allow_private else "loopback"
    return None


def check_ip(ip: IPAddress, allow_private: bool) -> None:
    reason = refusal(ip, allow_private)
    if reason is not None:
        raise SsrfRefused(reason, str(ip))


@functools.lru_cache(maxsize=4096)
def static_refusal(url: str, allow_private: bool) -> str | None:
    """Why ``url`` is refused before any lookup (scheme, credentials, an IP host in any spelling,
    a loopback or metadata name), or None when it may be resolved and checked further. Config
    validation and every send use this one function. Cached: receivers' URLs repeat."""
    try:
        _, host, _ = check_url(url)
    except SsrfRefused as exc:
        return exc.reason
    literal = parse_ip(host)
    if literal is not None:
        return refusal(literal, allow_private)
    return name_refusal(host, allow_private)


def url_problem(url: str, allow_private: bool) -> str | None:
    """:func:`static_refusal` as a sentence for a config error (never echoing the URL, which may
    carry a token), saying whether ``allow_private`` would open it; None when the URL passes."""
    reason = static_refusal(url, allow_private)
    if reason is None:
        return None
    try:
        check_url(url)
    except SsrfRefused as exc:
        reason = exc.detail or exc.reason  # "credentials in the URL", "no host", ...
    hint = "never allowed" if static_refusal(url, True) is not None else "allow_private: true opens it"
    return f"refused by the SSRF policy ({reason}): {hint}"
