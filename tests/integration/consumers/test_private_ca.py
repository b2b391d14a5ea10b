"""HTTPS receivers behind a private certificate authority, through both HTTP clients (pyreqwest,
the channels' default, and aiohttp): a certificate the trust store does not vouch for is refused
with a reason that says so (``tls_error``, retryable: the receiver's operator can fix it), and once
the authority is in the trust store the process is given (``SSL_CERT_FILE``, the one both clients
read, or the system store) the same receiver gets the notification. A real TLS server on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from alertstream.consumers.channels import build_channel
from alertstream.consumers.model import tasks_for
from alertstream.schemas.errors import RetryableDeliveryError
from tests.integration.consumers.helpers import Receiver, config_with, make_alert

pytestmark = pytest.mark.integration
TRANSPORTS = ["reqwest", "aiohttp"]


@dataclass(frozen=True)
class PrivateCa:
    ca: trustme.CA
    #: the system's trust store plus this CA, as an operator would install it
    bundle: Path


@pytest.fixture
def private_ca(tmp_path: Path) -> PrivateCa:
    ca = trustme.CA()
    system = Path(ssl.get_default_verify_paths().openssl_cafile)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(system.read_bytes() + b"\n" + ca.cert_pem.bytes())
    return PrivateCa(ca, bundle)


@pytest.fixture
async def tls_receiver(private_ca: PrivateCa) -> AsyncIterator[Receiver]:
    """A receiver serving HTTPS with a certificate of the private CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    private_ca.ca.issue_cert("127.0.0.1").configure_cert(context)
    receiver = Receiver(ssl_context=context)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


async def _send(receiver: Receiver, transport: str) -> None:
    url = receiver.url("/hook")
    config = config_with([{"name": "internal", "channel": "webhook", "url": url, "allow_private": True}])
    channel = build_channel("webhook", config, transport)
    (task,) = tasks_for(make_alert([("internal", "webhook")]), "webhook")
    try:
        await channel.send(task)
    finally:
        await channel.aclose()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_untrusted_certificate_is_a_tls_error_and_a_trusted_private_ca_delivers(
    tls_receiver: Receiver, private_ca: PrivateCa, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RetryableDeliveryError) as refused:
        await _send(tls_receiver, transport)
    assert refused.value.reason == "tls_error"
    assert "certificate" in str(refused.value)
    assert "127.0.0.1" not in str(refused.value)  # the URL is not in the reason (it can hold a secret)
    assert tls_receiver.hits == []

    monkeypatch.setenv("SSL_CERT_FILE", str(private_ca.bundle))
    await _send(tls_receiver, transport)
    assert [h.path for h in tls_receiver.hits] == ["/hook"]
