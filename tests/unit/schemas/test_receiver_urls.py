"""`config validate` refuses receiver URLs with the same SSRF rule delivery applies."""

from __future__ import annotations

from typing import Any

import pytest

from alertstream.schemas.config import parse_config
from alertstream.schemas.errors import ConfigError
from tests.ssrf_cases import always_refused, hostile_urls

PORT = 8080
HOSTILE = hostile_urls(PORT)


def _parse(url: str, **extra: Any) -> Any:
    return parse_config({"receivers": [{"name": "r", "channel": "webhook", "url": url, **extra}]}, "f.yaml")


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        _parse(url)
    assert len(err.value.problems) == 1
    path, problem = err.value.problems[0]
    assert path == "receivers[0].url"
    assert "refused by the SSRF policy" in problem


def test_every_hostile_url_is_refused() -> None:
    """The count the issue reported (most hostile URLs validated): now none does."""
    passed = []
    for url in HOSTILE:
        try:
            _parse(url)
            passed.append(url)
        except ConfigError:
            pass
    assert passed == []


@pytest.mark.parametrize("url", HOSTILE)
def test_allow_private_opens_private_targets_but_never_metadata(url: str) -> None:
    if url in always_refused(PORT):
        with pytest.raises(ConfigError) as err:
            _parse(url, allow_private=True)
        assert err.value.problems[0][0] == "receivers[0].url"
    else:
        assert _parse(url, allow_private=True).receivers[0].url == url


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/a", "https://8.8.8.8/hook", "http://[2606:4700:4700::1111]/x", "https://cafe.be"]
)
def test_public_urls_pass(url: str) -> None:
    assert _parse(url).receivers[0].url == url


def test_the_problem_does_not_echo_the_url() -> None:
    """A URL can carry a token in its path; the error names the receiver and the reason only."""
    with pytest.raises(ConfigError) as err:
        _parse("http://127.0.0.1/hooks/T000/B000/XXXXSECRET")
    assert "XXXXSECRET" not in str(err.value)
    assert "(loopback)" in str(err.value)


def test_url_env_values_are_checked_with_the_same_rule() -> None:
    from alertstream.schemas.receivers_config import url_env_problems

    config = parse_config(
        {
            "receivers": [
                {"name": "ok", "channel": "slack", "url_env": "OK_URL"},
                {"name": "meta", "channel": "slack", "url_env": "META_URL", "allow_private": True},
                {"name": "unset", "channel": "slack", "url_env": "UNSET_URL"},
                {"name": "local", "channel": "webhook", "url_env": "LOCAL_URL"},
            ]
        },
        "f.yaml",
    )
    env = {
        "OK_URL": "https://hooks.slack.com/services/T/B/X",
        "META_URL": "http://169.254.169.254/latest/",
        "LOCAL_URL": "http://localhost:9/",
    }
    assert url_env_problems(config.receivers, env) == [
        ("receivers[1].url_env", "META_URL: refused by the SSRF policy (metadata): never allowed"),
        ("receivers[3].url_env", "LOCAL_URL: refused by the SSRF policy (loopback): allow_private: true opens it"),
    ]
