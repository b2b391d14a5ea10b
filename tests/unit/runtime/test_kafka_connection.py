"""The Kafka connection settings: one map of librdkafka properties, mapped to both client libraries.

No local broker supports SASL with users that can be created (tansu 0.6 has SCRAM, but only with a
storage engine this build lacks: with memory storage and authentication on, no user can ever be
created), so SASL is proven here, on the mapping: the librdkafka property names every
confluent-kafka client gets and the aiokafka / Faust ``broker_credentials`` the worker gets. TLS is
proven end to end (tests/integration/alertstream/test_secured_kafka.py).
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import faust
import pytest
import trustme

from alertstream.runtime import kafka_clients
from alertstream.runtime.kafka_connection import KafkaConnection, read_properties_file
from alertstream.runtime.kafka_oauth import ClientCredentialsTokenProvider
from alertstream.runtime.settings import Settings
from alertstream.streams.faust_connection import broker_settings


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(autouse=True)
def _plaintext_after() -> object:
    yield None
    kafka_clients.use_connection(KafkaConnection())


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"ALERTSTREAM_{name}", value)
    return Settings()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_user_password_reaches_both_clients(
    monkeypatch: pytest.MonkeyPatch, ca_file: Path, mechanism: str
) -> None:
    conn = _settings(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM=mechanism,
        KAFKA_SASL_USERNAME="alice",
        KAFKA_SASL_PASSWORD="hunter2-kafka",
        KAFKA_SSL_CA_FILE=str(ca_file),
    ).kafka_connection()
    assert conn.librdkafka() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": "alice",
        "sasl.password": "hunter2-kafka",
        "ssl.ca.location": str(ca_file),
    }
    credentials = broker_settings(conn)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("alice", "hunter2-kafka")
    assert credentials.mechanism.value == mechanism
    assert credentials.protocol.value == "SASL_SSL"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert credentials.ssl_context.check_hostname
    assert "hunter2-kafka" not in repr(conn)
    assert "hunter2-kafka" not in repr(credentials)


def test_every_confluent_config_carries_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _settings(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="u",
        KAFKA_SASL_PASSWORD="p",
        KAFKA_PROPERTIES=json.dumps({"socket.keepalive.enable": "true", "session.timeout.ms": "45000"}),
    ).kafka_connection()
    kafka_clients.use_connection(conn)
    for config in (
        kafka_clients.producer_config("k:9092"),
        kafka_clients.consumer_config("k:9092", "g", **{"session.timeout.ms": 7000}),
        kafka_clients.admin_config("k:9092"),
    ):
        assert config["security.protocol"] == "SASL_PLAINTEXT"
        assert config["sasl.mechanism"] == "SCRAM-SHA-512"
        assert config["socket.keepalive.enable"] == "true"
        assert config["logger"] is kafka_clients.KAFKA_LOGGER  # librdkafka's lines go to Python logging
    # the passthrough replaces a shared default; what a call site sets for its client wins
    assert kafka_clients.producer_config("k:9092")["acks"] == "all"
    assert kafka_clients.consumer_config("k:9092", "g")["session.timeout.ms"] == "45000"
    assert kafka_clients.consumer_config("k:9092", "g", **{"session.timeout.ms": 7000})["session.timeout.ms"] == 7000
    assert broker_settings(conn)["broker_credentials"].protocol.value == "SASL_PLAINTEXT"


def test_oauthbearer_is_oidc_for_librdkafka_and_a_token_provider_for_aiokafka(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _settings(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="OAUTHBEARER",
        KAFKA_SASL_OAUTH_TOKEN_URL="https://idp.example/oauth2/token",
        KAFKA_SASL_OAUTH_CLIENT_ID="alertstream",
        KAFKA_SASL_OAUTH_CLIENT_SECRET="hunter2-oidc",
        KAFKA_SASL_OAUTH_SCOPE="kafka",
    ).kafka_connection()
    assert conn.librdkafka() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.token.endpoint.url": "https://idp.example/oauth2/token",
        "sasl.oauthbearer.client.id": "alertstream",
        "sasl.oauthbearer.client.secret": "hunter2-oidc",
        "sasl.oauthbearer.scope": "kafka",
    }
    credentials = broker_settings(conn)["broker_credentials"]
    assert isinstance(credentials, faust.OAuthCredentials)
    provider = credentials.oauth_cb
    assert isinstance(provider, ClientCredentialsTokenProvider)
    assert (provider.url, provider.client_id, provider.scope) == (
        "https://idp.example/oauth2/token",
        "alertstream",
        "kafka",
    )
    assert "hunter2-oidc" not in repr(conn) + repr(provider)


def test_ssl_only_and_mutual_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client = ca.issue_cert("alertstream")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "c.key"))
    conn = KafkaConnection.build(
        "test",
        {
            "security.protocol": "SSL",
            "ssl.ca.location": str(tmp_path / "ca.pem"),
            "ssl.certificate.location": str(tmp_path / "c.pem"),
            "ssl.key.location": str(tmp_path / "c.key"),
            "ssl.endpoint.identification.algorithm": "none",
        },
    )
    credentials = broker_settings(conn)["broker_credentials"]
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.check_hostname is False
    assert broker_settings(KafkaConnection()) == {}  # PLAINTEXT: Faust's defaults


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        ({"security.protocol": "TLS"}, "security.protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ({"security.protocol": "SASL_SSL"}, "sasl.mechanism is required with security.protocol=SASL_SSL"),
        ({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}, "sasl.mechanism must be one of"),
        (
            {"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "u"},
            "sasl.password is required with sasl.mechanism=PLAIN",
        ),
        ({"sasl.username": "u"}, "sasl.username need security.protocol SASL_PLAINTEXT or SASL_SSL"),
        ({"ssl.ca.location": "/nonexistent/ca.pem"}, "ssl.ca.location need security.protocol SSL or SASL_SSL"),
        ({"security.protocol": "SSL", "ssl.ca.location": "/nonexistent/ca.pem"}, "no such file /nonexistent/ca.pem"),
        ({"group.id": "x"}, "group.id cannot be set here"),
        (
            {"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"},
            "sasl.oauthbearer.client.id is required with sasl.mechanism=OAUTHBEARER",
        ),
    ],
)
def test_bad_connections_are_refused_naming_the_property(props: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=r"^test: ") as info:
        KafkaConnection.build("test", props)
    assert problem in str(info.value)


def test_a_client_properties_file_and_secret_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    props = tmp_path / "client.properties"
    props.write_text(
        "# Confluent Cloud's file, as downloaded\n"
        "bootstrap.servers=pkc-1.example.cloud:9092\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanisms=PLAIN\n"
        "sasl.username=KEY\n"
        "session.timeout.ms=45000\n"
    )
    secret = tmp_path / "password"
    secret.write_text("hunter2-file\n")
    s = _settings(
        monkeypatch,
        KAFKA_BOOTSTRAP="pkc-1.example.cloud:9092",
        KAFKA_PROPERTIES_FILE=str(props),
        KAFKA_SASL_PASSWORD_FILE=str(secret),
    )
    assert s.kafka_connection().librdkafka() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "KEY",
        "sasl.password": "hunter2-file",
        "session.timeout.ms": "45000",
    }
    assert "hunter2-file" not in repr(s) + repr(s.kafka_connection())
    assert read_properties_file(str(props))["sasl.mechanisms"] == "PLAIN"


def test_conflicts_are_errors_not_guesses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    props = tmp_path / "client.properties"
    props.write_text("bootstrap.servers=elsewhere:9092\nsecurity.protocol=SSL\n")
    s = _settings(
        monkeypatch,
        KAFKA_BOOTSTRAP="here:9092",
        KAFKA_PROPERTIES_FILE=str(props),
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
    )
    with pytest.raises(ValueError, match="KAFKA_PROPERTIES_FILE lists") as info:
        s.kafka_connection()
    assert "lists bootstrap.servers=elsewhere:9092" in str(info.value)
    assert (
        "security.protocol is set by both ALERTSTREAM_KAFKA_PROPERTIES_FILE and ALERTSTREAM_KAFKA_SECURITY_PROTOCOL"
        in str(info.value)
    )
    monkeypatch.setenv("ALERTSTREAM_KAFKA_SASL_PASSWORD", "a")
    monkeypatch.setenv("ALERTSTREAM_KAFKA_SASL_PASSWORD_FILE", str(props))
    with pytest.raises(ValueError, match="set ALERTSTREAM_KAFKA_SASL_PASSWORD or ALERTSTREAM_KAFKA_SASL_PASSWORD_FILE"):
        Settings()
