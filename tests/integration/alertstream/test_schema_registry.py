"""The codec's registry client (confluent-kafka's) against a Confluent-compatible registry on loopback:
credentials from their own settings, a private CA, ids cached, an outage distinct from a missing id."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from alertstream.schemas import codec as c
from alertstream.schemas.codec import Codec
from alertstream.schemas.errors import CodecError, SchemaRegistryUnavailable
from alertstream.schemas.registry import ConfluentSchemaRegistry
from tests.schema_registry_server import RegistryServer

pytestmark = pytest.mark.integration

RECORD = {
    "event_id": "e",
    "tenant": "t",
    "metric": "cpu_percent",
    "value": 1.0,
    "source": "s",
    "labels": {},
    "occurred_at": 5,
}
USER, PASSWORD = "sr-user", "sr-pass-XXXXSECRET"  # test-only credentials
TOKEN = "sr-token-XXXXSECRET"


@pytest.fixture
def server() -> Iterator[RegistryServer]:
    registry = RegistryServer(basic=(USER, PASSWORD)).start()
    yield registry
    registry.stop()


def test_basic_auth_from_settings_and_ids_cached(server: RegistryServer) -> None:
    writer = Codec(ConfluentSchemaRegistry(server.url, username=USER, password=PASSWORD))
    first = writer.encode(c.METRIC_EVENT, RECORD, topic="events.metric")
    writer.encode(c.METRIC_EVENT, RECORD, topic="events.metric")  # cached: no second registration
    assert first[:5] == b"\x00\x00\x00\x00\x01"
    reader = Codec(ConfluentSchemaRegistry(server.url, username=USER, password=PASSWORD))
    assert reader.decode(first, c.METRIC_EVENT) == RECORD
    assert reader.decode(first, c.METRIC_EVENT) == RECORD  # cached: one GET
    assert [(m, p) for m, p, _ in server.requests] == [
        ("POST", "/subjects/events.metric-value/versions"),
        ("GET", "/schemas/ids/1"),
    ]
    assert all(auth.startswith("Basic ") for _, _, auth in server.requests)


def test_wrong_credentials_are_an_outage_not_an_unknown_schema(server: RegistryServer) -> None:
    data = Codec(ConfluentSchemaRegistry(server.url, username=USER, password=PASSWORD)).encode(
        c.METRIC_EVENT, RECORD, topic="events.metric"
    )
    for client in (ConfluentSchemaRegistry(server.url), ConfluentSchemaRegistry(server.url, username=USER)):
        with pytest.raises(SchemaRegistryUnavailable) as err:
            Codec(client).decode(data, c.METRIC_EVENT)
        assert err.value.detail == "lookup of schema id 1: HTTP 401, registry error code 40101"


def test_an_outage_then_the_same_ids_again_and_a_real_404(server: RegistryServer) -> None:
    writer = Codec(ConfluentSchemaRegistry(server.url, username=USER, password=PASSWORD))
    data = writer.encode(c.METRIC_EVENT, RECORD, topic="events.metric")
    reader = Codec(ConfluentSchemaRegistry(server.url, username=USER, password=PASSWORD))
    server.stop()
    with pytest.raises(SchemaRegistryUnavailable) as err:
        reader.decode(data, c.METRIC_EVENT)
    assert err.value.detail == "lookup of schema id 1: ConnectError"
    assert "127.0.0.1" not in str(err.value), "no URL in the error (it ends up in logs)"
    server.start()  # same port, same ids
    assert reader.decode(data, c.METRIC_EVENT) == RECORD
    with pytest.raises(CodecError) as missing:
        reader.decode(b"\x00\x00\x00\x00\x09" + data[5:], c.METRIC_EVENT)
    assert missing.value.reason == "unknown_schema"
    assert "127.0.0.1" not in missing.value.detail


def test_bearer_token_over_https_with_a_private_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = RegistryServer(bearer=TOKEN, tls=tls).start()
    try:
        writer = Codec(ConfluentSchemaRegistry(server.url, bearer_token=TOKEN, ca_file=str(ca_file)))
        data = writer.encode(c.METRIC_EVENT, RECORD, topic="events.metric")
        reader = Codec(ConfluentSchemaRegistry(server.url, bearer_token=TOKEN, ca_file=str(ca_file)))
        assert reader.decode(data, c.METRIC_EVENT) == RECORD
        assert {auth for _, _, auth in server.requests} == {f"Bearer {TOKEN}"}
        # without the private CA the certificate is not trusted: unavailable (fix the settings), never invalid
        untrusting = Codec(ConfluentSchemaRegistry(server.url, bearer_token=TOKEN))
        with pytest.raises(SchemaRegistryUnavailable) as err:
            untrusting.decode(data, c.METRIC_EVENT)
        assert err.value.detail == "lookup of schema id 1: ConnectError"
    finally:
        server.stop()


def test_the_client_never_shows_its_credentials() -> None:
    client = ConfluentSchemaRegistry("http://127.0.0.1:1", username=USER, password=PASSWORD, bearer_token=None)
    assert PASSWORD not in repr(client)
    assert PASSWORD not in repr(Codec(client).registry)
