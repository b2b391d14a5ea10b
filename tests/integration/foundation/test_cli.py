"""`alertstream topics create` and `alertstream config validate` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alertstream.local_stack import StackInfo

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
    assert first.stdout.startswith("created 26 topics, 0 already existed")
    assert f"  + {topic_prefix}alerts.webhook.retry.4\n" in first.stdout
    second = _run("topics", "create", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "created 0 topics, 26 already existed"


def test_config_validate_names_file_path_and_problem(tmp_path: Path) -> None:
    ok = _run("config", "validate", str(Path(__file__).resolve().parents[3] / "schemas" / "example-config.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert ": ok (version" in ok.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  partitions: many\n")
    done = _run("config", "validate", str(bad))
    assert done.returncode == 1
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
    assert done.returncode == 1
    assert "ALERTSTREAM_KAFKA_BOOTSTRAP is not set" in done.stderr
