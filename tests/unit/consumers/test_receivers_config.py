from __future__ import annotations

from typing import Any

import pytest

from alertstream.consumers.receivers import ReceiverBook
from alertstream.schemas.config import load_config, parse_config
from alertstream.schemas.errors import ConfigError, PermanentDeliveryError, RetryableDeliveryError


def parse(receivers: list[dict[str, Any]], version: int = 1) -> Any:
    return parse_config({"version": version, "receivers": receivers}, "f.yaml")


def task(receiver: str, routed_under: int = 1) -> dict[str, Any]:
    return {"receiver": receiver, "alert": {"rule_version": routed_under}}


def test_example_config_has_a_receiver_per_channel() -> None:
    config = load_config(None)
    assert {r.channel for r in config.receivers} == {"webhook", "slack", "pagerduty", "email"}


@pytest.mark.parametrize(
    ("receiver", "problem"),
    [
        ({"name": "w", "channel": "webhook"}, "needs url or url_env"),
        ({"name": "w", "channel": "webhook", "url": "ftp://x"}, "http:// or https://"),
        ({"name": "p", "channel": "pagerduty"}, "needs routing_key_env"),
        ({"name": "e", "channel": "email", "to": ["a@b.com"]}, "needs smtp, from and to"),
        ({"name": "e", "channel": "email", "url": "https://x", "to": ["a@b.com"]}, "url not used by an email"),
        ({"name": "s", "channel": "slack", "url": "https://x", "to": ["a@b.com"]}, "to not used by a slack"),
        ({"name": "s", "channel": "slack", "url": "https://x", "secret_env": ["S"]}, "for webhook receivers"),
        ({"name": "w", "channel": "webhook", "url": "https://x", "secret": "whsec_abc"}, "Extra inputs"),
    ],
)
def test_invalid_receivers_name_the_path_and_problem(receiver: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse([receiver])
    assert "f.yaml: receivers[0]" in str(err.value)
    assert problem in str(err.value)


def test_missing_secret_makes_only_that_receiver_unusable(monkeypatch: pytest.MonkeyPatch) -> None:
    # the Standard Webhooks spec's published example secret: test-only
    monkeypatch.setenv("GOOD_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    monkeypatch.delenv("MISSING_SECRET", raising=False)
    config = parse(
        [
            {"name": "good", "channel": "webhook", "url": "https://x.example", "secret_env": ["GOOD_SECRET"]},
            {"name": "bad", "channel": "webhook", "url": "https://y.example", "secret_env": ["MISSING_SECRET"]},
        ]
    )
    book = ReceiverBook(config.receivers, "webhook", config.version)
    good = book.for_task(task("good"))
    assert len(good.signing) == 1
    assert "MfKQ" not in repr(good)
    with pytest.raises(PermanentDeliveryError) as err:
        book.for_task(task("bad"))
    assert err.value.reason == "missing_secret"
    with pytest.raises(PermanentDeliveryError) as err:
        book.for_task(task("nobody"))
    assert err.value.reason == "unknown_receiver"


def test_slack_url_from_env_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_URL", "https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    config = parse([{"name": "s", "channel": "slack", "url_env": "SLACK_URL"}])
    r = ReceiverBook(config.receivers, "slack", config.version).for_task(task("s"))
    assert r.url is not None
    assert r.url.reveal().endswith("XXXXSECRET")
    assert "XXXXSECRET" not in repr(r)
    assert "XXXXSECRET" not in str(r.url)


def test_a_receiver_added_by_a_newer_config_is_retried_until_the_book_has_it() -> None:
    v1 = parse([{"name": "old", "channel": "webhook", "url": "https://x.example"}], version=1)
    v2 = parse(
        [
            {"name": "old", "channel": "webhook", "url": "https://x.example"},
            {"name": "new", "channel": "webhook", "url": "https://y.example"},
        ],
        version=2,
    )
    book = ReceiverBook(v1.receivers, "webhook", v1.version)
    # routed under version 2, which this process has not seen yet: retry, do not dead-letter
    with pytest.raises(RetryableDeliveryError) as retry:
        book.for_task(task("new", routed_under=2))
    assert retry.value.reason == "config_behind"
    # routed under a version this process has: the name really is unknown
    with pytest.raises(PermanentDeliveryError) as gone:
        book.for_task(task("new", routed_under=1))
    assert gone.value.reason == "unknown_receiver"

    book.replace(v2.receivers, v2.version)
    assert book.version == 2
    assert book.names() == ["new", "old"]
    r = book.for_task(task("new", routed_under=2))
    assert r.url is not None
    assert r.url.reveal() == "https://y.example"


def test_a_receiver_removed_by_a_newer_config_is_permanent() -> None:
    v1 = parse([{"name": "gone", "channel": "webhook", "url": "https://x.example"}], version=1)
    book = ReceiverBook(v1.receivers, "webhook", v1.version)
    book.replace([], 2)
    with pytest.raises(PermanentDeliveryError) as err:
        book.for_task(task("gone", routed_under=1))
    assert err.value.reason == "unknown_receiver"


def test_a_url_env_value_the_ssrf_policy_refuses_makes_the_receiver_unusable_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The variable is read when the deliver process resolves its receivers: a hostile value is
    reported there (and in `config validate`), and every task to it is a permanent ssrf_refused."""
    monkeypatch.setenv("HOSTILE_URL", "http://metadata.google.internal/computeMetadata/v1/?token=XXXXSECRET")
    monkeypatch.setenv("FINE_URL", "https://hooks.slack.com/services/T/B/X")
    config = parse(
        [
            {"name": "hostile", "channel": "slack", "url_env": "HOSTILE_URL", "allow_private": True},
            {"name": "fine", "channel": "slack", "url_env": "FINE_URL"},
        ]
    )
    book = ReceiverBook(config.receivers, "slack", config.version)
    with pytest.raises(PermanentDeliveryError) as err:
        book.for_task(task("hostile"))
    assert err.value.reason == "ssrf_refused"
    assert err.value.detail == "HOSTILE_URL: refused by the SSRF policy (metadata): never allowed"
    assert "XXXXSECRET" not in str(err.value)
    assert book.for_task(task("fine")).url is not None
