"""E-mail against a real SMTP server (aiosmtpd): no header injection, recipients validated, auth."""

from __future__ import annotations

import contextlib
import email
import email.policy
import ssl
from pathlib import Path
from typing import Any

import psutil
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alertstream.consumers.channels import build_channel
from alertstream.consumers.model import tasks_for
from alertstream.local_stack import free_port
from alertstream.schemas.errors import PermanentDeliveryError
from tests.email_cases import EXPECTED_HEADERS, INJECTIONS
from tests.integration.consumers.helpers import config_with, make_alert

pytestmark = pytest.mark.integration


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"alerts" and data.password == b"s3cret-pw"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(tmp_path: Path) -> Any:
    """aiosmtpd requiring STARTTLS (a test CA's certificate for 127.0.0.1) and then AUTH."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    sink = Sink()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_auth,
        auth_required=True,
        tls_context=context,
        require_starttls=True,
    )
    controller.start()
    yield sink, controller.port, str(ca_file)
    controller.stop()


def _receiver(server: Any, to: list[str], **over: Any) -> dict[str, Any]:
    _, port, ca = server
    smtp = {"host": "127.0.0.1", "port": port, "starttls": True, "ca_file": ca}
    return {
        "name": "mail",
        "channel": "email",
        "smtp": {**smtp, "username": "alerts", "password_env": "T_PW"},
        "from": "alertstream@example.com",
        "to": to,
        "subject_template": "[$severity] $summary / $rule_id / $tenant / $entity / $fingerprint / $status",
        **over,
    }


async def test_injection_in_every_templated_field_adds_no_header(smtp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = smtp[0]
    monkeypatch.setenv("T_PW", "s3cret-pw")
    to = ["ops@example.com", "oncall@example.org"]
    channel = build_channel("email", config_with([_receiver(smtp, to)]))
    try:
        for payload in INJECTIONS:
            alert = make_alert(
                [("mail", "email")],
                summary=payload,
                rule_id=payload,
                tenant=payload,
                entity=payload,
                fingerprint=payload,
                details='{"k": "' + payload.replace("\\", "").replace('"', "").encode("unicode_escape").decode() + '"}',
            )
            (task,) = tasks_for(alert, "email")
            assert await channel.send(task) == 250
    finally:
        await channel.aclose()
    assert len(sink.messages) == len(INJECTIONS)
    for mail_from, rcpts, raw in sink.messages:
        assert mail_from == "alertstream@example.com"
        assert rcpts == to, "no recipient smuggled into the envelope"
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        names = {k.lower() for k in msg}
        assert names == EXPECTED_HEADERS, names - EXPECTED_HEADERS
        subject = str(msg["Subject"])
        assert "\n" not in subject
        assert "\r" not in subject
        assert "evil.example" not in str(msg["To"])
        assert msg.get_all("To") is not None
        assert len(msg.get_all("To") or []) == 1


@pytest.mark.parametrize(
    ("to", "needle"),
    [
        (["valid@example.com", "invalid-email", "another@example.com"], "recipient 1"),
        ([f"user{i}@example.com" for i in range(51)], "51 recipients > limit 50"),
        (["ops@example.com\r\nBcc: attacker@evil.example"], "recipient 0"),
        (["a@b@example.com"], "recipient 0"),
        (["ops@example.com, attacker@evil.example"], "recipient 0"),
    ],
)
async def test_bad_recipient_lists_are_rejected_clearly(
    smtp: Any, monkeypatch: pytest.MonkeyPatch, to: list[str], needle: str
) -> None:
    sink = smtp[0]
    monkeypatch.setenv("T_PW", "s3cret-pw")
    channel = build_channel("email", config_with([_receiver(smtp, to)]))
    (task,) = tasks_for(make_alert([("mail", "email")]), "email")
    with pytest.raises(PermanentDeliveryError) as err:
        await channel.send(task)
    assert err.value.reason == "bad_recipient"
    assert needle in str(err.value)
    assert sink.messages == []


async def test_wrong_smtp_password_is_a_permanent_failure(smtp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = smtp[0]
    monkeypatch.setenv("T_PW", "wrong")
    channel = build_channel("email", config_with([_receiver(smtp, ["ops@example.com"])]))
    (task,) = tasks_for(make_alert([("mail", "email")]), "email")
    with pytest.raises(PermanentDeliveryError) as err:
        await channel.send(task)
    assert err.value.reason == "smtp_permanent"
    assert "wrong" not in str(err.value)
    assert sink.messages == []


def _sockets_to(port: int) -> list[Any]:
    return [c for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port]


@pytest.mark.parametrize("password", ["s3cret-pw", "wrong"])
async def test_the_session_socket_is_released_when_send_returns(
    smtp: Any, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    """A deliver process stopping right after a delivery (or a test's loop ending) leaks nothing:
    the TLS session's socket is closed before send() returns, after success and after failure."""
    port = smtp[1]
    monkeypatch.setenv("T_PW", password)
    channel = build_channel("email", config_with([_receiver(smtp, ["ops@example.com"])]))
    (task,) = tasks_for(make_alert([("mail", "email")]), "email")
    with contextlib.suppress(PermanentDeliveryError):
        await channel.send(task)
    assert _sockets_to(port) == []


class RefusingSink(Sink):
    """Refuses RCPT for every address that starts with ``nobody``."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_partly_refused_recipients_are_sent_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two of three recipients took the mail: it is sent (a retry would mail those two again), with
    the server's own reply code, and the refusal is visible: a note on the result, a metric, a log."""
    from prometheus_client import REGISTRY

    from alertstream.consumers.channels import Delivered

    sink = RefusingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        receiver = {
            "name": "partial",
            "channel": "email",
            "smtp": {"host": "127.0.0.1", "port": controller.port, "starttls": False},
            "from": "alertstream@example.com",
            "to": ["ops@example.com", "nobody@example.com", "oncall@example.org"],
        }
        channel = build_channel("email", config_with([receiver]))
        (task,) = tasks_for(make_alert([("partial", "email")]), "email")
        metric = "alertstream_email_recipients_refused_total"
        before = REGISTRY.get_sample_value(metric, {"receiver": "partial"}) or 0.0
        result = await channel.send(task)
    finally:
        controller.stop()
    assert isinstance(result, Delivered)
    assert result.status == 250
    assert result.note == "recipients_refused"
    assert result.detail == "1 of 3 recipients refused"
    assert (REGISTRY.get_sample_value(metric, {"receiver": "partial"}) or 0.0) - before == 1
    assert [rcpts for _, rcpts, _ in sink.messages] == [["ops@example.com", "oncall@example.org"]]
