"""`alertstream api-keys create|list|revoke` and `alertstream api` as an operator runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from alertstream.local_stack import StackInfo, free_port
from tests.integration.consumers.helpers import schema_dsn

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alertstream", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_api_keys_are_created_listed_revoked_audited_and_hashed_at_rest(stack: StackInfo) -> None:
    dsn = schema_dsn(stack.database_url)
    env = {"ALERTSTREAM_DATABASE_URL": dsn}
    made = _run(env, "api-keys", "create", "--tenant", "acme", "--name", "grafana")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("ask_")
    assert "not shown again" in made.stderr
    admin = _run(env, "api-keys", "create", "--admin", "--name", "ops")
    assert admin.returncode == 0, admin.stderr
    assert _run(env, "api-keys", "create", "--name", "neither").returncode == 2
    assert _run(env, "api-keys", "create", "--admin", "--tenant", "acme", "--name", "both").returncode == 2
    assert _run(env, "api-keys", "create", "--tenant", "bad tenant!", "--name", "x").returncode == 2

    listed = [json.loads(line) for line in _run(env, "api-keys", "list").stdout.splitlines()]
    assert [(k["scope"], k["tenant"], k["name"], k["revoked_at"]) for k in listed] == [
        ("tenant", "acme", "grafana", None),
        ("admin", None, "ops", None),
    ]
    key_id = listed[0]["key_id"]
    assert key_id in key
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT * FROM api_keys").fetchall()
        audit = conn.execute("SELECT action, actor, tenant, details->>'key_id' FROM audit_log ORDER BY id").fetchall()
    secret = key.split("_", 2)[2]  # the whole secret: it may hold "_" itself (URL-safe base64)
    assert len(secret) == 43
    assert not any(key in str(row) or secret in str(row) for row in stored), "only the digest is kept"

    revoked = _run(env, "api-keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert _run(env, "api-keys", "revoke", key_id).returncode == 1, "already revoked"
    after = [json.loads(line) for line in _run(env, "api-keys", "list").stdout.splitlines()]
    assert after[0]["revoked_at"] is not None
    with psycopg.connect(dsn) as conn:
        audit = conn.execute("SELECT action, actor, tenant, details->>'key_id' FROM audit_log ORDER BY id").fetchall()
    assert [(a[0], a[2], a[3]) for a in audit] == [
        ("api_key_created", "acme", key_id),
        ("api_key_created", None, listed[1]["key_id"]),
        ("api_key_revoked", "acme", key_id),
    ]
    assert all(a[1].startswith("cli:") for a in audit)


def test_alertstream_api_serves_and_stops_on_sigterm(stack: StackInfo, tmp_path: Path) -> None:
    dsn = schema_dsn(stack.database_url)
    port = free_port()
    env = {
        **os.environ,
        "ALERTSTREAM_DATABASE_URL": dsn,
        "ALERTSTREAM_API_HOST": "127.0.0.1",
        "ALERTSTREAM_API_PORT": str(port),
    }
    key = _run(env, "api-keys", "create", "--tenant", "acme", "--name", "t").stdout.strip()
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "alertstream", "api"], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready is not None, log.read_text()
        assert ready.json() == {"status": "ready"}
        page = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts", headers={"X-API-Key": key})
        assert page.json() == {"items": [], "next_cursor": None}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, log.read_text()
