"""`alertstream topics create`, `config validate` and `config publish` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alertstream.local_stack import StackInfo
from tests.kafka_reader import read_topic

pytestmark = pytest.mark.integration


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alertstream", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def test_topics_create_is_idempotent(stack: StackInfo, topic_prefix: str) -> None:
    env = {"ALERTSTREAM_KAFKA_BOOTSTRAP": stack.bootstrap, "ALERTSTREAM_TOPIC_PREFIX": topic_prefix}
    first = _run("topics", "create", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created 32 topics, 0 already existed")
    assert f"  + {topic_prefix}alerts.webhook.retry.4\n" in first.stdout
    second = _run("topics", "create", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "created 0 topics, 32 already existed"


def test_config_validate_names_file_path_and_problem(tmp_path: Path) -> None:
    ok = _run("config", "validate", str(Path(__file__).resolve().parents[3] / "schemas" / "example-config.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert ": ok (version" in ok.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  partitions: many\n")
    done = _run("config", "validate", str(bad))
    assert done.returncode == 2  # a configuration error (README: exit codes)
    assert done.stderr.strip() == (
        f"{bad}: topics.partitions: Input should be a valid integer, unable to parse string as an integer"
    )


def test_process_without_broker_says_what_to_set() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTSTREAM_")}
    done = subprocess.run(
        [sys.executable, "-m", "alertstream", "topics", "create"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2  # a setting missing is a configuration error
    assert "ALERTSTREAM_KAFKA_BOOTSTRAP is not set" in done.stderr


def test_config_publish_only_moves_versions_forward(stack: StackInfo, topic_prefix: str, tmp_path: Path) -> None:
    env = {"ALERTSTREAM_KAFKA_BOOTSTRAP": stack.bootstrap, "ALERTSTREAM_TOPIC_PREFIX": topic_prefix}
    assert _run("topics", "create", env=env).returncode == 0

    def config(version: int) -> Path:
        f = tmp_path / f"v{version}.yaml"
        f.write_text(f"version: {version}\nrules:\n  - {{id: cpu, metric: cpu_percent, warning: {60 + version}}}\n")
        return f

    first = _run("config", "publish", str(config(2)), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{config(2)}: published version 2 (was none)"
    for stale in (1, 2):
        refused = _run("config", "publish", str(config(stale)), env=env)
        assert refused.returncode == 1
        assert f"version: {stale} is not newer than version 2 in force: bump it to publish" in refused.stderr
    newer = _run("config", "publish", str(config(3)), env=env)
    assert newer.stdout.strip() == f"{config(3)}: published version 3 (was 2)"
    # what is on the topic: exactly the two accepted documents, in order
    docs = read_topic(stack.bootstrap, f"{topic_prefix}alertstream.config", 2)
    assert [json.loads(m.value)["version"] for m in docs] == [2, 3]


def test_config_validate_checks_url_env_values_that_are_set(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "receivers:\n"
        "  - {name: ok, channel: webhook, url: 'https://hooks.example.com/a'}\n"
        "  - {name: s, channel: slack, url_env: T_SLACK_URL}\n"
    )
    unset = _run("config", "validate", str(config), env={"T_SLACK_URL": ""})
    assert unset.returncode == 0, unset.stderr
    fine = _run("config", "validate", str(config), env={"T_SLACK_URL": "https://hooks.slack.com/services/T/B/X"})
    assert fine.returncode == 0, fine.stderr
    hostile = _run("config", "validate", str(config), env={"T_SLACK_URL": "http://0x7f000001:8080/?t=XXXXSECRET"})
    assert hostile.returncode == 2
    assert hostile.stderr.strip() == (
        f"{config}: receivers[1].url_env: T_SLACK_URL: refused by the SSRF policy (loopback): "
        "allow_private: true opens it"
    )
